# EventBridge can only deliver to log groups under /aws/events/, and only when a resource policy lets it.
module "log_group" {
  source = "../log_group"

  names             = { job_state = "/aws/events/${var.name_prefix}-batch-job-state" }
  retention_in_days = var.log_retention_days
  kms_key_arn       = var.logs_kms_key_arn
  tags              = var.tags
}

# The group used to be created here; existing state moves into the shared module instead of being replaced.
moved {
  from = aws_cloudwatch_log_group.this
  to   = module.log_group.aws_cloudwatch_log_group.this["job_state"]
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "EventBridgeWritesJobStates"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.log_group.arns["job_state"]}:*"]

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
