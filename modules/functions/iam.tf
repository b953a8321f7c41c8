# The functions' trust policy, bound to this account (aws:SourceAccount) by the shared statements module. No
# aws:SourceArn: the Lambda Developer Guide ("Lambda execution role") documents none for the execution role's
# trust, and a condition on a key the service does not send would refuse every invocation.
module "policy_statements" {
  source = "../policy_statements"

  service_trust = {
    lambda = { service = "lambda.amazonaws.com" }
  }
}

# One role per function, each with only what that function does.
resource "aws_iam_role" "this" {
  for_each = local.descriptions

  name               = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description        = "Lambda ${each.key}: ${each.value}"
  assume_role_policy = module.policy_statements.service_trust["lambda"]
  tags               = var.tags
}

data "aws_iam_policy_document" "validate_input" {
  statement {
    # GetObject also authorises HeadObject; GetObjectVersion, reading the version that HEAD named.
    sid       = "ReadSpecs"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.specs_bucket_arn}/*"]
  }

  statement {
    # Without ListBucket a missing key answers 403 instead of 404, and SpecNotFound could not be told apart.
    sid       = "TellMissingSpecs"
    actions   = ["s3:ListBucket"]
    resources = [var.specs_bucket_arn]
  }

  statement {
    sid       = "DecryptSpecs"
    actions   = ["kms:Decrypt"]
    resources = [var.storage_key_arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.log_group.arns["validate_input"]}:*"]
  }
}

data "aws_iam_policy_document" "publish_results" {
  statement {
    # The spec again, at the version ValidateInput validated (spec_version_id; the buckets are always
    # versioned), so only GetObjectVersion; decrypted with the storage key.
    sid       = "ReadSpecs"
    actions   = ["s3:GetObjectVersion"]
    resources = ["${var.specs_bucket_arn}/*"]
  }

  statement {
    sid       = "ListRenders"
    actions   = ["s3:ListBucket"]
    resources = [var.renders_bucket_arn]
  }

  statement {
    sid       = "ReadAndPublishRenders"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.renders_bucket_arn}/*"]
  }

  statement {
    sid       = "UseStorageKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.storage_key_arn]
  }

  statement {
    # The run's actual cost: every attempt's start and stop of the render job's tasks. DescribeJobs has no
    # resource-level permissions (Service Authorization Reference), hence "*".
    sid       = "ReadRenderJobAttempts"
    actions   = ["batch:DescribeJobs"]
    resources = ["*"]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.log_group.arns["publish_results"]}:*"]
  }
}

locals {
  policies = {
    validate_input  = data.aws_iam_policy_document.validate_input.json
    publish_results = data.aws_iam_policy_document.publish_results.json
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.functions

  name   = each.key
  role   = aws_iam_role.this[each.key].id
  policy = local.policies[each.key]
}
