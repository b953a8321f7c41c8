# The composition: the contract object and the toggles it is built from. What each service module does is
# tested next to that module; what each env sets is checked by the env-level plans (tests/smoke/static).
variables {
  availability_zones   = ["us-east-1a", "us-east-1b"]
  batch_max_vcpus      = 4
  enable_vpc_endpoints = false
  endpoint_url         = "http://127.0.0.1:4599"
  environment          = "local"
  name_prefix          = "tt-stack"
  price_table = {
    currency                 = "USD"
    date                     = "2026-11-30"
    source                   = ["https://aws.amazon.com/fargate/pricing/"]
    fargate_minimum_billed_s = 60
    hours_per_month          = 730
    regions = {
      us-east-1 = {
        fargate                    = { vcpu_hour = 0.04048, gb_hour = 0.004445 }
        fargate_spot               = { vcpu_hour = 0.01334053, gb_hour = 0.00146489 }
        kms_key_month              = 1
        interface_endpoint_az_hour = 0.01
        nat_gateway_hour           = 0.045
        efs_standard_gb_month      = 0.3
        logs_ingest_gb             = 0.5
        logs_storage_gb_month      = 0.03
        s3_standard_gb_month       = 0.023
      }
    }
  }
  sizing       = { child_variants_per_s = 200, child_start_s = 0.5, storage_puts_per_s = 250 }
  vpc_cidr     = "10.43.0.0/16"
  worker_image = "render-worker:test"
  # lambda_zip_dir comes from TF_VAR_lambda_zip_dir (the harness-built zips)
}

run "contract_and_pipeline" {
  command = plan

  assert {
    condition = toset(keys(output.farm)) == toset([
      "artifacts_bucket", "completion_delivery_dlq_url", "completion_topic_arn", "compute_environment_arns",
      "ecr_repository_url", "efs_access_point_id", "efs_file_system_id", "endpoint_url", "events_log_group_name",
      "events_queue_url", "events_rule_name", "failure_delivery_dlq_url", "failure_dlq_url", "failure_queue_url",
      "failure_topic_arn", "job_definition_arn", "job_queue_arn", "job_queue_arns", "job_resources", "kms_key_arns", "lambda_function_names",
      "notifications_dlq_url", "notifications_queue_url", "pipeline", "prices", "region", "renders_bucket", "scratch_mount_path",
      "sizing", "specs_bucket", "state_machine_arn", "test_hooks_enabled",
    ])
    error_message = "the farm output must hold exactly the names of docs/contracts.md"
  }

  assert {
    condition     = output.farm.endpoint_url == var.endpoint_url && output.farm.region == "us-east-1"
    error_message = "the contract carries the endpoint it was given and the provider's region"
  }

  assert {
    condition     = output.farm.scratch_mount_path == "/mnt/scratch" && output.farm.test_hooks_enabled == false
    error_message = "defaults: scratch at /mnt/scratch, test hooks off"
  }

  assert {
    condition = (
      length(module.pipeline) == 1 && output.farm.pipeline.name == "tt-stack" && output.farm.pipeline.branch == "main" &&
      output.farm.pipeline.codedeploy_shifts_aliases == false &&
      output.farm.pipeline.codebuild_projects == { test = "tt-stack-test", deploy = "tt-stack-deploy" }
    )
    error_message = "the pipeline is on by default, and the contract names it, its branch, its projects and who moves the aliases"
  }

  assert {
    condition = output.farm.sizing == {
      child_variants_per_s = 200, child_start_s = 0.5, storage_puts_per_s = 250, max_parallel_children = 8
    }
    error_message = "the sizing model in the contract: the env's rates, and floor(4 vCPUs / 1) jobs in each of the two compute environments at once"
  }

  # Who each key policy names (the ARNs themselves are known only after apply; the live suites use them).
  assert {
    condition = { for f, users in local.key_users : f => length(users) } == {
      storage   = 6 # the job role, both function roles, the pipeline and both build roles
      messaging = 1 # the workflow role
      functions = 3 # both function roles, the deploy build (which lets Lambda create grants)
      registry  = 2 # the Fargate agent, the deploy build
      scratch   = 1 # the deploy build
    }
    error_message = "the key policies name the job, function, workflow, pipeline and build roles, and the deploy build for the grant-making families"
  }
}

run "aws_shaped_without_pipeline" {
  command = plan

  variables {
    enable_pipeline           = false
    enable_test_hooks         = true
    endpoint_url              = null
    codedeploy_shifts_aliases = true
    environment               = "aws"
    batch_max_vcpus           = 9
    worker_vcpu               = 2
  }

  assert {
    condition     = output.farm.sizing.max_parallel_children == 8
    error_message = "max_parallel_children counts whole jobs per compute environment: 2 x floor(9 vCPUs / 2 vCPUs)"
  }

  assert {
    condition     = length(module.pipeline) == 0 && output.farm.pipeline == null
    error_message = "enable_pipeline = false must leave the pipeline out (and the farm output's pipeline null)"
  }

  assert {
    condition = { for f, users in local.key_users : f => length(users) } == {
      storage = 3, messaging = 1, functions = 2, registry = 1, scratch = 0
    }
    error_message = "without the pipeline, the key policies name only the job, function, workflow and Fargate agent roles"
  }

  assert {
    condition     = output.farm.endpoint_url == null && output.farm.test_hooks_enabled == true
    error_message = "on aws the contract's endpoint is null; test hooks follow enable_test_hooks"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    availability_zones           = ["us-east-1a"]
    batch_max_vcpus              = 0
    endpoint_url                 = "ftp://somewhere/path"
    environment                  = "staging"
    job_attempt_duration_seconds = 30
    job_attempts                 = 11
    lambda_runtime               = "nodejs20.x"
    lambda_zip_dir               = ""
    max_spec_bytes               = 10
    name_prefix                  = "Farm"
    pipeline_branch              = "main branch"
    price_table                  = { regions = {} }
    scratch_mount_path           = "relative/path"
    sizing                       = { child_variants_per_s = 0, child_start_s = -1, storage_puts_per_s = 0 }
    vpc_cidr                     = "10.0.0.0/33"
    worker_image                 = ""
    worker_memory_mib            = 256
    worker_vcpu                  = 3
  }

  expect_failures = [
    var.availability_zones, var.batch_max_vcpus, var.endpoint_url, var.environment,
    var.job_attempt_duration_seconds, var.job_attempts, var.lambda_runtime, var.lambda_zip_dir, var.max_spec_bytes,
    var.name_prefix, var.pipeline_branch, var.price_table, var.scratch_mount_path, var.sizing, var.vpc_cidr, var.worker_image,
    var.worker_memory_mib, var.worker_vcpu,
  ]
}
