# Exactly the "Terraform outputs" of docs/contracts.md (endpoint_url is added by the env roots).
data "aws_region" "current" {}

output "artifacts_bucket" {
  description = "Pipeline artifacts bucket."
  value       = module.storage.artifacts_bucket
}

output "completion_topic_arn" {
  description = "Topic receiving one completion message per successful run."
  value       = module.notify.completion_topic_arn
}

output "compute_environment_arns" {
  description = "Batch compute environments behind the job queue."
  value       = module.batch.compute_environment_arns
}

output "ecr_repository_url" {
  description = "Repository to push the worker image to."
  value       = module.ecr.repository_url
}

output "efs_access_point_id" {
  description = "Access point jobs mount the scratch file system through."
  value       = module.efs.access_point_id
}

output "efs_file_system_id" {
  description = "Scratch file system shared by every child of a run."
  value       = module.efs.file_system_id
}

output "events_log_group_name" {
  description = "Log group capturing every Batch job state change of the queue."
  value       = module.events.log_group_name
}

output "events_queue_url" {
  description = "SQS queue capturing every Batch job state change of the queue."
  value       = module.events.queue_url
}

output "events_rule_name" {
  description = "EventBridge rule matching the queue's Batch job state changes."
  value       = module.events.rule_name
}

output "failure_queue_url" {
  description = "Queue subscribed to the failure topic."
  value       = module.notify.failure_queue_url
}

output "failure_topic_arn" {
  description = "Topic receiving one failure message per failed run."
  value       = module.notify.failure_topic_arn
}

output "job_definition_arn" {
  description = "Job definition running the render worker."
  value       = module.batch.job_definition_arn
}

output "job_queue_arn" {
  description = "Job queue render jobs are submitted to."
  value       = module.batch.job_queue_arn
}

output "kms_key_arns" {
  description = "Customer-managed key ARN per family: storage, scratch, logs, messaging, functions, registry."
  value       = module.kms.key_arns
}

output "lambda_function_names" {
  description = "Function names: validate_input, publish_results."
  value       = module.functions.function_names
}

output "notifications_dlq_url" {
  description = "Dead-letter queue behind the notifications queue."
  value       = module.notify.notifications_dlq_url
}

output "notifications_queue_url" {
  description = "Queue subscribed to the completion topic."
  value       = module.notify.notifications_queue_url
}

output "region" {
  description = "Region the stack is deployed in."
  value       = data.aws_region.current.name
}

output "renders_bucket" {
  description = "Bucket the renders, part records, manifests and galleries are written to."
  value       = module.storage.renders_bucket
}

output "scratch_mount_path" {
  description = "Where jobs mount the scratch file system (SCRATCH_DIR)."
  value       = var.scratch_mount_path
}

output "specs_bucket" {
  description = "Bucket catalog specs are submitted to."
  value       = module.storage.specs_bucket
}

output "state_machine_arn" {
  description = "State machine running validate -> render -> publish -> notify."
  value       = module.workflow.state_machine_arn
}

output "test_hooks_enabled" {
  description = "Whether the job definition sets FARM_TEST_HOOKS=1 (true only in envs/local)."
  value       = var.enable_test_hooks
}
