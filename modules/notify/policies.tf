locals {
  # Each queue SNS sends into and the one topic that may: the subscribed queues (deliveries), and the
  # subscriptions' delivery DLQs (SNS redrives an undeliverable message there as the topic).
  deliveries = {
    notifications = { queue_arn = aws_sqs_queue.notifications.arn, topic_arn = aws_sns_topic.this["completion"].arn }
    failure       = { queue_arn = aws_sqs_queue.failure.arn, topic_arn = aws_sns_topic.this["failure"].arn }
  }
  redrives = { for k, q in aws_sqs_queue.delivery_dlq : "${k}-delivery-dlq" => { queue_arn = q.arn, topic_arn = aws_sns_topic.this[k].arn } }
}

# The DenyInsecureTransport statement of every queue and topic policy, from the shared building block.
module "policy_statements" {
  source = "../policy_statements"

  deny_insecure_transport = merge(
    { for k, d in merge(local.deliveries, local.redrives) : "queue-${k}" => { actions = ["sqs:*"], resources = [d.queue_arn] } },
    { for k, t in aws_sns_topic.this : "topic-${k}" => { actions = ["sns:Publish"], resources = [t.arn] } },
  )
}

# Each queue admits SendMessage from its own topic only (aws:SourceArn), and nothing over plain HTTP.
data "aws_iam_policy_document" "queue" {
  for_each = local.deliveries

  source_policy_documents = [module.policy_statements.deny_insecure_transport["queue-${each.key}"]]

  statement {
    sid       = "TopicDelivers"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [each.value.topic_arn]
    }
  }
}

resource "aws_sqs_queue_policy" "notifications" {
  queue_url = aws_sqs_queue.notifications.id
  policy    = data.aws_iam_policy_document.queue["notifications"].json
}

resource "aws_sqs_queue_policy" "failure" {
  queue_url = aws_sqs_queue.failure.id
  policy    = data.aws_iam_policy_document.queue["failure"].json
}

# Each delivery DLQ admits SendMessage from its own topic only: SNS redrives there what it could not deliver.
data "aws_iam_policy_document" "delivery_dlq" {
  for_each = local.redrives

  source_policy_documents = [module.policy_statements.deny_insecure_transport["queue-${each.key}"]]

  statement {
    # iam-report: aws SNS: redrives a message it could not deliver to the subscribed queue (a failed delivery;
    # the local cloud drops and records a refused delivery instead of redriving it, localcloud/README.md).
    sid       = "TopicRedrivesUndeliverable"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.queue_arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [each.value.topic_arn]
    }
  }
}

resource "aws_sqs_queue_policy" "delivery_dlq" {
  for_each = aws_sqs_queue.delivery_dlq

  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.delivery_dlq["${each.key}-delivery-dlq"].json
}

# Topics accept publishes from the roles the stack declares (the workflow role) only, named by ARN, over TLS.
data "aws_iam_policy_document" "topic" {
  for_each = aws_sns_topic.this

  source_policy_documents = [module.policy_statements.deny_insecure_transport["topic-${each.key}"]]

  statement {
    sid       = "PublishersPublish"
    actions   = ["sns:Publish"]
    resources = [each.value.arn]

    principals {
      type        = "AWS"
      identifiers = var.publisher_role_arns
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  for_each = aws_sns_topic.this

  arn    = each.value.arn
  policy = data.aws_iam_policy_document.topic[each.key].json
}
