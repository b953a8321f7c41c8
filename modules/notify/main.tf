# Two topics: the workflow publishes one completion or one failure message per run (schemas/notification).
resource "aws_sns_topic" "this" {
  for_each = toset(["completion", "failure"])

  name              = "${var.name_prefix}-${each.key}"
  kms_master_key_id = var.kms_key_arn
  tags              = merge(var.tags, { Name = "${var.name_prefix}-${each.key}" })
}
