data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # One key per service family. `service_principals` may use the key directly (they deliver on our behalf:
  # SNS into encrypted queues, EventBridge into encrypted queues, CloudWatch Logs encrypting log groups), with
  # `service_actions`; `via_services` are the services through which the family's roles (var.key_users) may use
  # it (kms:ViaService), with `role_actions`: what those services ask KMS for (S3, SNS and SQS only generate and
  # decrypt data keys). `grants`: those services encrypt AWS resources (EFS file systems, ECR repositories, Lambda
  # environments) and create grants for them, so the family's roles may let them (kms:GrantIsForAWSResource).
  data_key_actions = ["kms:Decrypt", "kms:GenerateDataKey*"]
  # What a service that encrypts a resource for its creator may ask for (EFS, Lambda, ECR, CodeCommit; CloudWatch
  # Logs as a service principal).
  resource_actions = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]

  families = {
    storage = {
      description        = "S3 buckets: specs, renders, pipeline artifacts"
      service_principals = []
      service_actions    = []
      via_services       = ["s3"] # and CodeCommit for var.repository_key_users (the pipeline's repository)
      role_actions       = local.data_key_actions
      grants             = false
    }
    scratch = {
      description        = "EFS scratch shared by the render jobs"
      service_principals = []
      service_actions    = []
      via_services       = ["elasticfilesystem"]
      role_actions       = local.resource_actions
      grants             = true
    }
    logs = {
      description        = "CloudWatch log groups"
      service_principals = ["logs.${local.region}.amazonaws.com"]
      service_actions    = local.resource_actions
      via_services       = ["logs"]
      role_actions       = local.resource_actions
      grants             = false
    }
    messaging = {
      description        = "SNS topics and SQS queues"
      service_principals = ["events.amazonaws.com", "sns.amazonaws.com"]
      service_actions    = local.data_key_actions
      via_services       = ["sns", "sqs"]
      role_actions       = local.data_key_actions
      grants             = false
    }
    functions = {
      description        = "Lambda environment variables"
      service_principals = []
      service_actions    = []
      via_services       = ["lambda"]
      role_actions       = local.resource_actions
      grants             = true
    }
    registry = {
      description        = "ECR repository images"
      service_principals = []
      service_actions    = []
      via_services       = ["ecr"]
      role_actions       = local.resource_actions
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
