# Completion messages land in the notifications queue, failure messages in the failure queue; in either, a message
# received max_receive_count times without being deleted moves to that queue's DLQ. A message SNS cannot deliver
# to its queue at all (the queue gone, its policy or key refusing SNS) moves to the subscription's delivery DLQ:
# nothing the workflow publishes is lost.
resource "aws_sqs_queue" "notifications_dlq" {
  name                              = "${var.name_prefix}-notifications-dlq"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds
  message_retention_seconds         = 1209600
  tags                              = merge(var.tags, { Name = "${var.name_prefix}-notifications-dlq" })
}

resource "aws_sqs_queue" "notifications" {
  name                              = "${var.name_prefix}-notifications"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds
  message_retention_seconds         = var.message_retention_seconds
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  tags                              = merge(var.tags, { Name = "${var.name_prefix}-notifications" })
}

# Separate resources keep the redrive JSON out of aws_sqs_queue, so both queues can be created in parallel.
resource "aws_sqs_queue_redrive_policy" "notifications" {
  queue_url = aws_sqs_queue.notifications.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.notifications_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

resource "aws_sqs_queue" "failure" {
  name                              = "${var.name_prefix}-failures"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds
  message_retention_seconds         = 1209600
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  tags                              = merge(var.tags, { Name = "${var.name_prefix}-failures" })
}

resource "aws_sqs_queue" "failure_dlq" {
  name                              = "${var.name_prefix}-failures-dlq"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds
  message_retention_seconds         = 1209600
  tags                              = merge(var.tags, { Name = "${var.name_prefix}-failures-dlq" })
}

resource "aws_sqs_queue_redrive_policy" "failure" {
  queue_url = aws_sqs_queue.failure.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.failure_dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# The subscriptions' dead-letter queues (SNS redrive policy): what SNS could not deliver to the notifications or
# failure queue, kept 14 days. SNS itself sends into them, so each admits its own topic (policies.tf).
resource "aws_sqs_queue" "delivery_dlq" {
  for_each = aws_sns_topic.this

  name                              = "${var.name_prefix}-${each.key}-delivery-dlq"
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_data_key_reuse_period_seconds
  message_retention_seconds         = 1209600
  tags                              = merge(var.tags, { Name = "${var.name_prefix}-${each.key}-delivery-dlq" })
}
