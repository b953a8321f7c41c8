# VPC flow logs (rejected and accepted traffic) to an encrypted log group: the network audit trail.
resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = module.log_group.arns["flow_logs"]
  iam_role_arn         = aws_iam_role.flow_logs.arn
  tags                 = merge(var.tags, { Name = "${var.name_prefix}-flow-logs" })
}

module "log_group" {
  source = "../log_group"

  kms_key_arn       = var.logs_kms_key_arn
  names             = { flow_logs = "/${var.name_prefix}/vpc-flow-logs" }
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

# The flow log group used to be made here; existing state moves into modules/log_group instead of being replaced.
moved {
  from = aws_cloudwatch_log_group.flow_logs
  to   = module.log_group.aws_cloudwatch_log_group.this["flow_logs"]
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# VPC Flow Logs sends aws:SourceAccount and aws:SourceArn, the flow log's ARN (VPC User Guide, "IAM role for
# publishing flow logs to CloudWatch Logs"); the flow log needs the role first, so its ARN is matched by pattern.
module "policy_statements" {
  source = "../policy_statements"

  service_trust = {
    flow_logs = {
      service     = "vpc-flow-logs.amazonaws.com"
      source_arns = ["arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name_prefix}-vpc-flow-logs"
  assume_role_policy = module.policy_statements.service_trust["flow_logs"]
  tags               = var.tags
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    # iam-report: aws VPC Flow Logs: publishes the VPC's flow records to its log group as this role (the local
    # cloud captures no traffic).
    sid = "PublishFlowLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
    ]
    resources = ["${module.log_group.arns["flow_logs"]}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "write-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}
