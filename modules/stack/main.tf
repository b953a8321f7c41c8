# The whole farm, composed once: both envs call this module with their own sizes. Foundation modules live
# here; the compute modules (batch, functions, workflow, pipeline) are in compute.tf.
locals {
  tags = merge(var.tags, { Environment = var.environment, Stack = var.name_prefix })
}

# The roles each key policy names (its users, through the family's services). The roles exist before the
# keys; their policies, which name the keys, come after: no cycle.
locals {
  pipeline_roles = var.enable_pipeline ? module.pipeline[0].role_arns : {}
  # The pipeline's deploy build runs `terraform apply` on aws: it creates the EFS file system, the ECR
  # repository and the functions, whose services create grants on the scratch, registry and functions keys.
  deployer = var.enable_pipeline ? [local.pipeline_roles.build_deploy] : []

  key_users = {
    # S3 objects: specs, renders, and the pipeline's artifacts.
    storage = concat(
      [module.batch.job_role_arn, module.functions.role_arns["validate_input"], module.functions.role_arns["publish_results"]],
      var.enable_pipeline ? [local.pipeline_roles.pipeline, local.pipeline_roles.build_test, local.pipeline_roles.build_deploy] : [],
    )
    # Publishes to the encrypted topics (SNS and EventBridge deliver into the queues as service principals).
    messaging = [module.workflow.role_arn]
    # Lambda decrypts each function's environment for its role; the deployer lets Lambda create the grant.
    functions = concat(values(module.functions.role_arns), local.deployer)
    # The Fargate agent pulls the worker image through ECR.
    registry = concat([module.batch.execution_role_arn], local.deployer)
    scratch  = local.deployer
  }
}

module "kms" {
  source = "../kms"

  key_users   = { for family, users in local.key_users : family => users if length(users) > 0 }
  name_prefix = var.name_prefix
  # The pipeline's CodeCommit repository (storage key): its Source action reads it, the deployer creates it.
  repository_key_users = var.enable_pipeline ? [local.pipeline_roles.pipeline, local.pipeline_roles.build_deploy] : []
  tags                 = local.tags
}

module "network" {
  source = "../network"

  availability_zones   = var.availability_zones
  enable_vpc_endpoints = var.enable_vpc_endpoints
  log_retention_days   = var.log_retention_days
  logs_kms_key_arn     = module.kms.key_arns["logs"]
  name_prefix          = var.name_prefix
  tags                 = local.tags
  vpc_cidr             = var.vpc_cidr
}

module "storage" {
  source = "../storage"

  force_destroy = var.force_destroy_buckets
  kms_key_arn   = module.kms.key_arns["storage"]
  name_prefix   = var.name_prefix
  tags          = local.tags
}

module "efs" {
  source = "../efs"

  kms_key_arn       = module.kms.key_arns["scratch"]
  name_prefix       = var.name_prefix
  security_group_id = module.network.efs_security_group_id
  subnet_ids        = module.network.private_subnet_ids
  tags              = local.tags
}

module "ecr" {
  source = "../ecr"

  force_delete    = var.force_destroy_buckets
  kms_key_arn     = module.kms.key_arns["registry"]
  repository_name = "${var.name_prefix}/render-worker"
  tags            = local.tags
}

module "notify" {
  source = "../notify"

  kms_key_arn         = module.kms.key_arns["messaging"]
  name_prefix         = var.name_prefix
  publisher_role_arns = [module.workflow.role_arn] # the one publisher the stack declares
  tags                = local.tags
}

module "events" {
  source = "../events"

  job_queue_arns        = values(module.batch.job_queue_arns)
  log_retention_days    = var.log_retention_days
  logs_kms_key_arn      = module.kms.key_arns["logs"]
  messaging_kms_key_arn = module.kms.key_arns["messaging"]
  name_prefix           = var.name_prefix
  tags                  = local.tags
}
