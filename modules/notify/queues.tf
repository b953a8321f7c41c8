# Completion messages land in the notifications queue; a message received maxReceiveCount times without
# being deleted moves to the DLQ. Failure messages land in their own queue so operators and tests can read them.
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
