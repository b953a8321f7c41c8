output "log_group_name" {
  description = "Log group receiving every job state change."
  value       = module.log_group.names["job_state"]
}

output "queue_arn" {
  description = "ARN of the SQS queue receiving every job state change."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the SQS queue receiving every job state change."
  value       = aws_sqs_queue.this.id
}

output "rule_arn" {
  description = "ARN of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.this.arn
}

output "rule_name" {
  description = "Name of the EventBridge rule."
  value       = aws_cloudwatch_event_rule.this.name
}
