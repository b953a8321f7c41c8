locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  # The managed rule Step Functions creates in this account to learn when a .sync Batch job ends.
  batch_sync_rule_arn = "arn:${data.aws_partition.current.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForBatchJobsRule"
  # Built from the name: the state machine needs the role first, so its own ARN would be a cycle.
  state_machine_name = "${var.name_prefix}-render"
  state_machine_arn  = "arn:${data.aws_partition.current.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
}

# Confused-deputy guard: only this state machine of this account may assume the role (Step Functions sends
# aws:SourceArn, the state machine's ARN, and aws:SourceAccount: Step Functions Developer Guide, "Cross-service
# confused deputy prevention").
module "policy_statements" {
  source = "../policy_statements"

  service_trust = {
    states = { service = "states.amazonaws.com", source_arns = [local.state_machine_arn] }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-render-workflow"
  description        = "Render workflow: invoke the two function aliases, run Batch jobs, publish notifications."
  assume_role_policy = module.policy_statements.service_trust["states"]
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "InvokeFunctionAliases"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.validate_function_arn, var.publish_function_arn]
  }

  statement {
    sid       = "SubmitRenderJobs"
    actions   = ["batch:SubmitJob"]
    resources = concat(values(var.job_queue_arns), [var.job_definition_arn])
  }

  statement {
    # DescribeJobs has no resource-level permissions; TerminateJob is scoped to jobs of this account.
    sid       = "FollowRenderJobs"
    actions   = ["batch:DescribeJobs"]
    resources = ["*"]
  }

  statement {
    # iam-report: aws Step Functions: terminates the Batch job a .sync state waits for when its execution is
    # stopped or times out (the local cloud does it too, patches/sfn_batch.py, but no suite stops an execution
    # yet: `farm cancel`, issue 14).
    sid       = "StopRenderJobs"
    actions   = ["batch:TerminateJob"]
    resources = ["arn:${data.aws_partition.current.partition}:batch:${local.region}:${local.account_id}:job/*"]
  }

  statement {
    # iam-report: aws Step Functions: creates and reads the managed rule StepFunctionsGetEventsForBatchJobsRule
    # that tells it a .sync job ended (the local cloud polls DescribeJobs instead, localcloud/README.md).
    sid       = "BatchSyncEventsRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = [local.batch_sync_rule_arn]
  }

  statement {
    sid       = "PublishNotifications"
    actions   = ["sns:Publish"]
    resources = [var.completion_topic_arn, var.failure_topic_arn]
  }

  statement {
    sid       = "UseMessagingKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.messaging_key_arn]
  }

  statement {
    # CloudWatch Logs delivery APIs have no resource-level permissions (AWS documents "*").
    # iam-report: aws Step Functions: sets up the delivery of the execution history to the workflow log group
    # (CloudWatch Logs vended logs; the local cloud records no log-delivery call).
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.tracing_enabled ? [1] : []
    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "render-workflow"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
