# CodeDeploy moves each function's `live` alias to the version the deploy stage published, all at once,
# and rolls back if the deployment fails. The deploy buildspec creates one deployment per function.
locals {
  codedeploy_app_name   = "${var.name_prefix}-functions"
  deployment_group_name = "${var.name_prefix}-live-aliases"
}

resource "aws_codedeploy_app" "this" {
  name             = local.codedeploy_app_name
  compute_platform = "Lambda"
  tags             = var.tags
}

resource "aws_codedeploy_deployment_group" "this" {
  app_name               = aws_codedeploy_app.this.name
  deployment_group_name  = local.deployment_group_name
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = "CodeDeployDefault.LambdaAllAtOnce"

  deployment_style {
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]
  }

  tags = var.tags
}
