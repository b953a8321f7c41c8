# Every log group of the stack: encrypted with the logs key and kept for a retention CloudWatch Logs accepts.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is the retention_in_days input, chosen per environment (short for local stacks).
  for_each = var.names

  name              = each.value
  retention_in_days = var.retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}
