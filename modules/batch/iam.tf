# Trust policies of the three roles, bound to this account (aws:SourceAccount) by the shared statements module,
# and to the resources the service acts for (aws:SourceArn) where AWS documents that it sends it:
# - the job role: ECS tasks of this account and region (ECS Developer Guide, "Amazon ECS task IAM role": ArnLike
#   arn:aws:ecs:<region>:<account>:*; Batch runs Fargate jobs as ECS tasks in a cluster it names itself);
# - the execution role: aws:SourceAccount only (the ECS guide's task execution role trust names no source ARN);
# - the Batch service role: Batch resources of this account and region (Batch User Guide, "Cross-service
#   confused deputy prevention").
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  in_this_account = "${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  partition       = data.aws_partition.current.partition
}

module "policy_statements" {
  source = "../policy_statements"

  service_trust = {
    batch          = { service = "batch.amazonaws.com", source_arns = ["arn:${local.partition}:batch:${local.in_this_account}:*"] }
    ecs_tasks      = { service = "ecs-tasks.amazonaws.com", source_arns = ["arn:${local.partition}:ecs:${local.in_this_account}:*"] }
    ecs_task_agent = { service = "ecs-tasks.amazonaws.com" }
  }
}

# Job role: what the worker itself does (read the spec, write renders, use the scratch file system).
resource "aws_iam_role" "job" {
  name               = "${var.name_prefix}-batch-job"
  description        = "Render worker: read specs, write renders, mount EFS scratch."
  assume_role_policy = module.policy_statements.service_trust["ecs_tasks"]
  tags               = var.tags
}

data "aws_iam_policy_document" "job" {
  statement {
    # GetObjectVersion: the worker reads the spec version ValidateInput validated (SPEC_VERSION_ID).
    sid       = "ReadSpecs"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.specs_bucket_arn}/*"]
  }

  statement {
    # Write only: the worker never reads a render back (it resumes from its records on EFS scratch).
    sid       = "WriteRenders"
    actions   = ["s3:PutObject"]
    resources = ["${var.renders_bucket_arn}/*"]
  }

  statement {
    sid       = "UseStorageKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.storage_key_arn]
  }

  statement {
    # iam-report: aws ECS (Fargate): the task mounts the scratch access point with IAM authorisation as the job
    # role (the local cloud does not check EFS mounts, localcloud/README.md).
    sid       = "MountScratch"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [var.efs_file_system_arn]

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [var.efs_access_point_arn]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "render-worker"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

# Execution role: what the Fargate agent does before the worker starts (pull the image, ship logs).
resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-batch-execution"
  description        = "Fargate agent for render jobs: pull the worker image, write its logs."
  assume_role_policy = module.policy_statements.service_trust["ecs_task_agent"]
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    # iam-report: aws ECS (Fargate agent): pulls the worker image as the execution role (the local cloud runs the
    # worker without an image).
    sid       = "PullWorkerImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [var.repository_arn]
  }

  statement {
    # GetAuthorizationToken has no resource-level permissions.
    # iam-report: aws ECS (Fargate agent): logs in to ECR before pulling the worker image.
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    # iam-report: aws ECS (Fargate agent): the awslogs driver ships the worker output as the execution role (the
    # local cloud ships it itself, localcloud/README.md).
    sid       = "WriteWorkerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.log_group.arns["worker"]}:*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "fargate-agent"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Only for the local cloud, whose Batch insists that an explicit service role exists (it checks nothing else,
# and has no AWS managed policies to attach). On AWS the service-linked role AWSServiceRoleForBatch is used.
resource "aws_iam_role" "service" {
  count = var.create_service_role ? 1 : 0

  name               = "${var.name_prefix}-batch-service"
  description        = "AWS Batch service role (local cloud only; AWS uses the service-linked role)."
  assume_role_policy = module.policy_statements.service_trust["batch"]
  tags               = var.tags
}
