# The pipeline module against the local cloud (moto plus localcloud/patches: CodeCommit, CodeBuild, CodeDeploy
# and CodePipeline all apply): every role's trust and permissions as applied, the pipeline's stages and actions,
# both CodeBuild projects and their buildspecs, CodeDeploy, the push trigger, the build log groups (read back
# from the cloud); then the optional inputs planned against the applied state; then every validation.
#
# Policy statements are compared as maps by Sid with Action and Resource sorted: the provider renders those lists
# in set-hash order, so the comparison is exact about their contents and indifferent to their order.
# The one prerequisite is a deployer policy to attach (tests/setup); the local cloud does not look up the
# artifacts bucket, the KMS keys or the Lambda functions the policies name.
variables {
  artifacts_bucket     = "tt-pipeline-artifacts"
  artifacts_bucket_arn = "arn:aws:s3:::tt-pipeline-artifacts"
  function_names       = { validate_input = "tt-pipeline-validate", publish_results = "tt-pipeline-publish" }
  logs_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  name_prefix          = "tt-pipeline"
  storage_key_arn      = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333"
}

run "setup" {
  module {
    source = "./tests/setup"
  }
}

run "applies" {
  command = apply

  variables {
    log_retention_days = 14
    tags               = { Owner = "tt-pipeline" }
  }

  # --- trust: each service, bound to this account; CodeDeploy and EventBridge to the one resource they act for ---
  assert {
    condition = jsondecode(aws_iam_role.pipeline.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "codepipeline.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = aws_codepipeline.this.arn }
      }
    }]
    error_message = "CodePipeline (named as one string, as it insists) may assume the pipeline role, for this pipeline only"
  }

  assert {
    condition = alltrue([for k in ["test", "deploy"] : jsondecode(aws_iam_role.build[k].assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "codebuild.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = aws_codebuild_project.this[k].arn }
      }
    }]])
    error_message = "CodeBuild may assume each build role for that role's own project only"
  }

  assert {
    condition = jsondecode(aws_iam_role.codedeploy.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "codedeploy.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = aws_codedeploy_deployment_group.this.arn }
      }
    }]
    error_message = "CodeDeploy may assume its role for this account's deployment group only"
  }

  assert {
    condition = jsondecode(aws_iam_role.trigger.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "events.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = aws_cloudwatch_event_rule.push.arn }
      }
    }]
    error_message = "EventBridge may assume the trigger role for the push rule only"
  }

  # --- permissions ---------------------------------------------------------------------------------------------------
  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.pipeline.policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      ArtifactObjects = {
        Sid      = "ArtifactObjects"
        Effect   = "Allow"
        Action   = sort(["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"])
        Resource = sort(["arn:aws:s3:::tt-pipeline-artifacts/*"])
      }
      ArtifactBucket = {
        Sid      = "ArtifactBucket"
        Effect   = "Allow"
        Action   = sort(["s3:GetBucketVersioning", "s3:GetBucketLocation"])
        Resource = sort(["arn:aws:s3:::tt-pipeline-artifacts"])
      }
      ArtifactKey = {
        Sid      = "ArtifactKey"
        Effect   = "Allow"
        Action   = sort(["kms:Decrypt", "kms:GenerateDataKey"])
        Resource = sort([var.storage_key_arn])
      }
      ReadSource = {
        Sid    = "ReadSource"
        Effect = "Allow"
        Action = sort([
          "codecommit:GetBranch", "codecommit:GetCommit", "codecommit:UploadArchive",
          "codecommit:GetUploadArchiveStatus", "codecommit:CancelUploadArchive",
        ])
        Resource = sort([aws_codecommit_repository.this.arn])
      }
      RunBuilds = {
        Sid      = "RunBuilds"
        Effect   = "Allow"
        Action   = sort(["codebuild:StartBuild", "codebuild:BatchGetBuilds"])
        Resource = sort([aws_codebuild_project.this["test"].arn, aws_codebuild_project.this["deploy"].arn])
      }
    }
    error_message = "the pipeline role: artifact objects and bucket, the storage key, the repository, the two builds; nothing else"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.build["test"].policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      WriteBuildLogs = {
        Sid      = "WriteBuildLogs"
        Effect   = "Allow"
        Action   = sort(["logs:CreateLogStream", "logs:PutLogEvents"])
        Resource = sort(["${module.log_group.arns["test"]}:*"])
      }
      ReadSourceArtifact = {
        Sid      = "ReadSourceArtifact"
        Effect   = "Allow"
        Action   = sort(["s3:GetObject", "s3:GetObjectVersion"])
        Resource = sort(["arn:aws:s3:::tt-pipeline-artifacts/tt-pipeline/source/*"])
      }
      DecryptSourceArtifact = {
        Sid      = "DecryptSourceArtifact"
        Effect   = "Allow"
        Action   = sort(["kms:Decrypt"])
        Resource = sort([var.storage_key_arn])
      }
    }
    error_message = "the test build role: its own log group, reading (never writing) the source artifact, decrypting with the storage key; no state, Lambda or CodeDeploy access"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.build["deploy"].policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      WriteBuildLogs = {
        Sid      = "WriteBuildLogs"
        Effect   = "Allow"
        Action   = sort(["logs:CreateLogStream", "logs:PutLogEvents"])
        Resource = sort(["${module.log_group.arns["deploy"]}:*"])
      }
      ReadSourceArtifact = {
        Sid      = "ReadSourceArtifact"
        Effect   = "Allow"
        Action   = sort(["s3:GetObject", "s3:GetObjectVersion"])
        Resource = sort(["arn:aws:s3:::tt-pipeline-artifacts/tt-pipeline/source/*"])
      }
      DecryptSourceArtifact = {
        Sid      = "DecryptSourceArtifact"
        Effect   = "Allow"
        Action   = sort(["kms:Decrypt"])
        Resource = sort([var.storage_key_arn])
      }
      TerraformStateObjects = {
        Sid    = "TerraformStateObjects"
        Effect = "Allow"
        Action = sort(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        Resource = sort([
          "arn:aws:s3:::tt-pipeline-tfstate-${local.account_id}-${local.region}/render-farm/aws.tfstate",
          "arn:aws:s3:::tt-pipeline-tfstate-${local.account_id}-${local.region}/render-farm/aws.tfstate.tflock",
        ])
      }
      TerraformStateBucket = {
        Sid      = "TerraformStateBucket"
        Effect   = "Allow"
        Action   = sort(["s3:ListBucket"])
        Resource = sort(["arn:aws:s3:::tt-pipeline-tfstate-${local.account_id}-${local.region}"])
      }
      FindVersionsToShift = {
        Sid    = "FindVersionsToShift"
        Effect = "Allow"
        Action = sort(["lambda:GetAlias", "lambda:ListVersionsByFunction"])
        Resource = sort([
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-validate",
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-validate:*",
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-publish",
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-publish:*",
        ])
      }
      ShiftAliases = {
        Sid    = "ShiftAliases"
        Effect = "Allow"
        Action = sort([
          "codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:GetDeploymentConfig",
          "codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision",
        ])
        Resource = sort([
          aws_codedeploy_app.this.arn,
          aws_codedeploy_deployment_group.this.arn,
          "arn:aws:codedeploy:${local.region}:${local.account_id}:deploymentconfig:CodeDeployDefault.LambdaAllAtOnce",
        ])
      }
    }
    error_message = "the deploy build role adds the state object, lock and bucket (default bucket name), the functions' versions and aliases, and deployments of this application and group only"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.codedeploy.policy).Statement :
      s.Sid => merge(s, { Action = sort(flatten([s.Action])), Resource = sort(flatten([s.Resource])) })
      } == {
      MoveLiveAliases = {
        Sid    = "MoveLiveAliases"
        Effect = "Allow"
        Action = sort(["lambda:GetAlias", "lambda:UpdateAlias", "lambda:GetProvisionedConcurrencyConfig"])
        Resource = sort([
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-validate",
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-validate:*",
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-publish",
          "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-publish:*",
        ])
      }
    }
    error_message = "the CodeDeploy role may read and move the given functions' aliases only"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.trigger.policy).Statement == [{
      Sid      = "StartPipeline"
      Effect   = "Allow"
      Action   = "codepipeline:StartPipelineExecution"
      Resource = aws_codepipeline.this.arn
    }]
    error_message = "the trigger role may start this pipeline only"
  }

  assert {
    condition = (
      aws_iam_role_policy.pipeline.role == aws_iam_role.pipeline.id && aws_iam_role_policy.codedeploy.role == aws_iam_role.codedeploy.id &&
      aws_iam_role_policy.trigger.role == aws_iam_role.trigger.id &&
      alltrue([for k in ["test", "deploy"] : aws_iam_role_policy.build[k].role == aws_iam_role.build[k].id])
    )
    error_message = "each inline policy belongs to its own role"
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.deploy) == 0
    error_message = "no deployer policy is attached unless deploy_policy_arns names one"
  }

  # --- the pipeline: Source -> Build -> Deploy ------------------------------------------------------------------------
  assert {
    condition = jsonencode([for s in aws_codepipeline.this.stage : {
      name = s.name
      actions = [for a in s.action : {
        name             = a.name
        category         = a.category
        owner            = a.owner
        provider         = a.provider
        version          = a.version
        input_artifacts  = a.input_artifacts
        output_artifacts = a.output_artifacts
        configuration    = a.configuration
      }]
      }]) == jsonencode([
      {
        name = "Source"
        actions = [{
          name             = "Source"
          category         = "Source"
          owner            = "AWS"
          provider         = "CodeCommit"
          version          = "1"
          input_artifacts  = null # none (the provider reads an empty list back as null)
          output_artifacts = ["source"]
          configuration    = { RepositoryName = "tt-pipeline", BranchName = "main", PollForSourceChanges = "false" }
        }]
      },
      {
        name = "Build"
        actions = [{
          name             = "LintAndUnitTests"
          category         = "Build"
          owner            = "AWS"
          provider         = "CodeBuild"
          version          = "1"
          input_artifacts  = ["source"]
          output_artifacts = null # none
          configuration    = { ProjectName = "tt-pipeline-test" }
        }]
      },
      {
        name = "Deploy"
        actions = [{
          name             = "ApplyAndShiftAliases"
          category         = "Build"
          owner            = "AWS"
          provider         = "CodeBuild"
          version          = "1"
          input_artifacts  = ["source"]
          output_artifacts = null # none
          configuration    = { ProjectName = "tt-pipeline-deploy" }
        }]
      },
    ])
    error_message = "Source (CodeCommit, branch main, no polling) -> Build (the test project) -> Deploy (the deploy project), one action each"
  }

  assert {
    condition = (
      aws_codepipeline.this.name == "tt-pipeline" && aws_codepipeline.this.role_arn == aws_iam_role.pipeline.arn &&
      jsonencode([for a in aws_codepipeline.this.artifact_store : { type = a.type, location = a.location, encryption_key = a.encryption_key }]) == jsonencode([{
        type                                                             = "S3"
        location                                                         = var.artifacts_bucket
        encryption_key                                                   = [{ type = "KMS", id = var.storage_key_arn }]
      }])
    )
    error_message = "the pipeline runs as its role and keeps artifacts in the bucket, encrypted with the storage key"
  }

  # --- the CodeBuild projects and their buildspecs ---------------------------------------------------------------------
  assert {
    condition = alltrue([for k, timeout in { test = 30, deploy = 60 } : (
      aws_codebuild_project.this[k].name == "tt-pipeline-${k}" &&
      aws_codebuild_project.this[k].source[0].type == "CODEPIPELINE" &&
      aws_codebuild_project.this[k].source[0].buildspec == "deploy/buildspec-${k}.yml" &&
      aws_codebuild_project.this[k].artifacts[0].type == "CODEPIPELINE" &&
      aws_codebuild_project.this[k].build_timeout == timeout &&
      aws_codebuild_project.this[k].service_role == aws_iam_role.build[k].arn &&
      aws_codebuild_project.this[k].encryption_key == var.storage_key_arn &&
      aws_codebuild_project.this[k].logs_config[0].cloudwatch_logs[0].group_name == "/aws/codebuild/tt-pipeline-${k}"
    )])
    error_message = "each project runs deploy/buildspec-<key>.yml from the pipeline's source, as its own role, encrypted with the storage key, logging to its own group"
  }

  assert {
    condition = alltrue([for k in ["test", "deploy"] : (
      aws_codebuild_project.this[k].environment[0].image == "aws/codebuild/standard:7.0" &&
      aws_codebuild_project.this[k].environment[0].type == "LINUX_CONTAINER" &&
      aws_codebuild_project.this[k].environment[0].compute_type == "BUILD_GENERAL1_SMALL" &&
      aws_codebuild_project.this[k].environment[0].image_pull_credentials_type == "CODEBUILD" &&
      !aws_codebuild_project.this[k].environment[0].privileged_mode
    )])
    error_message = "both projects build on the default image, small Linux containers, unprivileged"
  }

  assert {
    condition     = length(aws_codebuild_project.this["test"].environment[0].environment_variable) == 0
    error_message = "the test project needs no environment variables"
  }

  assert {
    condition = tomap({
      for v in aws_codebuild_project.this["deploy"].environment[0].environment_variable : v.name => v.value if v.type == "PLAINTEXT"
      }) == tomap({
      TF_STATE_BUCKET  = "tt-pipeline-tfstate-${local.account_id}-${local.region}"
      TF_STATE_KEY     = "render-farm/aws.tfstate"
      TF_IN_AUTOMATION = "1"
      TF_INPUT         = "0"
      FARM_ENV         = "aws"
    })
    error_message = "the deploy project gets the state location, non-interactive Terraform and FARM_ENV=aws (all plain text); the alias shift reads the stack's outputs"
  }

  # --- CodeCommit, CodeDeploy, the push trigger ------------------------------------------------------------------------
  assert {
    condition     = aws_codecommit_repository.this.repository_name == "tt-pipeline" && aws_codecommit_repository.this.kms_key_id == var.storage_key_arn
    error_message = "the repository is <name_prefix>, encrypted with the storage key"
  }

  assert {
    condition = (
      aws_codedeploy_app.this.name == "tt-pipeline-functions" && aws_codedeploy_app.this.compute_platform == "Lambda" &&
      aws_codedeploy_deployment_group.this.deployment_group_name == "tt-pipeline-live-aliases" &&
      aws_codedeploy_deployment_group.this.service_role_arn == aws_iam_role.codedeploy.arn &&
      aws_codedeploy_deployment_group.this.deployment_config_name == "CodeDeployDefault.LambdaAllAtOnce" &&
      aws_codedeploy_deployment_group.this.deployment_style[0].deployment_type == "BLUE_GREEN" &&
      aws_codedeploy_deployment_group.this.deployment_style[0].deployment_option == "WITH_TRAFFIC_CONTROL" &&
      aws_codedeploy_deployment_group.this.auto_rollback_configuration[0].enabled &&
      toset(aws_codedeploy_deployment_group.this.auto_rollback_configuration[0].events) == toset(["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"])
    )
    error_message = "CodeDeploy shifts Lambda aliases all at once (blue/green with traffic control), as its role, rolling back on failure or stop"
  }

  assert {
    condition     = aws_codedeploy_deployment_group.this.arn == local.deployment_group_arn && aws_cloudwatch_event_rule.push.arn == local.push_rule_arn
    error_message = "the ARNs the trust policies are built from are the real deployment group's and push rule's"
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.push.event_pattern) == {
      source        = ["aws.codecommit"]
      "detail-type" = ["CodeCommit Repository State Change"]
      resources     = [aws_codecommit_repository.this.arn]
      detail = {
        event         = ["referenceCreated", "referenceUpdated"]
        referenceType = ["branch"]
        referenceName = ["main"]
      }
    }
    error_message = "the push rule matches creations and updates of the branch main of this repository only"
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.push.rule == aws_cloudwatch_event_rule.push.name &&
      aws_cloudwatch_event_target.push.arn == aws_codepipeline.this.arn &&
      aws_cloudwatch_event_target.push.role_arn == aws_iam_role.trigger.arn
    )
    error_message = "the push rule starts this pipeline through the trigger role"
  }

  # --- log groups, tags and outputs -------------------------------------------------------------------------------------
  assert {
    condition     = tomap(module.log_group.names) == tomap({ test = "/aws/codebuild/tt-pipeline-test", deploy = "/aws/codebuild/tt-pipeline-deploy" })
    error_message = "one log group per project, /aws/codebuild/<project>"
  }

  assert {
    condition = alltrue([for r in concat(
      [aws_codecommit_repository.this, aws_codepipeline.this, aws_codedeploy_app.this, aws_codedeploy_deployment_group.this, aws_iam_role.pipeline, aws_iam_role.codedeploy, aws_iam_role.trigger, aws_cloudwatch_event_rule.push],
      values(aws_codebuild_project.this), values(aws_iam_role.build),
    ) : r.tags == tomap({ Owner = "tt-pipeline" })])
    error_message = "tags are added to every resource"
  }

  assert {
    condition = (
      tomap(output.codebuild_project_names) == tomap({ test = "tt-pipeline-test", deploy = "tt-pipeline-deploy" }) &&
      output.codedeploy_application_name == aws_codedeploy_app.this.name &&
      output.codedeploy_deployment_group_name == aws_codedeploy_deployment_group.this.deployment_group_name &&
      output.deploy_role_name == aws_iam_role.build["deploy"].name &&
      output.pipeline_arn == aws_codepipeline.this.arn && output.pipeline_name == "tt-pipeline" &&
      output.repository_name == "tt-pipeline" && output.repository_clone_url_http == aws_codecommit_repository.this.clone_url_http &&
      output.role_arns == {
        pipeline     = aws_iam_role.pipeline.arn
        build_test   = aws_iam_role.build["test"].arn
        build_deploy = aws_iam_role.build["deploy"].arn
        codedeploy   = aws_iam_role.codedeploy.arn
        trigger      = aws_iam_role.trigger.arn
      }
    )
    error_message = "the outputs name the projects, CodeDeploy, the deploy role, the pipeline, the repository and every role's ARN"
  }
}

