# The outputs of docs/contracts.md, the only thing live tests and the farm CLI read.

output "artifacts_bucket" {
  description = "Pipeline artifacts bucket."
  value       = module.stack.artifacts_bucket
}

output "completion_topic_arn" {
  description = "Topic receiving one completion message per successful run."
  value       = module.stack.completion_topic_arn
}

output "compute_environment_arns" {
  description = "Batch compute environments behind the job queue."
  value       = module.stack.compute_environment_arns
}

output "ecr_repository_url" {
  description = "Repository to push the worker image to."
  value       = module.stack.ecr_repository_url
}

output "efs_access_point_id" {
  description = "Access point jobs mount the scratch file system through."
  value       = module.stack.efs_access_point_id
}

output "efs_file_system_id" {
  description = "Scratch file system shared by every child of a run."
  value       = module.stack.efs_file_system_id
}

output "endpoint_url" {
  description = "Endpoint of the local cloud every client is aimed at."
  value       = var.endpoint_url
}

output "events_log_group_name" {
  description = "Log group capturing every Batch job state change of the queue."
  value       = module.stack.events_log_group_name
}

output "events_queue_url" {
  description = "SQS queue capturing every Batch job state change of the queue."
  value       = module.stack.events_queue_url
}

output "events_rule_name" {
  description = "EventBridge rule matching the queue's Batch job state changes."
  value       = module.stack.events_rule_name
}

output "failure_queue_url" {
  description = "Queue subscribed to the failure topic."
  value       = module.stack.failure_queue_url
}

output "failure_topic_arn" {
  description = "Topic receiving one failure message per failed run."
  value       = module.stack.failure_topic_arn
}

output "job_definition_arn" {
  description = "Job definition running the render worker."
  value       = module.stack.job_definition_arn
}

output "job_queue_arn" {
  description = "Job queue render jobs are submitted to."
  value       = module.stack.job_queue_arn
}

output "kms_key_arns" {
  description = "Customer-managed key ARN per family: storage, scratch, logs, messaging, functions, registry."
  value       = module.stack.kms_key_arns
}

output "lambda_function_names" {
  description = "Function names: validate_input, publish_results."
  value       = module.stack.lambda_function_names
}

output "notifications_dlq_url" {
  description = "Dead-letter queue behind the notifications queue."
  value       = module.stack.notifications_dlq_url
}

output "notifications_queue_url" {
  description = "Queue subscribed to the completion topic."
  value       = module.stack.notifications_queue_url
}

output "region" {
  description = "Region the stack is deployed in."
  value       = module.stack.region
}

output "renders_bucket" {
  description = "Bucket the renders, part records, manifests and galleries are written to."
  value       = module.stack.renders_bucket
}

output "scratch_mount_path" {
  description = "Where jobs mount the scratch file system (SCRATCH_DIR)."
  value       = module.stack.scratch_mount_path
}

output "specs_bucket" {
  description = "Bucket catalog specs are submitted to."
  value       = module.stack.specs_bucket
}

output "state_machine_arn" {
  description = "State machine running validate -> render -> publish -> notify."
  value       = module.stack.state_machine_arn
}

output "test_hooks_enabled" {
  description = "Whether the job definition sets FARM_TEST_HOOKS=1 (true only in envs/local)."
  value       = module.stack.test_hooks_enabled
}
