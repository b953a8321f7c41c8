# Raw delivery: the queue body is exactly the JSON message the workflow published, no SNS envelope. What SNS
# cannot deliver after its retries goes to the subscription's delivery DLQ (redrive_policy) instead of being lost.
resource "aws_sns_topic_subscription" "completion" {
  topic_arn            = aws_sns_topic.this["completion"].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.notifications.arn
  raw_message_delivery = true
  redrive_policy       = jsonencode({ deadLetterTargetArn = aws_sqs_queue.delivery_dlq["completion"].arn })

  depends_on = [aws_sqs_queue_policy.notifications, aws_sqs_queue_policy.delivery_dlq]
}

resource "aws_sns_topic_subscription" "failure" {
  topic_arn            = aws_sns_topic.this["failure"].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.failure.arn
  raw_message_delivery = true
  redrive_policy       = jsonencode({ deadLetterTargetArn = aws_sqs_queue.delivery_dlq["failure"].arn })

  depends_on = [aws_sqs_queue_policy.failure, aws_sqs_queue_policy.delivery_dlq]
}