# The build log groups as the cloud has them: encrypted with the logs key, kept log_retention_days, tagged.
run "log_groups_in_the_cloud" {
  command = plan # a data source with known inputs is read at plan

  module {
    source = "../log_group/tests/read_back"
  }

  variables {
    log_group_names = { test = "/aws/codebuild/tt-pipeline-test", deploy = "/aws/codebuild/tt-pipeline-deploy" }
  }

  assert {
    condition = alltrue([for g in values(output.log_groups) :
    g.kms_key_id == var.logs_key_arn && g.retention_in_days == 14 && g.tags == tomap({ Owner = "tt-pipeline" })])
    error_message = "both build log groups are encrypted with the logs key, kept log_retention_days, tagged"
  }
}

# The optional inputs, applied over the first apply (the deploy role's policy is computed, unknown at plan).
run "optional_inputs" {
  command = apply

  variables {
    branch                 = "release/2"
    build_image            = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
    deploy_policy_arns     = [run.setup.deployer_policy_arn]
    function_names         = { validate_input = "tt-pipeline-validate" }
    terraform_state_bucket = "tt-pipeline-state"
    terraform_state_key    = "farm/tt.tfstate"
    unit_test_selection    = "tests/unit/core/test_lambdas.py tests/unit/core/test_schema.py"
    deploy_env             = "local"
  }

  assert {
    condition = (
      { for v in aws_codebuild_project.this["test"].environment[0].environment_variable : v.name => v.value } == {
        FARM_UNIT_TESTS = "tests/unit/core/test_lambdas.py tests/unit/core/test_schema.py"
      } &&
      alltrue([for p in aws_codebuild_project.this : p.cache[0].type == "LOCAL" && p.cache[0].modes == tolist(["LOCAL_CUSTOM_CACHE"])])
    )
    error_message = "unit_test_selection reaches the test project as FARM_UNIT_TESTS; both projects keep a local cache"
  }

  assert {
    condition = (
      length(aws_iam_role_policy_attachment.deploy) == 1 &&
      aws_iam_role_policy_attachment.deploy["0"].role == "tt-pipeline-build-deploy" &&
      aws_iam_role_policy_attachment.deploy["0"].policy_arn == run.setup.deployer_policy_arn
    )
    error_message = "deploy_policy_arns are attached to the deploy build role (and to no other)"
  }

  assert {
    condition = (
      aws_codepipeline.this.stage[0].action[0].configuration["BranchName"] == "release/2" &&
      jsondecode(aws_cloudwatch_event_rule.push.event_pattern).detail.referenceName == ["release/2"]
    )
    error_message = "branch is what the Source action builds and what the push rule listens to"
  }

  assert {
    condition     = alltrue([for p in aws_codebuild_project.this : p.environment[0].image == "aws/codebuild/amazonlinux2-x86_64-standard:5.0"])
    error_message = "build_image is the image of both projects"
  }

  assert {
    condition = (
      { for v in aws_codebuild_project.this["deploy"].environment[0].environment_variable : v.name => v.value }["TF_STATE_BUCKET"] == "tt-pipeline-state" &&
      { for v in aws_codebuild_project.this["deploy"].environment[0].environment_variable : v.name => v.value }["TF_STATE_KEY"] == "farm/tt.tfstate" &&
      { for v in aws_codebuild_project.this["deploy"].environment[0].environment_variable : v.name => v.value }["FARM_ENV"] == "local"
    )
    error_message = "terraform_state_bucket, terraform_state_key and deploy_env reach the deploy project"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.build["deploy"].policy).Statement : s.Sid => sort(flatten([s.Resource]))
      if contains(["TerraformStateObjects", "TerraformStateBucket", "FindVersionsToShift"], s.Sid)
      } == {
      TerraformStateObjects = sort(["arn:aws:s3:::tt-pipeline-state/farm/tt.tfstate", "arn:aws:s3:::tt-pipeline-state/farm/tt.tfstate.tflock"])
      TerraformStateBucket  = sort(["arn:aws:s3:::tt-pipeline-state"])
      FindVersionsToShift = sort([
        "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-validate",
        "arn:aws:lambda:${local.region}:${local.account_id}:function:tt-pipeline-validate:*",
      ])
    }
    error_message = "the deploy role follows the state bucket and key, and the functions"
  }
}

