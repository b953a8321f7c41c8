output "completion_topic_arn" {
  description = "ARN of the topic the workflow publishes completion messages to."
  value       = aws_sns_topic.this["completion"].arn
}

output "failure_queue_arn" {
  description = "ARN of the queue subscribed to the failure topic."
  value       = aws_sqs_queue.failure.arn
}

output "failure_queue_url" {
  description = "URL of the queue subscribed to the failure topic."
  value       = aws_sqs_queue.failure.id
}

output "failure_topic_arn" {
  description = "ARN of the topic the workflow publishes failure messages to."
  value       = aws_sns_topic.this["failure"].arn
}

output "notifications_dlq_arn" {
  description = "ARN of the notifications dead-letter queue."
  value       = aws_sqs_queue.notifications_dlq.arn
}

output "notifications_dlq_url" {
  description = "URL of the notifications dead-letter queue."
  value       = aws_sqs_queue.notifications_dlq.id
}

output "notifications_queue_arn" {
  description = "ARN of the queue subscribed to the completion topic."
  value       = aws_sqs_queue.notifications.arn
}

output "notifications_queue_url" {
  description = "URL of the queue subscribed to the completion topic."
  value       = aws_sqs_queue.notifications.id
}
