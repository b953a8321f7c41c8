# Compute half of the stack: Batch (the render engine), the two Lambdas, the state machine that ties them
# together, and the CI/CD pipeline. Foundation modules are in main.tf.
module "batch" {
  source = "../batch"

  attempt_duration_seconds = var.job_attempt_duration_seconds
  create_service_role      = var.create_batch_service_role
  efs_access_point_arn     = module.efs.access_point_arn
  efs_access_point_id      = module.efs.access_point_id
  efs_file_system_arn      = module.efs.file_system_arn
  efs_file_system_id       = module.efs.file_system_id
  enable_test_hooks        = var.enable_test_hooks
  job_attempts             = var.job_attempts
  log_retention_days       = var.log_retention_days
  logs_key_arn             = module.kms.key_arns["logs"]
  max_spec_bytes           = var.max_spec_bytes
  max_vcpus                = var.batch_max_vcpus
  name_prefix              = var.name_prefix
  renders_bucket_arn       = module.storage.renders_bucket_arn
  repository_arn           = module.ecr.repository_arn
  scratch_mount_path       = var.scratch_mount_path
  security_group_ids       = [module.network.batch_security_group_id]
  specs_bucket_arn         = module.storage.specs_bucket_arn
  storage_key_arn          = module.kms.key_arns["storage"]
  subnet_ids               = module.network.private_subnet_ids
  tags                     = local.tags
  worker_image             = var.worker_image
  worker_memory_mib        = var.worker_memory_mib
  worker_vcpu              = var.worker_vcpu
}

# ValidateInput's cost model: the env's measured or documented rates, and as many children at once as the
# compute environments fit (the local cloud's Batch places jobs by the same vCPU arithmetic).
locals {
  sizing = merge(var.sizing, { max_parallel_children = module.batch.max_parallel_jobs })

  # The region's row of config/prices.json with the table's date, source and billing rules, as the functions
  # read it (COST_PRICES; render_worker.cost.RegionPrices). A region the table lacks fails here, naming it.
  prices = merge(var.price_table.regions[data.aws_region.current.name], {
    region                   = data.aws_region.current.name
    currency                 = var.price_table.currency
    date                     = var.price_table.date
    source                   = var.price_table.source
    fargate_minimum_billed_s = var.price_table.fargate_minimum_billed_s
    hours_per_month          = var.price_table.hours_per_month
  })
  prices_json = jsonencode(local.prices)
}

module "functions" {
  source = "../functions"

  # With a pipeline and CodeDeploy in charge, the `live` aliases move only through CodeDeploy's shift.
  alias_follows_latest_version = !(var.enable_pipeline && var.codedeploy_shifts_aliases)
  functions_key_arn            = module.kms.key_arns["functions"]
  job_queue_arns               = module.batch.job_queue_arns
  job_resources                = { vcpu = var.worker_vcpu, memory_mib = var.worker_memory_mib }
  lambda_zip_dir               = var.lambda_zip_dir
  log_retention_days           = var.log_retention_days
  logs_key_arn                 = module.kms.key_arns["logs"]
  max_spec_bytes               = var.max_spec_bytes
  name_prefix                  = var.name_prefix
  prices_json                  = local.prices_json
  renders_bucket               = module.storage.renders_bucket
  renders_bucket_arn           = module.storage.renders_bucket_arn
  runtime                      = var.lambda_runtime
  sizing                       = local.sizing
  specs_bucket_arn             = module.storage.specs_bucket_arn
  storage_key_arn              = module.kms.key_arns["storage"]
  tags                         = local.tags
}

module "workflow" {
  source = "../workflow"

  completion_topic_arn  = module.notify.completion_topic_arn
  failure_topic_arn     = module.notify.failure_topic_arn
  job_definition_arn    = module.batch.job_definition_arn
  job_queue_arns        = module.batch.job_queue_arns
  log_retention_days    = var.log_retention_days
  logs_key_arn          = module.kms.key_arns["logs"]
  messaging_key_arn     = module.kms.key_arns["messaging"]
  name_prefix           = var.name_prefix
  publish_function_arn  = module.functions.alias_arns["publish_results"]
  tags                  = local.tags
  validate_function_arn = module.functions.alias_arns["validate_input"]
}

module "pipeline" {
  source = "../pipeline"
  count  = var.enable_pipeline ? 1 : 0

  artifacts_bucket     = module.storage.artifacts_bucket
  artifacts_bucket_arn = module.storage.artifacts_bucket_arn
  branch               = var.pipeline_branch
  deploy_env           = var.pipeline_deploy_env
  deploy_policy_arns   = var.pipeline_deploy_policy_arns
  function_names       = module.functions.function_names
  log_retention_days   = var.log_retention_days
  logs_key_arn         = module.kms.key_arns["logs"]
  name_prefix          = var.name_prefix
  storage_key_arn      = module.kms.key_arns["storage"]
  tags                 = local.tags
  terraform_state_key  = var.pipeline_terraform_state_key
  unit_test_selection  = var.pipeline_unit_tests
}
