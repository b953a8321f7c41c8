# Production sizes: VPC endpoints instead of a NAT, test hooks off, buckets protected from forced deletion,
# Batch's service-linked role, and CodeDeploy moving the live aliases after each pipeline deploy.
module "stack" {
  source = "../../modules/stack"

  availability_zones          = var.availability_zones
  batch_max_vcpus             = var.batch_max_vcpus
  codedeploy_shifts_aliases   = true
  create_batch_service_role   = false
  enable_pipeline             = var.enable_pipeline
  enable_test_hooks           = false
  enable_vpc_endpoints        = true
  environment                 = "aws"
  force_destroy_buckets       = false
  lambda_zip_dir              = var.lambda_zip_dir
  log_retention_days          = var.log_retention_days
  price_table                 = jsondecode(file("${path.root}/../../config/prices.json")) # per-run cost and the fixed monthly cost
  name_prefix                 = var.name_prefix
  pipeline_branch             = var.pipeline_branch
  pipeline_deploy_policy_arns = var.pipeline_deploy_policy_arns
  sizing                      = var.sizing
  tags                        = var.tags
  vpc_cidr                    = var.vpc_cidr
  worker_image                = var.worker_image
  worker_memory_mib           = var.worker_memory_mib
  worker_vcpu                 = var.worker_vcpu
}
