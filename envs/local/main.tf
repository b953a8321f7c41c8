# Small sizes and test hooks: this stack exists to be created, exercised and destroyed on one machine. The
# local cloud's Batch insists on an explicit service role. As on aws, CodeDeploy moves the `live` aliases after
# each apply (the harness's deploy and the pipeline's Deploy stage both hand it the shift).
locals {
  lambda_zip_dir = var.lambda_zip_dir != "" ? var.lambda_zip_dir : abspath("${path.root}/../../build/lambdas")
}

module "stack" {
  source = "../../modules/stack"

  availability_zones           = ["us-east-1a", "us-east-1b"]
  batch_max_vcpus              = 2 # one 2-vCPU job per compute environment: 2 children at once (Spot + on-demand), what a 2-core host runs
  codedeploy_shifts_aliases    = true
  create_batch_service_role    = true
  enable_pipeline              = true
  enable_test_hooks            = true
  enable_vpc_endpoints         = false
  endpoint_url                 = var.endpoint_url
  environment                  = "local"
  force_destroy_buckets        = true
  lambda_zip_dir               = local.lambda_zip_dir
  log_retention_days           = 7
  max_spec_bytes               = 16777216                                                  # 16 MiB: a 100,000-variant spec (~8 MB) fits; the live SpecTooLarge test stays cheap
  price_table                  = jsondecode(file("${path.root}/../../config/prices.json")) # per-run cost and the fixed monthly cost
  name_prefix                  = "farm"
  pipeline_deploy_env          = "local"
  pipeline_deploy_policy_arns  = [aws_iam_policy.deployer.arn]
  pipeline_terraform_state_key = "render-farm/local.tfstate"       # in farm-tfstate-<account>-<region>, where the harness keeps this env's state
  pipeline_unit_tests          = "tests/unit/core/test_lambdas.py" # the Build stage's unit tests: tests/pipeline pushes twice and waits for both
  sizing                       = var.sizing
  tags                         = { CostCenter = "local" }
  vpc_cidr                     = "10.42.0.0/16"
  worker_image                 = var.worker_image
  worker_memory_mib            = 4096 # Fargate's smallest memory for 2 vCPUs
  worker_vcpu                  = 2    # as on aws: a child's upload threads and its renderer use more than one core (--cpus 1 throttled it)
}

# What `terraform apply` of this env needs, for the pipeline's Deploy stage (on aws the platform team attaches its
# own deployer policy: the plan review summary says so). Every action of each service the stack uses, on every
# resource: a deployer creates roles and keys, so nothing narrower would hold it to less.
resource "aws_iam_policy" "deployer" {
  name        = "farm-local-deployer"
  description = "terraform apply of envs/local: attached to the pipeline's deploy role."
  policy      = data.aws_iam_policy_document.deployer.json
  tags        = { CostCenter = "local" }
}

data "aws_iam_policy_document" "deployer" {
  #checkov:skip=CKV_AWS_356:A deployer creates the resources it manages: their ARNs do not exist before.
  #checkov:skip=CKV_AWS_109:A deployer manages the stack's roles and policies.
  #checkov:skip=CKV_AWS_111:A deployer writes what it manages.
  #checkov:skip=CKV_AWS_107:A deployer reads the state and the stack's configuration.
  #checkov:skip=CKV_AWS_110:A deployer manages the stack's IAM roles and policies.
  statement {
    # iam-report: used by the Deploy stage, which runs in `nox -s pipeline`, after the integration report.
    sid       = "ApplyTheStack"
    actions   = [for service in local.deployer_services : "${service}:*"]
    resources = ["*"]
  }
}

locals {
  # The services of the stack's resources (modules/*), with their IAM prefixes.
  deployer_services = [
    "batch", "codebuild", "codecommit", "codedeploy", "codepipeline", "ec2", "ecr", "elasticfilesystem", "events",
    "iam", "kms", "lambda", "logs", "s3", "sns", "sqs", "states", "sts",
  ]
}
