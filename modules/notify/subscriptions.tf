# Raw delivery: the queue body is exactly the JSON message the workflow published, no SNS envelope.
resource "aws_sns_topic_subscription" "completion" {
  topic_arn            = aws_sns_topic.this["completion"].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.notifications.arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.notifications]
}

resource "aws_sns_topic_subscription" "failure" {
  topic_arn            = aws_sns_topic.this["failure"].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.failure.arn
  raw_message_delivery = true

  depends_on = [aws_sqs_queue_policy.failure]
}
