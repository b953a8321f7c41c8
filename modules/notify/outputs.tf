output "completion_delivery_dlq_arn" {
  description = "ARN of the completion subscription's dead-letter queue (what SNS could not deliver to the notifications queue)."
  value       = aws_sqs_queue.delivery_dlq["completion"].arn
}

output "completion_delivery_dlq_url" {
  description = "URL of the completion subscription's dead-letter queue (what SNS could not deliver to the notifications queue)."
  value       = aws_sqs_queue.delivery_dlq["completion"].id
}

output "completion_topic_arn" {
  description = "ARN of the topic the workflow publishes completion messages to."
  value       = aws_sns_topic.this["completion"].arn
}

output "failure_delivery_dlq_arn" {
  description = "ARN of the failure subscription's dead-letter queue (what SNS could not deliver to the failure queue)."
  value       = aws_sqs_queue.delivery_dlq["failure"].arn
}

output "failure_delivery_dlq_url" {
  description = "URL of the failure subscription's dead-letter queue (what SNS could not deliver to the failure queue)."
  value       = aws_sqs_queue.delivery_dlq["failure"].id
}

output "failure_dlq_arn" {
  description = "ARN of the failure queue's dead-letter queue (messages received max_receive_count times without deletion)."
  value       = aws_sqs_queue.failure_dlq.arn
}

output "failure_dlq_url" {
  description = "URL of the failure queue's dead-letter queue (messages received max_receive_count times without deletion)."
  value       = aws_sqs_queue.failure_dlq.id
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
