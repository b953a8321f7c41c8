# Small sizes and test hooks: this stack exists to be created, exercised and destroyed on one machine. The
# local cloud's Batch insists on an explicit service role, and without CodeDeploy every apply moves the aliases.
locals {
  lambda_zip_dir = var.lambda_zip_dir != "" ? var.lambda_zip_dir : abspath("${path.root}/../../build/lambdas")
}

module "stack" {
  source = "../../modules/stack"

  availability_zones        = ["us-east-1a", "us-east-1b"]
  batch_max_vcpus           = 2 # one 2-vCPU job per compute environment: 2 children at once (Spot + on-demand), what a 2-core host runs
  codedeploy_shifts_aliases = false
  create_batch_service_role = true
  enable_pipeline           = true
  enable_test_hooks         = true
  enable_vpc_endpoints      = false
  endpoint_url              = var.endpoint_url
  environment               = "local"
  force_destroy_buckets     = true
  lambda_zip_dir            = local.lambda_zip_dir
  log_retention_days        = 7
  max_spec_bytes            = 16777216                                                  # 16 MiB: a 100,000-variant spec (~8 MB) fits; the live SpecTooLarge test stays cheap
  price_table               = jsondecode(file("${path.root}/../../config/prices.json")) # per-run cost and the fixed monthly cost
  name_prefix               = "farm"
  pipeline_unit_tests       = "tests/unit/core/test_lambdas.py" # the Build stage's unit tests: tests/pipeline pushes twice and waits for both
  sizing                    = var.sizing
  tags                      = { CostCenter = "local" }
  vpc_cidr                  = "10.42.0.0/16"
  worker_image              = var.worker_image
  worker_memory_mib         = 4096 # Fargate's smallest memory for 2 vCPUs
  worker_vcpu               = 2    # as on aws: a child's upload threads and its renderer use more than one core (--cpus 1 throttled it)
}
