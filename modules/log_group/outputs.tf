output "arns" {
  description = "Per key, the log group's ARN (without the trailing :*)."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.arn }
}

output "names" {
  description = "Per key, the log group's name."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}
