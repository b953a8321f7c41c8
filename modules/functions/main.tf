locals {
  # What each function is, known before anything exists: the roles come from it (the key policies name the
  # roles, and the functions' settings below name a key, so the roles must not depend on those settings).
  descriptions = {
    validate_input  = "Checks a catalog spec and sizes its Batch job (ValidateInput state)."
    publish_results = "Checks every render exists, writes manifest.json and index.html (PublishResults state)."
  }

  # Per-function settings; keys are the names used in outputs, zips and docs/contracts.md.
  functions = {
    validate_input = {
      description = local.descriptions["validate_input"]
      memory_size = 512
      timeout     = 60
      environment = {
        COST_PRICES                  = var.prices_json
        JOB_MEMORY_MIB               = tostring(var.job_resources.memory_mib)
        JOB_QUEUES                   = jsonencode(var.job_queue_arns)
        JOB_VCPU                     = tostring(var.job_resources.vcpu)
        MAX_SPEC_BYTES               = tostring(var.max_spec_bytes)
        RENDERS_BUCKET               = var.renders_bucket
        SIZING_CHILD_START_S         = tostring(var.sizing.child_start_s)
        SIZING_CHILD_VARIANTS_PER_S  = tostring(var.sizing.child_variants_per_s)
        SIZING_MAX_PARALLEL_CHILDREN = tostring(var.sizing.max_parallel_children)
        SIZING_STORAGE_PUTS_PER_S    = tostring(var.sizing.storage_puts_per_s)
      }
    }
    publish_results = {
      description = local.descriptions["publish_results"]
      memory_size = 1024
      timeout     = 300
      environment = {
        COST_PRICES       = var.prices_json
        JOB_MEMORY_MIB    = tostring(var.job_resources.memory_mib)
        JOB_VCPU          = tostring(var.job_resources.vcpu)
        MAX_SPEC_BYTES    = tostring(var.max_spec_bytes)
        OUTPUT_KMS_KEY_ID = var.storage_key_arn
        RENDERS_BUCKET    = var.renders_bucket
      }
    }
  }

  zip_paths = { for k, _ in local.functions : k => "${var.lambda_zip_dir}/${k}.zip" }
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  #checkov:skip=CKV_AWS_116:Invoked synchronously by Step Functions, which retries and catches errors; a DLQ would never receive anything.
  #checkov:skip=CKV_AWS_117:The functions call only S3 and need no VPC resources; outside a VPC they need no NAT or endpoints.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the reserved_concurrency input (null by default so small accounts are not exhausted).
  #checkov:skip=CKV_AWS_50:X-Ray tracing is the tracing_mode input (off by default).
  #checkov:skip=CKV_AWS_272:Code is built and deployed by this repository's pipeline; Lambda code signing is not used.
  function_name    = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description      = each.value.description
  role             = aws_iam_role.this[each.key].arn
  handler          = "handler.handler"
  runtime          = var.runtime
  filename         = local.zip_paths[each.key]
  source_code_hash = filebase64sha256(local.zip_paths[each.key])
  memory_size      = each.value.memory_size
  timeout          = each.value.timeout
  publish          = true
  kms_key_arn      = var.functions_key_arn

  reserved_concurrent_executions = coalesce(var.reserved_concurrency, -1)

  environment {
    variables = each.value.environment
  }

  dynamic "tracing_config" {
    for_each = var.tracing_mode == null ? [] : [var.tracing_mode]
    content {
      mode = tracing_config.value
    }
  }

  tags = var.tags

  # The log group must exist first, or Lambda creates an unencrypted one without retention.
  depends_on = [module.log_group, aws_iam_role_policy.this]
}

module "log_group" {
  source = "../log_group"

  names             = { for k, _ in local.functions : k => "/aws/lambda/${var.name_prefix}-${replace(k, "_", "-")}" }
  retention_in_days = var.log_retention_days
  kms_key_arn       = var.logs_key_arn
  tags              = var.tags
}

moved {
  from = aws_cloudwatch_log_group.this["validate_input"]
  to   = module.log_group.aws_cloudwatch_log_group.this["validate_input"]
}

moved {
  from = aws_cloudwatch_log_group.this["publish_results"]
  to   = module.log_group.aws_cloudwatch_log_group.this["publish_results"]
}
