locals {
  project_arns = { for k, p in aws_codebuild_project.this : k => p.arn }
  alias_arns   = [for arn in values(local.function_arns) : "${arn}:*"]

  # Built from the names (the pipeline, the projects, the deployment group and the target need these roles
  # first): what each service acts for when it assumes its role.
  pipeline_arn         = "arn:${local.partition}:codepipeline:${local.region}:${local.account_id}:${var.name_prefix}"
  build_project_arns   = { for k, _ in local.project_descriptions : k => "arn:${local.partition}:codebuild:${local.region}:${local.account_id}:project/${var.name_prefix}-${k}" }
  deployment_group_arn = "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentgroup:${local.codedeploy_app_name}/${local.deployment_group_name}"
  push_rule_arn        = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.push_rule_name}"

  # CodePipeline keeps each artifact under <pipeline name, 20 chars>/<artifact name, 20 chars>/: the builds
  # read the source artifact there and write nothing (neither build action declares output artifacts).
  source_artifact_objects = "${var.artifacts_bucket_arn}/${substr(var.name_prefix, 0, 20)}/source/*"
}

# Every role's trust policy, from the shared building block: the service, bound to this account
# (aws:SourceAccount) and to the one resource it acts for (aws:SourceArn), which each of these services sends
# (the "Cross-service confused deputy prevention" pages of the CodePipeline, CodeBuild and CodeDeploy guides,
# and EventBridge's "Using IAM roles" for rule targets).
module "policy_statements" {
  source = "../policy_statements"

  service_trust = merge(
    {
      pipeline   = { service = "codepipeline.amazonaws.com", source_arns = [local.pipeline_arn] } # one string, as CodePipeline insists
      codedeploy = { service = "codedeploy.amazonaws.com", source_arns = [local.deployment_group_arn] }
      trigger    = { service = "events.amazonaws.com", source_arns = [local.push_rule_arn] }
    },
    { for k, arn in local.build_project_arns : "build-${k}" => { service = "codebuild.amazonaws.com", source_arns = [arn] } },
  )
}

# --- CodePipeline ---------------------------------------------------------------------------------------------
resource "aws_iam_role" "pipeline" {
  name               = "${var.name_prefix}-pipeline"
  description        = "CodePipeline: read the repository, run the two CodeBuild projects, use the artifact store."
  assume_role_policy = module.policy_statements.service_trust["pipeline"]
  tags               = var.tags
}

data "aws_iam_policy_document" "pipeline" {
  statement {
    # iam-report: aws CodePipeline: stores and fetches the artifacts of each stage as this role (the pipeline does
    # not run locally yet, issue 16).
    sid       = "ArtifactObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
    resources = ["${var.artifacts_bucket_arn}/*"]
  }

  statement {
    # iam-report: aws CodePipeline: checks the artifact store before a run (the pipeline does not run locally yet,
    # issue 16).
    sid       = "ArtifactBucket"
    actions   = ["s3:GetBucketVersioning", "s3:GetBucketLocation"]
    resources = [var.artifacts_bucket_arn]
  }

  statement {
    # iam-report: aws CodePipeline: encrypts and decrypts the artifacts through S3 (the pipeline does not run
    # locally yet, issue 16).
    sid       = "ArtifactKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.storage_key_arn]
  }

  statement {
    # iam-report: aws CodePipeline: the Source action archives the branch from CodeCommit (the pipeline does not
    # run locally yet, issue 16).
    sid = "ReadSource"
    actions = [
      "codecommit:GetBranch",
      "codecommit:GetCommit",
      "codecommit:UploadArchive",
      "codecommit:GetUploadArchiveStatus",
      "codecommit:CancelUploadArchive",
    ]
    resources = [aws_codecommit_repository.this.arn]
  }

  statement {
    # iam-report: aws CodePipeline: the Build and Deploy actions start and follow the two projects (the pipeline
    # does not run locally yet, issue 16).
    sid       = "RunBuilds"
    actions   = ["codebuild:StartBuild", "codebuild:BatchGetBuilds"]
    resources = values(local.project_arns)
  }
}

resource "aws_iam_role_policy" "pipeline" {
  name   = "pipeline"
  role   = aws_iam_role.pipeline.id
  policy = data.aws_iam_policy_document.pipeline.json
}

# --- CodeBuild (one role per project) -------------------------------------------------------------------------
resource "aws_iam_role" "build" {
  for_each = local.project_descriptions

  name               = "${var.name_prefix}-build-${each.key}"
  description        = "CodeBuild ${each.key}: ${each.value}"
  assume_role_policy = module.policy_statements.service_trust["build-${each.key}"]
  tags               = var.tags
}

