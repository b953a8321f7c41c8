data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # One key per service family. `service_principals` may use the key directly (they deliver on our behalf:
  # SNS into encrypted queues, EventBridge into encrypted queues, CloudWatch Logs encrypting log groups);
  # `via_services` are the services through which the family's roles (var.key_users) may use it
  # (kms:ViaService); `grants`: those services create grants for the resources they encrypt (EFS file systems,
  # ECR repositories, Lambda environments), so the family's roles may let them (kms:GrantIsForAWSResource).
  families = {
    storage = {
      description        = "S3 buckets: specs, renders, pipeline artifacts"
      service_principals = []
      via_services       = ["s3", "codecommit"] # codecommit: the pipeline's repository
      grants             = false
    }
    scratch = {
      description        = "EFS scratch shared by the render jobs"
      service_principals = []
      via_services       = ["elasticfilesystem"]
      grants             = true
    }
    logs = {
      description        = "CloudWatch log groups"
      service_principals = ["logs.${local.region}.amazonaws.com"]
      via_services       = ["logs"]
      grants             = false
    }
    messaging = {
      description        = "SNS topics and SQS queues"
      service_principals = ["events.amazonaws.com", "sns.amazonaws.com"]
      via_services       = ["sns", "sqs"]
      grants             = false
    }
    functions = {
      description        = "Lambda environment variables"
      service_principals = []
      via_services       = ["lambda"]
      grants             = true
    }
    registry = {
      description        = "ECR repository images"
      service_principals = []
      via_services       = ["ecr"]
      grants             = true
    }
  }
}

resource "aws_kms_key" "this" {
  for_each = local.families

  description             = "${var.name_prefix} ${each.key}: ${each.value.description}"
  deletion_window_in_days = var.deletion_window_in_days
  enable_key_rotation     = true
  key_usage               = "ENCRYPT_DECRYPT"
  policy                  = data.aws_iam_policy_document.key[each.key].json
  tags                    = merge(var.tags, { Name = "${var.name_prefix}-${each.key}", KeyFamily = each.key })
}

resource "aws_kms_alias" "this" {
  for_each = local.families

  name          = "alias/${var.name_prefix}-${each.key}"
  target_key_id = aws_kms_key.this[each.key].key_id
}
