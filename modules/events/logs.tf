# EventBridge can only deliver to log groups under /aws/events/, and only when a resource policy lets it.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:retention is chosen per environment through var.log_retention_days
  name              = "/aws/events/${var.name_prefix}-batch-job-state"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "EventBridgeWritesJobStates"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this.arn]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "this" {
  policy_name     = "${var.name_prefix}-events-to-logs"
  policy_document = data.aws_iam_policy_document.logs.json
}
