locals {
  # What each build is, known before anything exists: the build roles come from it (the storage and other key
  # policies name those roles, and the functions the deploy build's variables name use those keys).
  project_descriptions = {
    test   = "Lint and unit tests (./noxw -s lint unit)."
    deploy = "Plan and apply envs/aws (./noxw -s plan/deploy -- aws), then shift the Lambda aliases with CodeDeploy."
  }

  # Both projects run the repository's own buildspecs (deploy/), which call the same nox sessions a developer does.
  projects = {
    test = {
      description = local.project_descriptions["test"]
      timeout     = 30
      # FARM_UNIT_TESTS narrows `nox -s unit` to these paths (noxfile.py); unset, the whole unit suite runs.
      variables = var.unit_test_selection == "" ? {} : { FARM_UNIT_TESTS = var.unit_test_selection }
    }
    deploy = {
      description = local.project_descriptions["deploy"]
      timeout     = 60
      variables = {
        TF_STATE_BUCKET  = local.state_bucket
        TF_STATE_KEY     = var.terraform_state_key
        TF_IN_AUTOMATION = "1"
        TF_INPUT         = "0"
        FARM_ENV         = var.deploy_env
      }
    }
  }
}

module "log_group" {
  source = "../log_group"

  names             = { for k, p in local.projects : k => "/aws/codebuild/${var.name_prefix}-${k}" }
  retention_in_days = var.log_retention_days
  kms_key_arn       = var.logs_key_arn
  tags              = var.tags
}

# The groups used to be created here; existing state moves into the shared module instead of being replaced.
moved {
  from = aws_cloudwatch_log_group.build["test"]
  to   = module.log_group.aws_cloudwatch_log_group.this["test"]
}

moved {
  from = aws_cloudwatch_log_group.build["deploy"]
  to   = module.log_group.aws_cloudwatch_log_group.this["deploy"]
}

resource "aws_codebuild_project" "this" {
  for_each = local.projects

  name           = "${var.name_prefix}-${each.key}"
  description    = each.value.description
  service_role   = aws_iam_role.build[each.key].arn
  encryption_key = var.storage_key_arn
  build_timeout  = each.value.timeout

  source {
    type      = "CODEPIPELINE"
    buildspec = "deploy/buildspec-${each.key}.yml"
  }

  artifacts {
    type = "CODEPIPELINE"
  }

  # The buildspec's cache paths (pip's downloads) stay on the build host between builds.
  cache {
    type  = "LOCAL"
    modes = ["LOCAL_CUSTOM_CACHE"]
  }

  environment {
    compute_type                = "BUILD_GENERAL1_SMALL"
    image                       = var.build_image
    type                        = "LINUX_CONTAINER"
    image_pull_credentials_type = "CODEBUILD"
    privileged_mode             = false

    dynamic "environment_variable" {
      for_each = each.value.variables
      content {
        name  = environment_variable.key
        value = environment_variable.value
      }
    }
  }

  logs_config {
    cloudwatch_logs {
      group_name = module.log_group.names[each.key]
    }
  }

  tags = var.tags
}
