# The notify module against the local cloud: the defaults as planned, then the topic and queue policies as
# applied (they are computed from the ARNs, unknown at plan), the redrives to the queues' DLQs and the
# subscriptions' delivery DLQs, encryption and the raw subscriptions; then max_receive_count planned against the
# applied state; then every validation.
#
# Policy statements are compared as maps by Sid with Action and Resource sorted: the provider renders those lists
# in set-hash order, so the comparison is exact about their contents and indifferent to their order.
variables {
  kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
  name_prefix         = "tt-notify"
  publisher_role_arns = ["arn:aws:iam::123456789012:role/tt-notify-workflow"]
}

# Planned before anything exists: the defaults of the optional inputs. (Against the local cloud the data key
# reuse period can only be seen on create: moto reports SqsManagedSseEnabled=true beside a KMS key, so the
# provider drops later changes of it from the plan.)
run "plans_defaults" {
  command = plan

  assert {
    condition = (
      aws_sqs_queue.notifications.message_retention_seconds == 345600 && aws_sqs_queue.notifications.visibility_timeout_seconds == 30 &&
      aws_sqs_queue.failure.message_retention_seconds == 1209600 && aws_sqs_queue.failure.visibility_timeout_seconds == 30 &&
      alltrue([for q in concat([aws_sqs_queue.notifications_dlq, aws_sqs_queue.failure_dlq], values(aws_sqs_queue.delivery_dlq)) : q.message_retention_seconds == 1209600])
    )
    error_message = "defaults: notifications kept 4 days, failures and dead letters 14 days, visibility 30 s"
  }

  assert {
    condition     = alltrue([for q in concat([aws_sqs_queue.notifications, aws_sqs_queue.failure, aws_sqs_queue.notifications_dlq, aws_sqs_queue.failure_dlq], values(aws_sqs_queue.delivery_dlq)) : q.kms_data_key_reuse_period_seconds == 300 && q.kms_master_key_id == var.kms_key_arn])
    error_message = "defaults: every queue (the four dead-letter queues too) encrypted with the key, data keys reused for 300 s"
  }

  assert {
    condition     = keys(aws_sqs_queue.delivery_dlq) == ["completion", "failure"] && [for k, q in aws_sqs_queue.delivery_dlq : q.name] == ["tt-notify-completion-delivery-dlq", "tt-notify-failure-delivery-dlq"]
    error_message = "one delivery DLQ per subscription: <name_prefix>-completion-delivery-dlq and <name_prefix>-failure-delivery-dlq"
  }

  assert {
    condition     = aws_sqs_queue.notifications.tags == tomap({ Name = "tt-notify-notifications" }) && aws_sns_topic.this["completion"].tags == tomap({ Name = "tt-notify-completion" })
    error_message = "defaults: no tags beside each resource's Name"
  }
}