# CodePipeline keys an artifact by the first 20 characters of the pipeline's name: the builds' read-only grant
# follows, so a long name cannot leave the source artifact outside it (or widen it to the whole bucket).
run "long_name_keeps_the_source_artifact_prefix" {
  command = plan

  variables {
    name_prefix = "tt-pipeline-with-a-long-name"
  }

  assert {
    condition     = local.source_artifact_objects == "arn:aws:s3:::tt-pipeline-artifacts/tt-pipeline-with-a-l/source/*"
    error_message = "the builds read <bucket>/<pipeline name, 20 chars>/source/* only"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    artifacts_bucket     = "TT_Pipeline"
    artifacts_bucket_arn = "tt-pipeline-artifacts"
    branch               = "has spaces"
    build_image          = ""
    deploy_policy_arns   = ["tt-pipeline-deployer"]
    function_names       = {}
    logs_key_arn         = "alias/logs"
    name_prefix          = "TT_pipeline"
    storage_key_arn      = "alias/storage"
    terraform_state_key  = ""
    unit_test_selection  = "tests/unit; rm -rf /"
    deploy_env           = "../aws"
  }

  expect_failures = [
    var.artifacts_bucket,
    var.artifacts_bucket_arn,
    var.branch,
    var.build_image,
    var.deploy_env,
    var.deploy_policy_arns,
    var.function_names,
    var.logs_key_arn,
    var.name_prefix,
    var.storage_key_arn,
    var.terraform_state_key,
    var.unit_test_selection,
  ]
}