data "aws_iam_policy_document" "build" {
  for_each = local.projects

  statement {
    # iam-report: aws CodeBuild: ships the build's output to its log group (the pipeline does not run locally yet,
    # issue 16).
    sid       = "WriteBuildLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${module.log_group.arns[each.key]}:*"]
  }

  # Read-only: a build that could write the artifact store could overwrite the source artifact the next
  # action (the deploy) runs.
  statement {
    # iam-report: aws CodeBuild: downloads the source artifact before the build starts (the pipeline does not run
    # locally yet, issue 16).
    sid       = "ReadSourceArtifact"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.source_artifact_objects]
  }

  statement {
    # iam-report: aws CodeBuild: decrypts the source artifact it downloads (the pipeline does not run locally yet,
    # issue 16).
    sid       = "DecryptSourceArtifact"
    actions   = ["kms:Decrypt"]
    resources = [var.storage_key_arn]
  }

  dynamic "statement" {
    for_each = each.key == "deploy" ? [1] : []
    content {
      # The deploy build's `terraform apply` (deploy/buildspec-deploy.yml) reads and writes the env's state
      # and its lock (envs/local's too: its state is in S3 on the local cloud).
      # iam-report: used by the Deploy stage, which runs in `nox -s pipeline`, after the integration report.
      sid       = "TerraformStateObjects"
      actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
      resources = ["arn:${local.partition}:s3:::${local.state_bucket}/${var.terraform_state_key}", "arn:${local.partition}:s3:::${local.state_bucket}/${var.terraform_state_key}.tflock"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "deploy" ? [1] : []
    content {
      # The S3 backend lists the state bucket (deploy/buildspec-deploy.yml).
      # iam-report: used by the Deploy stage, which runs in `nox -s pipeline`, after the integration report.
      sid       = "TerraformStateBucket"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${local.state_bucket}"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "deploy" ? [1] : []
    content {
      # harness/aliases.py, after the deploy build's apply, reads each alias and the latest version.
      # iam-report: used by the Deploy stage, which runs in `nox -s pipeline`, after the integration report.
      sid       = "FindVersionsToShift"
      actions   = ["lambda:GetAlias", "lambda:ListVersionsByFunction"]
      resources = concat(values(local.function_arns), local.alias_arns)
    }
  }

  dynamic "statement" {
    for_each = each.key == "deploy" ? [1] : []
    content {
      # harness/aliases.py creates and follows the CodeDeploy deployment (CreateDeployment, GetDeployment).
      # iam-report: used by the Deploy stage (`nox -s pipeline`, after the integration report); the config and
      # revision actions go with CreateDeployment in AWS's deployer policies.
      sid     = "ShiftAliases"
      actions = ["codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:GetDeploymentConfig", "codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"]
      resources = [
        aws_codedeploy_app.this.arn,
        "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentgroup:${aws_codedeploy_app.this.name}/${aws_codedeploy_deployment_group.this.deployment_group_name}",
        "arn:${local.partition}:codedeploy:${local.region}:${local.account_id}:deploymentconfig:CodeDeployDefault.LambdaAllAtOnce",
      ]
    }
  }
}

resource "aws_iam_role_policy" "build" {
  for_each = local.projects

  name   = "build-${each.key}"
  role   = aws_iam_role.build[each.key].id
  policy = data.aws_iam_policy_document.build[each.key].json
}

# What `terraform apply` of the whole stack needs is granted by the platform team's own deployer policies.
resource "aws_iam_role_policy_attachment" "deploy" {
  for_each = { for index, arn in var.deploy_policy_arns : tostring(index) => arn } # ARNs unknown until apply

  role       = aws_iam_role.build["deploy"].name
  policy_arn = each.value
}

# --- CodeDeploy -----------------------------------------------------------------------------------------------
resource "aws_iam_role" "codedeploy" {
  name               = "${var.name_prefix}-codedeploy"
  description        = "CodeDeploy: shift the functions' live aliases."
  assume_role_policy = module.policy_statements.service_trust["codedeploy"]
  tags               = var.tags
}

data "aws_iam_policy_document" "codedeploy" {
  statement {
    # iam-report: aws CodeDeploy: reads and moves each function's live alias during a deployment (the pipeline
    # does not run locally yet, issue 16).
    sid       = "MoveLiveAliases"
    actions   = ["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"]
    resources = concat(values(local.function_arns), local.alias_arns)
  }
}

resource "aws_iam_role_policy" "codedeploy" {
  name   = "shift-aliases"
  role   = aws_iam_role.codedeploy.id
  policy = data.aws_iam_policy_document.codedeploy.json
}

# --- EventBridge trigger --------------------------------------------------------------------------------------
resource "aws_iam_role" "trigger" {
  name               = "${var.name_prefix}-pipeline-trigger"
  description        = "EventBridge: start the pipeline on pushes."
  assume_role_policy = module.policy_statements.service_trust["trigger"]
  tags               = var.tags
}

data "aws_iam_policy_document" "trigger" {
  statement {
    # iam-report: aws EventBridge: the push rule's target starts the pipeline as this role (the pipeline does not
    # run locally yet, issue 16).
    sid       = "StartPipeline"
    actions   = ["codepipeline:StartPipelineExecution"]
    resources = [aws_codepipeline.this.arn]
  }
}

resource "aws_iam_role_policy" "trigger" {
  name   = "start-pipeline"
  role   = aws_iam_role.trigger.id
  policy = data.aws_iam_policy_document.trigger.json
}
