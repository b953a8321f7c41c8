# The events module against the local cloud: the rule's pattern, the queue policy and the log resource policy as
# applied (they are computed from the ARNs, unknown at plan), both targets, encryption of the queue and of the
# log group (read back from the cloud); then the defaults and another job queue, planned against the applied
# state; then every validation.
#
# Policy statements are compared as maps by Sid with the provider's set-ordered lists sorted: exact about their
# contents, indifferent to their order.
variables {
  job_queue_arns        = ["arn:aws:batch:us-east-1:123456789012:job-queue/tt-events-queue", "arn:aws:batch:us-east-1:123456789012:job-queue/tt-events-urgent"]
  logs_kms_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  messaging_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
  name_prefix           = "tt-events"
}

run "applies" {
  command = apply

  variables {
    log_retention_days        = 14
    message_retention_seconds = 86400
    tags                      = { Owner = "tt-events" }
  }

  # --- the rule: Batch Job State Change events of our job queue only --------------------------------------------
  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this.event_pattern) == {
      source        = ["aws.batch"]
      "detail-type" = ["Batch Job State Change"]
      detail        = { jobQueue = [for arn in var.job_queue_arns : arn] }
    }
    error_message = "the rule matches source aws.batch, detail-type Batch Job State Change, detail.jobQueue = our queues, nothing else"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.this.name == "tt-events-batch-job-state" && aws_cloudwatch_event_rule.this.state == "ENABLED"
    error_message = "the rule is <name_prefix>-batch-job-state and enabled"
  }

  # --- queue policy: only our rule may send, and nothing without TLS ---------------------------------------------
  assert {
    condition = {
      for s in jsondecode(aws_sqs_queue_policy.this.policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      RuleDelivers = {
        Sid       = "RuleDelivers"
        Effect    = "Allow"
        Action    = sort(["sqs:SendMessage"])
        Resource  = sort([aws_sqs_queue.this.arn])
        Principal = { Service = "events.amazonaws.com" }
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.this.arn } }
      }
      DenyInsecureTransport = {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Action    = sort(["sqs:*"])
        Resource  = sort([aws_sqs_queue.this.arn])
        Principal = "*"
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    }
    error_message = "the queue admits SendMessage from our rule only, and denies every request without TLS"
  }

  assert {
    condition     = aws_sqs_queue_policy.this.queue_url == aws_sqs_queue.this.id
    error_message = "the queue policy is attached to the capture queue"
  }

  # --- log resource policy: EventBridge may write streams of our group, for our rule only ------------------------
  assert {
    condition = [
      for s in jsondecode(aws_cloudwatch_log_resource_policy.this.policy_document).Statement :
      merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])), Principal = { Service = sort(flatten([s.Principal.Service])) } })
      ] == [{
        Sid       = "EventBridgeWritesJobStates"
        Effect    = "Allow"
        Action    = sort(["logs:CreateLogStream", "logs:PutLogEvents"])
        Resource  = sort(["${module.log_group.arns["job_state"]}:*"])
        Principal = { Service = sort(["delivery.logs.amazonaws.com", "events.amazonaws.com"]) }
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.this.arn } }
    }]
    error_message = "the log resource policy lets EventBridge create streams and put events in our log group only, for our rule only"
  }

  assert {
    condition     = aws_cloudwatch_log_resource_policy.this.policy_name == "tt-events-events-to-logs"
    error_message = "the log resource policy is <name_prefix>-events-to-logs"
  }

  # --- both targets ------------------------------------------------------------------------------------------------
  assert {
    condition = (
      aws_cloudwatch_event_target.logs.rule == aws_cloudwatch_event_rule.this.name && aws_cloudwatch_event_target.logs.target_id == "logs" &&
      aws_cloudwatch_event_target.logs.arn == module.log_group.arns["job_state"] &&
      aws_cloudwatch_event_target.queue.rule == aws_cloudwatch_event_rule.this.name && aws_cloudwatch_event_target.queue.target_id == "queue" &&
      aws_cloudwatch_event_target.queue.arn == aws_sqs_queue.this.arn
    )
    error_message = "the rule delivers to the log group (target logs) and to the capture queue (target queue)"
  }

  # --- the capture queue -------------------------------------------------------------------------------------------
  assert {
    condition = (
      aws_sqs_queue.this.name == "tt-events-batch-job-state" && aws_sqs_queue.this.kms_master_key_id == var.messaging_kms_key_arn &&
      aws_sqs_queue.this.kms_data_key_reuse_period_seconds == 300 && aws_sqs_queue.this.message_retention_seconds == 86400 &&
      aws_sqs_queue.this.tags == tomap({ Owner = "tt-events", Name = "tt-events-batch-job-state" })
    )
    error_message = "the capture queue is encrypted with the messaging key, keeps message_retention_seconds, carries the tags"
  }

  # --- the log group and the outputs -------------------------------------------------------------------------------
  assert {
    condition     = output.log_group_name == "/aws/events/tt-events-batch-job-state" && module.log_group.names["job_state"] == output.log_group_name
    error_message = "the log group is /aws/events/<name_prefix>-batch-job-state (EventBridge delivers under /aws/events/ only)"
  }

  assert {
    condition = (
      output.queue_arn == aws_sqs_queue.this.arn && output.queue_url == aws_sqs_queue.this.id &&
      output.rule_arn == aws_cloudwatch_event_rule.this.arn && output.rule_name == aws_cloudwatch_event_rule.this.name
    )
    error_message = "the outputs name the queue and the rule"
  }
}

# The log group as the cloud has it: encrypted with the logs key, kept log_retention_days, tagged.
run "log_group_in_the_cloud" {
  command = plan # a data source with known inputs is read at plan

  module {
    source = "../log_group/tests/read_back"
  }

  variables {
    log_group_names = { job_state = run.applies.log_group_name }
  }

  assert {
    condition = (
      output.log_groups["job_state"].kms_key_id == var.logs_kms_key_arn && output.log_groups["job_state"].retention_in_days == 14 &&
      output.log_groups["job_state"].tags == tomap({ Owner = "tt-events" })
    )
    error_message = "the job state log group is encrypted with the logs key, kept log_retention_days, tagged"
  }
}

# The defaults, and another job queue, planned against the applied state (all known at plan).
run "defaults_and_another_job_queue" {
  command = plan

  variables {
    job_queue_arns = ["arn:aws:batch:us-east-1:123456789012:job-queue/tt-events-other"]
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern).detail == { jobQueue = ["arn:aws:batch:us-east-1:123456789012:job-queue/tt-events-other"] }
    error_message = "the rule follows job_queue_arns"
  }

  assert {
    condition     = aws_sqs_queue.this.message_retention_seconds == 345600 && aws_sqs_queue.this.tags == tomap({ Name = "tt-events-batch-job-state" })
    error_message = "defaults: the capture queue keeps events 4 days, no tags beside its Name"
  }

  assert {
    condition     = var.log_retention_days == 30
    error_message = "defaults: the log group keeps 30 days"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    job_queue_arns            = ["arn:aws:sqs:us-east-1:123456789012:not-a-job-queue"]
    logs_kms_key_arn          = "alias/logs"
    message_retention_seconds = 30
    messaging_kms_key_arn     = "alias/messaging"
    name_prefix               = "TT_events"
  }

  expect_failures = [
    var.job_queue_arns,
    var.logs_kms_key_arn,
    var.message_retention_seconds,
    var.messaging_kms_key_arn,
    var.name_prefix,
  ]
}
