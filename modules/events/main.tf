# Every state change of a job in our queues, kept twice: in CloudWatch Logs for people, in SQS for tests and tools.
resource "aws_cloudwatch_event_rule" "this" {
  name        = "${var.name_prefix}-batch-job-state"
  description = "Batch Job State Change events of the render job queues"
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = {
      jobQueue = var.job_queue_arns
    }
  })
  tags = merge(var.tags, { Name = "${var.name_prefix}-batch-job-state" })
}

resource "aws_cloudwatch_event_target" "logs" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "logs"
  arn       = module.log_group.arns["job_state"]

  depends_on = [aws_cloudwatch_log_resource_policy.this]
}

resource "aws_cloudwatch_event_target" "queue" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "queue"
  arn       = aws_sqs_queue.this.arn

  depends_on = [aws_sqs_queue_policy.this]
}