run "applies" {
  command = apply

  variables {
    kms_data_key_reuse_period_seconds = 600
    message_retention_seconds         = 86400
    visibility_timeout_seconds        = 45
    tags                              = { Owner = "tt-notify" }
  }

  # --- queue policies: each queue admits SendMessage from its own topic only, and nothing without TLS ---------
  assert {
    condition = {
      for s in jsondecode(aws_sqs_queue_policy.notifications.policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      TopicDelivers = {
        Sid       = "TopicDelivers"
        Effect    = "Allow"
        Action    = sort(["sqs:SendMessage"])
        Resource  = sort([aws_sqs_queue.notifications.arn])
        Principal = { Service = "sns.amazonaws.com" }
        Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.this["completion"].arn } }
      }
      DenyInsecureTransport = {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Action    = sort(["sqs:*"])
        Resource  = sort([aws_sqs_queue.notifications.arn])
        Principal = "*"
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    }
    error_message = "the notifications queue admits SendMessage from the completion topic only, and denies every request without TLS"
  }

  assert {
    condition = {
      for s in jsondecode(aws_sqs_queue_policy.failure.policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      TopicDelivers = {
        Sid       = "TopicDelivers"
        Effect    = "Allow"
        Action    = sort(["sqs:SendMessage"])
        Resource  = sort([aws_sqs_queue.failure.arn])
        Principal = { Service = "sns.amazonaws.com" }
        Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.this["failure"].arn } }
      }
      DenyInsecureTransport = {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Action    = sort(["sqs:*"])
        Resource  = sort([aws_sqs_queue.failure.arn])
        Principal = "*"
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    }
    error_message = "the failure queue admits SendMessage from the failure topic only, and denies every request without TLS"
  }

  assert {
    condition = alltrue([for k, q in aws_sqs_queue.delivery_dlq : {
      for s in jsondecode(aws_sqs_queue_policy.delivery_dlq[k].policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      TopicRedrivesUndeliverable = {
        Sid       = "TopicRedrivesUndeliverable"
        Effect    = "Allow"
        Action    = sort(["sqs:SendMessage"])
        Resource  = sort([q.arn])
        Principal = { Service = "sns.amazonaws.com" }
        Condition = { ArnEquals = { "aws:SourceArn" = aws_sns_topic.this[k].arn } }
      }
      DenyInsecureTransport = {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Action    = sort(["sqs:*"])
        Resource  = sort([q.arn])
        Principal = "*"
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    }]) && length(aws_sqs_queue_policy.delivery_dlq) == 2
    error_message = "each delivery DLQ admits SendMessage from its own topic only (SNS moves undeliverable messages there as the topic), and denies every request without TLS"
  }

  assert {
    condition = (
      aws_sqs_queue_policy.notifications.queue_url == aws_sqs_queue.notifications.id && aws_sqs_queue_policy.failure.queue_url == aws_sqs_queue.failure.id &&
      alltrue([for k, q in aws_sqs_queue.delivery_dlq : aws_sqs_queue_policy.delivery_dlq[k].queue_url == q.id])
    )
    error_message = "each queue policy is attached to its own queue"
  }

  # --- topic policies: publishes from the declared publisher roles only (by ARN, not the account), over TLS -------
  assert {
    condition = alltrue([for k, t in aws_sns_topic.this : {
      for s in jsondecode(aws_sns_topic_policy.this[k].policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      PublishersPublish = {
        Sid       = "PublishersPublish"
        Effect    = "Allow"
        Action    = sort(["sns:Publish"])
        Resource  = sort([t.arn])
        Principal = { AWS = "arn:aws:iam::123456789012:role/tt-notify-workflow" }
      }
      DenyInsecureTransport = {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Action    = sort(["sns:Publish"])
        Resource  = sort([t.arn])
        Principal = "*"
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    }])
    error_message = "each topic admits sns:Publish from the publisher role by ARN only (no account-wide principal), and denies publishes without TLS"
  }

  assert {
    condition     = alltrue([for k, t in aws_sns_topic.this : aws_sns_topic_policy.this[k].arn == t.arn])
    error_message = "each topic policy is attached to its own topic"
  }

  assert {
    condition     = aws_sns_topic.this["completion"].name == "tt-notify-completion" && aws_sns_topic.this["failure"].name == "tt-notify-failure"
    error_message = "the topics are <name_prefix>-completion and <name_prefix>-failure"
  }

  # --- redrive: each queue moves a message to its DLQ after max_receive_count receives ---------------------------
  assert {
    condition = jsondecode(aws_sqs_queue_redrive_policy.notifications.redrive_policy) == {
      deadLetterTargetArn = aws_sqs_queue.notifications_dlq.arn
      maxReceiveCount     = 3
    }
    error_message = "the notifications queue redrives to its DLQ after max_receive_count (default 3) receives"
  }

  assert {
    condition = jsondecode(aws_sqs_queue_redrive_policy.failure.redrive_policy) == {
      deadLetterTargetArn = aws_sqs_queue.failure_dlq.arn
      maxReceiveCount     = 3
    }
    error_message = "the failure queue redrives to its own DLQ after max_receive_count (default 3) receives"
  }

  assert {
    condition = (
      aws_sqs_queue_redrive_policy.notifications.queue_url == aws_sqs_queue.notifications.id &&
      aws_sqs_queue_redrive_policy.failure.queue_url == aws_sqs_queue.failure.id &&
      alltrue([for q in concat([aws_sqs_queue.notifications_dlq, aws_sqs_queue.failure_dlq], values(aws_sqs_queue.delivery_dlq)) : q.redrive_policy == ""])
    )
    error_message = "each redrive is attached to its own queue; the dead-letter queues themselves redrive nowhere"
  }

  # --- subscriptions: what SNS cannot deliver goes to the subscription's delivery DLQ ----------------------------
  assert {
    condition = [
      jsondecode(aws_sns_topic_subscription.completion.redrive_policy),
      jsondecode(aws_sns_topic_subscription.failure.redrive_policy),
      ] == [
      { deadLetterTargetArn = aws_sqs_queue.delivery_dlq["completion"].arn },
      { deadLetterTargetArn = aws_sqs_queue.delivery_dlq["failure"].arn },
    ]
    error_message = "each subscription redrives what SNS cannot deliver to its own delivery DLQ"
  }

  # --- encryption, retention, visibility -----------------------------------------------------------------------
  assert {
    condition = alltrue(concat(
      [for t in aws_sns_topic.this : t.kms_master_key_id == var.kms_key_arn],
      [for q in concat([aws_sqs_queue.notifications, aws_sqs_queue.failure, aws_sqs_queue.notifications_dlq, aws_sqs_queue.failure_dlq], values(aws_sqs_queue.delivery_dlq)) :
      q.kms_master_key_id == var.kms_key_arn && q.kms_data_key_reuse_period_seconds == 600],
    ))
    error_message = "both topics and all six queues are encrypted with the given key, data keys reused for kms_data_key_reuse_period_seconds"
  }

  assert {
    condition = (
      aws_sqs_queue.notifications.message_retention_seconds == 86400 && aws_sqs_queue.notifications.visibility_timeout_seconds == 45 &&
      aws_sqs_queue.failure.message_retention_seconds == 1209600 && aws_sqs_queue.failure.visibility_timeout_seconds == 45 &&
      alltrue([for q in concat([aws_sqs_queue.notifications_dlq, aws_sqs_queue.failure_dlq], values(aws_sqs_queue.delivery_dlq)) : q.message_retention_seconds == 1209600])
    )
    error_message = "message_retention_seconds applies to the notifications queue only (failures and dead letters keep 14 days), visibility_timeout_seconds to the notifications and failure queues"
  }

  # --- raw delivery from each topic into its queue ---------------------------------------------------------------
  assert {
    condition = (
      aws_sns_topic_subscription.completion.topic_arn == aws_sns_topic.this["completion"].arn &&
      aws_sns_topic_subscription.completion.endpoint == aws_sqs_queue.notifications.arn &&
      aws_sns_topic_subscription.failure.topic_arn == aws_sns_topic.this["failure"].arn &&
      aws_sns_topic_subscription.failure.endpoint == aws_sqs_queue.failure.arn &&
      alltrue([for s in [aws_sns_topic_subscription.completion, aws_sns_topic_subscription.failure] : s.protocol == "sqs" && s.raw_message_delivery])
    )
    error_message = "completion -> notifications queue and failure -> failure queue, both sqs with raw message delivery"
  }

  # --- names, tags, outputs -----------------------------------------------------------------------------------------
  assert {
    condition = (
      aws_sqs_queue.notifications.name == "tt-notify-notifications" && aws_sqs_queue.failure.name == "tt-notify-failures" &&
      aws_sqs_queue.notifications_dlq.name == "tt-notify-notifications-dlq" && aws_sqs_queue.failure_dlq.name == "tt-notify-failures-dlq" &&
      aws_sqs_queue.notifications_dlq.tags == tomap({ Owner = "tt-notify", Name = "tt-notify-notifications-dlq" }) &&
      aws_sqs_queue.failure_dlq.tags == tomap({ Owner = "tt-notify", Name = "tt-notify-failures-dlq" }) &&
      aws_sqs_queue.delivery_dlq["completion"].tags == tomap({ Owner = "tt-notify", Name = "tt-notify-completion-delivery-dlq" }) &&
      aws_sns_topic.this["failure"].tags == tomap({ Owner = "tt-notify", Name = "tt-notify-failure" })
    )
    error_message = "topics and queues are named from name_prefix; tags are added to each beside its Name"
  }

  assert {
    condition = (
      output.completion_topic_arn == aws_sns_topic.this["completion"].arn && output.failure_topic_arn == aws_sns_topic.this["failure"].arn &&
      output.notifications_queue_arn == aws_sqs_queue.notifications.arn && output.notifications_queue_url == aws_sqs_queue.notifications.id &&
      output.failure_queue_arn == aws_sqs_queue.failure.arn && output.failure_queue_url == aws_sqs_queue.failure.id &&
      output.notifications_dlq_arn == aws_sqs_queue.notifications_dlq.arn && output.notifications_dlq_url == aws_sqs_queue.notifications_dlq.id &&
      output.failure_dlq_arn == aws_sqs_queue.failure_dlq.arn && output.failure_dlq_url == aws_sqs_queue.failure_dlq.id &&
      output.completion_delivery_dlq_arn == aws_sqs_queue.delivery_dlq["completion"].arn && output.completion_delivery_dlq_url == aws_sqs_queue.delivery_dlq["completion"].id &&
      output.failure_delivery_dlq_arn == aws_sqs_queue.delivery_dlq["failure"].arn && output.failure_delivery_dlq_url == aws_sqs_queue.delivery_dlq["failure"].id
    )
    error_message = "the outputs name the topics and queues (the four dead-letter queues too)"
  }
}

# max_receive_count, planned against the applied state (the DLQ exists, so the redrive JSON is known).
run "max_receive_count_reaches_the_redrive" {
  command = plan

  variables {
    kms_data_key_reuse_period_seconds = 600
    max_receive_count                 = 7
    message_retention_seconds         = 86400
    visibility_timeout_seconds        = 45
    tags                              = { Owner = "tt-notify" }
  }

  assert {
    condition = [
      jsondecode(aws_sqs_queue_redrive_policy.notifications.redrive_policy),
      jsondecode(aws_sqs_queue_redrive_policy.failure.redrive_policy),
      ] == [
      { deadLetterTargetArn = aws_sqs_queue.notifications_dlq.arn, maxReceiveCount = 7 },
      { deadLetterTargetArn = aws_sqs_queue.failure_dlq.arn, maxReceiveCount = 7 },
    ]
    error_message = "max_receive_count sets both redrives' maxReceiveCount"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    kms_data_key_reuse_period_seconds = 30
    kms_key_arn                       = "alias/messaging"
    max_receive_count                 = 0
    message_retention_seconds         = 30
    name_prefix                       = "TT_notify"
    publisher_role_arns               = ["arn:aws:iam::123456789012:user/someone"]
    visibility_timeout_seconds        = 43201
  }

  expect_failures = [
    var.kms_data_key_reuse_period_seconds,
    var.kms_key_arn,
    var.max_receive_count,
    var.message_retention_seconds,
    var.name_prefix,
    var.publisher_role_arns,
    var.visibility_timeout_seconds,
  ]
}
