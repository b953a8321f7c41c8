data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  function_arns = { for k, name in var.function_names : k => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${name}" }
  state_bucket  = coalesce(var.terraform_state_bucket, "${var.name_prefix}-tfstate-${local.account_id}-${local.region}")
}

resource "aws_codecommit_repository" "this" {
  #checkov:skip=CKV2_AWS_37:Approval rules are per-team policy (approval rule templates), associated outside this stack.
  repository_name = var.name_prefix
  description     = "Render farm: Terraform, worker, Lambdas and harness. Pushes to ${var.branch} run the pipeline."
  kms_key_id      = var.storage_key_arn
  tags            = var.tags
}

resource "aws_codepipeline" "this" {
  name     = var.name_prefix
  role_arn = aws_iam_role.pipeline.arn

  artifact_store {
    type     = "S3"
    location = var.artifacts_bucket

    encryption_key {
      type = "KMS"
      id   = var.storage_key_arn
    }
  }

  stage {
    name = "Source"

    action {
      name             = "Source"
      category         = "Source"
      owner            = "AWS"
      provider         = "CodeCommit"
      version          = "1"
      output_artifacts = ["source"]

      configuration = {
        RepositoryName       = aws_codecommit_repository.this.repository_name
        BranchName           = var.branch
        PollForSourceChanges = "false" # the EventBridge rule in trigger.tf starts the pipeline
      }
    }
  }

  stage {
    name = "Build"

    action {
      name            = "LintAndUnitTests"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["source"]

      configuration = {
        ProjectName = aws_codebuild_project.this["test"].name
      }
    }
  }

  stage {
    name = "Deploy"

    action {
      name            = "ApplyAndShiftAliases"
      category        = "Build"
      owner           = "AWS"
      provider        = "CodeBuild"
      version         = "1"
      input_artifacts = ["source"]

      configuration = {
        ProjectName = aws_codebuild_project.this["deploy"].name
      }
    }
  }

  tags = var.tags
}
