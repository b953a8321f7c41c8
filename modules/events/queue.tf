resource "aws_sqs_queue" "this" {
  name                              = "${var.name_prefix}-batch-job-state"
  kms_master_key_id                 = var.messaging_kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = var.message_retention_seconds
  tags                              = merge(var.tags, { Name = "${var.name_prefix}-batch-job-state" })
}

# The DenyInsecureTransport statement of the queue policy, from the shared building block.
module "policy_statements" {
  source = "../policy_statements"

  deny_insecure_transport = {
    queue = { actions = ["sqs:*"], resources = [aws_sqs_queue.this.arn] }
  }
}

# Only our rule may send here (aws:SourceArn), and nothing over plain HTTP.
data "aws_iam_policy_document" "queue" {
  source_policy_documents = [module.policy_statements.deny_insecure_transport["queue"]]

  statement {
    sid       = "RuleDelivers"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.this.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue.json
}
