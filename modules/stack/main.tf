# The whole farm, composed once: both envs call this module with their own sizes. Foundation modules live
# here; the compute modules (batch, functions, workflow, pipeline) are in compute.tf.
locals {
  tags = merge(var.tags, { Environment = var.environment, Stack = var.name_prefix })
}

module "kms" {
  source = "../kms"

  name_prefix = var.name_prefix
  tags        = local.tags
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

  kms_key_arn = module.kms.key_arns["messaging"]
  name_prefix = var.name_prefix
  tags        = local.tags
}

module "events" {
  source = "../events"

  job_queue_arn         = module.batch.job_queue_arn
  log_retention_days    = var.log_retention_days
  logs_kms_key_arn      = module.kms.key_arns["logs"]
  messaging_kms_key_arn = module.kms.key_arns["messaging"]
  name_prefix           = var.name_prefix
  tags                  = local.tags
}
