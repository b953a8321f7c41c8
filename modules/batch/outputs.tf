output "compute_environment_arns" {
  description = "ARNs of the compute environments, in queue order (Fargate Spot, then Fargate)."
  value       = [for k in ["spot", "on_demand"] : aws_batch_compute_environment.this[k].arn]
}

output "execution_role_arn" {
  description = "ARN of the Fargate execution role (image pull, logs)."
  value       = aws_iam_role.execution.arn
}

output "job_definition_arn" {
  description = "ARN (with revision) of the worker job definition."
  value       = aws_batch_job_definition.this.arn
}

output "job_definition_name" {
  description = "Name of the worker job definition."
  value       = aws_batch_job_definition.this.name
}

output "job_queue_arn" {
  description = "ARN of the bulk job queue (the default one: render runs without a priority, clean-up jobs)."
  value       = aws_batch_job_queue.this["bulk"].arn
}

output "job_queue_arns" {
  description = "ARNs of the job queues by priority: bulk and urgent (placed first wherever both wait)."
  value       = { for k, q in aws_batch_job_queue.this : k => q.arn }
}

output "job_queue_name" {
  description = "Name of the bulk job queue."
  value       = aws_batch_job_queue.this["bulk"].name
}

output "job_queue_names" {
  description = "Names of the job queues by priority: bulk and urgent."
  value       = { for k, q in aws_batch_job_queue.this : k => q.name }
}

output "job_role_arn" {
  description = "ARN of the worker's job role."
  value       = aws_iam_role.job.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the worker containers."
  value       = module.log_group.names["worker"]
}

output "max_parallel_jobs" {
  description = "Jobs of worker_vcpu vCPUs the compute environments run at once: the sum over them of floor(max_vcpus / worker_vcpu) (the sizing model's max_parallel_children)."
  value       = sum([for ce in aws_batch_compute_environment.this : floor(ce.compute_resources[0].max_vcpus / var.worker_vcpu)])
}
