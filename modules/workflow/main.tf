data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Every placeholder sits inside a JSON string, so the template itself stays valid JSON.
  definition = templatefile("${path.module}/templates/render.asl.json", {
    partition             = data.aws_partition.current.partition
    validate_function_arn = var.validate_function_arn
    publish_function_arn  = var.publish_function_arn
    job_queue_arn         = var.job_queue_arns["bulk"] # the clean-up jobs; Render takes ValidateInput's
    job_definition_arn    = var.job_definition_arn
    completion_topic_arn  = var.completion_topic_arn
    failure_topic_arn     = var.failure_topic_arn
  })
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:Logging is on (log_level, ERROR by default) but never with execution data: inputs and outputs name confidential specs.
  #checkov:skip=CKV_AWS_284:X-Ray tracing is the tracing_enabled input (off by default; the local cloud has no X-Ray).
  name     = local.state_machine_name
  type     = "STANDARD"
  role_arn = aws_iam_role.this.arn
  # Round-trip through jsondecode so the stored definition is compact and whitespace never shows as a diff.
  definition = jsonencode(jsondecode(local.definition))

  logging_configuration {
    log_destination        = "${module.log_group.arns["executions"]}:*"
    include_execution_data = false
    level                  = var.log_level
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this]
}

module "log_group" {
  source = "../log_group"

  # The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy Step Functions needs small.
  names             = { executions = "/aws/vendedlogs/states/${var.name_prefix}-render" }
  retention_in_days = var.log_retention_days
  kms_key_arn       = var.logs_key_arn
  tags              = var.tags
}

moved {
  from = aws_cloudwatch_log_group.this
  to   = module.log_group.aws_cloudwatch_log_group.this["executions"]
}
