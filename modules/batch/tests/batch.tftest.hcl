# The batch module on the local cloud: its policies as IAM stores them, the compute environments behind the
# queue, the job definition's retry rules and environment, the toggles, and every input validation.
variables {
  attempt_duration_seconds = 900
  efs_access_point_arn     = "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"
  efs_access_point_id      = "fsap-0123456789abcdef0"
  efs_file_system_arn      = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0"
  efs_file_system_id       = "fs-0123456789abcdef0"
  job_attempts             = 4
  log_retention_days       = 7
  logs_key_arn             = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  max_spec_bytes           = 1048576
  max_vcpus                = 16
  name_prefix              = "tt-batch"
  renders_bucket_arn       = "arn:aws:s3:::tt-batch-renders"
  repository_arn           = "arn:aws:ecr:us-east-1:123456789012:repository/tt-batch-worker"
  scratch_mount_path       = "/mnt/tt-scratch"
  # Placeholders: the runs that plan or apply compute environments use the setup run's real ones.
  security_group_ids = ["sg-00000000000000000"]
  specs_bucket_arn   = "arn:aws:s3:::tt-batch-specs"
  storage_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
  subnet_ids         = ["subnet-00000000000000000"]
  tags               = { Owner = "tftest" }
  worker_image       = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tt-batch-worker:1.0.0"
  worker_memory_mib  = 4096
  worker_vcpu        = 2
}

# A VPC, two subnets and a security group: the local cloud's Batch checks that they exist.
run "setup" {
  module {
    source = "./tests/setup"
  }
}

# The defaults of the two toggles, planned on an empty state: no service role (AWS uses the service-linked
# role), no test hooks in the job environment.
run "defaults_have_no_service_role_or_test_hooks" {
  command = plan

  variables {
    subnet_ids         = run.setup.subnet_ids
    security_group_ids = [run.setup.security_group_id]
  }

  assert {
    condition     = length(aws_iam_role.service) == 0
    error_message = "create_service_role = false (the default) must create no service role (AWS uses the service-linked role)"
  }

  assert {
    condition = local.environment == [
      { name = "MAX_SPEC_BYTES", value = "1048576" },
      { name = "OUTPUT_KMS_KEY_ID", value = var.storage_key_arn },
      { name = "SCRATCH_DIR", value = "/mnt/tt-scratch" },
    ]
    error_message = "without enable_test_hooks the job environment is exactly MAX_SPEC_BYTES, OUTPUT_KMS_KEY_ID and SCRATCH_DIR (no FARM_TEST_HOOKS)"
  }
}

run "deploys" {
  variables {
    create_service_role = true
    enable_test_hooks   = true
    subnet_ids          = run.setup.subnet_ids
    security_group_ids  = [run.setup.security_group_id]
  }

  # --- trust policies (from modules/policy_statements), as IAM stores them
  assert {
    condition = jsondecode(aws_iam_role.job.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = run.setup.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:aws:ecs:${run.setup.region}:${run.setup.account_id}:*" }
      }
    }]
    error_message = "the job role trusts only ecs-tasks.amazonaws.com acting for ECS tasks of this account and region"
  }

  assert {
    condition = jsondecode(aws_iam_role.execution.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = run.setup.account_id } }
    }]
    error_message = "the execution role trusts only ecs-tasks.amazonaws.com acting for this account"
  }

  assert {
    condition = jsondecode(aws_iam_role.service[0].assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "batch.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = run.setup.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:aws:batch:${run.setup.region}:${run.setup.account_id}:*" }
      }
    }]
    error_message = "the (local-only) service role trusts only batch.amazonaws.com acting for Batch of this account and region"
  }

  # --- permissions
  assert {
    condition = jsondecode(aws_iam_role_policy.job.policy).Statement == [
      {
        Sid      = "ReadSpecs"
        Effect   = "Allow"
        Action   = ["s3:GetObjectVersion", "s3:GetObject"]
        Resource = "arn:aws:s3:::tt-batch-specs/*"
      },
      {
        Sid      = "WriteRenders"
        Effect   = "Allow"
        Action   = "s3:PutObject"
        Resource = "arn:aws:s3:::tt-batch-renders/*"
      },
      {
        Sid      = "UseStorageKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = var.storage_key_arn
      },
      {
        Sid       = "MountScratch"
        Effect    = "Allow"
        Action    = ["elasticfilesystem:ClientWrite", "elasticfilesystem:ClientMount"]
        Resource  = var.efs_file_system_arn
        Condition = { StringEquals = { "elasticfilesystem:AccessPointArn" = var.efs_access_point_arn } }
      },
    ]
    error_message = "the job role reads spec objects (the validated version: GetObjectVersion), writes (never reads) render objects, uses the storage key and mounts scratch only through the access point"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.execution.policy).Statement == [
      {
        Sid      = "PullWorkerImage"
        Effect   = "Allow"
        Action   = ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"]
        Resource = var.repository_arn
      },
      {
        Sid      = "RegistryLogin"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid      = "WriteWorkerLogs"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents", "logs:CreateLogStream"]
        Resource = "arn:aws:logs:${run.setup.region}:${run.setup.account_id}:log-group:/aws/batch/tt-batch-worker:*"
      },
    ]
    error_message = "the execution role pulls from the one repository, logs in to the registry and writes only the worker log group"
  }

  # --- compute environments and queue
  assert {
    condition = {
      for k, ce in aws_batch_compute_environment.this : k => ce.compute_environment_name_prefix
      } == {
      spot      = "tt-batch-spot-"
      on_demand = "tt-batch-on-demand-"
    }
    error_message = "compute environments are named from a prefix, so a replacement can be created before the old one is deleted"
  }

  assert {
    condition = alltrue([
      for k, ce in aws_batch_compute_environment.this :
      startswith(ce.compute_environment_name, "tt-batch-${replace(k, "_", "-")}-") && length(ce.compute_environment_name) <= 128
    ])
    error_message = "compute environment names are <name_prefix>-<key>- plus the provider's suffix, within Batch's 128 characters"
  }

  assert {
    condition = {
      for k, ce in aws_batch_compute_environment.this : k => [
        ce.type, ce.state, ce.service_role, ce.compute_resources[0].type, ce.compute_resources[0].max_vcpus,
        sort(ce.compute_resources[0].subnets), tolist(ce.compute_resources[0].security_group_ids),
      ]
      } == {
      spot      = ["MANAGED", "ENABLED", aws_iam_role.service[0].arn, "FARGATE_SPOT", 16, sort(run.setup.subnet_ids), tolist([run.setup.security_group_id])]
      on_demand = ["MANAGED", "ENABLED", aws_iam_role.service[0].arn, "FARGATE", 16, sort(run.setup.subnet_ids), tolist([run.setup.security_group_id])]
    }
    error_message = "two managed Fargate environments (Spot and on-demand) with max_vcpus, the subnets, the security group and the service role"
  }

  assert {
    condition     = output.max_parallel_jobs == 16
    error_message = "max_parallel_jobs: floor(16 vCPUs / 2 vCPUs per job) in each of the two compute environments"
  }

  assert {
    condition = alltrue([
      for q in aws_batch_job_queue.this : {
        for o in q.compute_environment_order : tostring(o.order) => o.compute_environment
        } == {
        "1" = aws_batch_compute_environment.this["spot"].arn
        "2" = aws_batch_compute_environment.this["on_demand"].arn
      }
    ])
    error_message = "both queues take Fargate Spot first (order 1) and on-demand Fargate second (order 2)"
  }

  assert {
    condition     = output.compute_environment_arns == [aws_batch_compute_environment.this["spot"].arn, aws_batch_compute_environment.this["on_demand"].arn]
    error_message = "compute_environment_arns lists the environments in queue order"
  }

  assert {
    condition     = [output.job_queue_name, aws_batch_job_queue.this["bulk"].state, aws_batch_job_queue.this["bulk"].priority] == ["tt-batch-queue", "ENABLED", 1]
    error_message = "the bulk queue keeps the single queue's name <name_prefix>-queue, enabled, priority 1"
  }

  assert {
    condition     = output.job_queue_names == { bulk = "tt-batch-queue", urgent = "tt-batch-urgent-queue" } && aws_batch_job_queue.this["urgent"].priority > aws_batch_job_queue.this["bulk"].priority
    error_message = "an urgent queue above the bulk one (higher priority: placed first over the same environments)"
  }

  assert {
    condition = alltrue([
      for q in aws_batch_job_queue.this : length(q.job_state_time_limit_action) == 3 && alltrue([
        for a in q.job_state_time_limit_action : a.action == "CANCEL" && a.state == "RUNNABLE" && a.max_time_seconds == 3600
      ])
    ])
    error_message = "both queues cancel a job blocked in RUNNABLE for runnable_time_limit_s (3600 by default), for each of the three blocked reasons"
  }

  # --- job definition
  assert {
    condition     = aws_batch_job_definition.this.retry_strategy[0].evaluate_on_exit[0].action == "exit" && aws_batch_job_definition.this.retry_strategy[0].evaluate_on_exit[0].on_exit_code == "65"
    error_message = "the first retry rule must exit on code 65: a bad spec is never retried"
  }

  assert {
    condition     = aws_batch_job_definition.this.retry_strategy[0].evaluate_on_exit[4].action == "exit" && aws_batch_job_definition.this.retry_strategy[0].evaluate_on_exit[4].on_reason == "*"
    error_message = "the last retry rule must exit on any other reason"
  }

  assert {
    condition = jsonencode(aws_batch_job_definition.this.retry_strategy) == jsonencode([{
      attempts = 4
      evaluate_on_exit = [
        { action = "exit", on_exit_code = "65", on_reason = "", on_status_reason = "" },
        { action = "retry", on_exit_code = "", on_reason = "", on_status_reason = "Your Spot Task was interrupted*" },
        { action = "retry", on_exit_code = "", on_reason = "", on_status_reason = "Host EC2*" },
        { action = "retry", on_exit_code = "1", on_reason = "", on_status_reason = "" },
        { action = "exit", on_exit_code = "", on_reason = "*", on_status_reason = "" },
      ]
    }])
    error_message = "job_attempts attempts, retried only on a Spot interruption, a lost host or exit code 1, in that order"
  }

  assert {
    condition     = aws_batch_job_definition.this.timeout[0].attempt_duration_seconds == 900
    error_message = "each attempt times out after attempt_duration_seconds"
  }

  assert {
    condition = [
      aws_batch_job_definition.this.name, aws_batch_job_definition.this.type, aws_batch_job_definition.this.platform_capabilities,
      aws_batch_job_definition.this.propagate_tags, output.job_definition_arn,
      ] == [
      "tt-batch-worker", "container", toset(["FARGATE"]), true, aws_batch_job_definition.this.arn,
    ] && can(regex("^arn:aws:batch:${run.setup.region}:${run.setup.account_id}:job-definition/tt-batch-worker:[0-9]+$", output.job_definition_arn))
    error_message = "a Fargate container job definition <name_prefix>-worker that propagates tags"
  }

  assert {
    condition = jsondecode(aws_batch_job_definition.this.container_properties).environment == [
      { name = "FARM_TEST_HOOKS", value = "1" },
      { name = "MAX_SPEC_BYTES", value = "1048576" },
      { name = "OUTPUT_KMS_KEY_ID", value = var.storage_key_arn },
      { name = "SCRATCH_DIR", value = "/mnt/tt-scratch" },
    ]
    error_message = "enable_test_hooks adds FARM_TEST_HOOKS=1 beside MAX_SPEC_BYTES (max_spec_bytes), OUTPUT_KMS_KEY_ID and SCRATCH_DIR"
  }

  assert {
    condition = [for k in ["image", "command", "jobRoleArn", "executionRoleArn", "resourceRequirements", "networkConfiguration", "fargatePlatformConfiguration"] :
      jsondecode(aws_batch_job_definition.this.container_properties)[k]
      ] == [
      var.worker_image,
      ["python", "-m", "render_worker"],
      aws_iam_role.job.arn,
      aws_iam_role.execution.arn,
      [{ type = "VCPU", value = "2" }, { type = "MEMORY", value = "4096" }],
      { assignPublicIp = "DISABLED" },
      { platformVersion = "LATEST" },
    ]
    error_message = "the worker runs the image's render_worker as the job role, with the vCPU/memory inputs, no public IP, latest platform"
  }

  assert {
    condition = [for k in ["volumes", "mountPoints", "logConfiguration"] : jsondecode(aws_batch_job_definition.this.container_properties)[k]] == [
      [{
        name = "scratch"
        efsVolumeConfiguration = {
          fileSystemId        = var.efs_file_system_id
          transitEncryption   = "ENABLED"
          authorizationConfig = { accessPointId = var.efs_access_point_id, iam = "ENABLED" }
        }
      }],
      [{ sourceVolume = "scratch", containerPath = "/mnt/tt-scratch", readOnly = false }],
      { logDriver = "awslogs", options = { "awslogs-group" = "/aws/batch/tt-batch-worker", "awslogs-stream-prefix" = "worker" } },
    ]
    error_message = "EFS scratch with transit encryption and IAM through the access point, mounted at scratch_mount_path; logs to the worker group"
  }

  assert {
    condition     = output.log_group_name == "/aws/batch/tt-batch-worker" && output.job_role_arn == aws_iam_role.job.arn && output.execution_role_arn == aws_iam_role.execution.arn
    error_message = "outputs name the worker log group and the two roles"
  }
}

# The worker log group as CloudWatch Logs reports it: retention and key reach modules/log_group.
run "log_group_is_kept_and_encrypted" {
  command = plan

  module {
    source = "../log_group/tests/read_back"
  }

  variables {
    log_group_names = { worker = "/aws/batch/tt-batch-worker" }
  }

  assert {
    condition     = output.log_groups["worker"].retention_in_days == 7 && output.log_groups["worker"].kms_key_id == var.logs_key_arn && output.log_groups["worker"].tags == tomap({ Owner = "tftest" })
    error_message = "the worker log group keeps log_retention_days, is encrypted with logs_key_arn and carries the tags"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    attempt_duration_seconds = 59
    efs_access_point_arn     = "fsap-0123456789abcdef0"
    efs_access_point_id      = "ap-1"
    efs_file_system_arn      = "fs-0123456789abcdef0"
    efs_file_system_id       = "efs-1"
    job_attempts             = 11
    logs_key_arn             = "alias/logs"
    max_spec_bytes           = 1023
    max_vcpus                = 0
    name_prefix              = "TT_Batch"
    renders_bucket_arn       = "tt-batch-renders"
    repository_arn           = "arn:aws:s3:::not-a-repository"
    runnable_time_limit_s    = 599
    scratch_mount_path       = "relative/path"
    security_group_ids       = []
    specs_bucket_arn         = "tt-batch-specs"
    storage_key_arn          = "alias/storage"
    subnet_ids               = []
    worker_image             = ""
    worker_memory_mib        = 256
    worker_vcpu              = 3
  }

  expect_failures = [
    var.attempt_duration_seconds,
    var.efs_access_point_arn,
    var.efs_access_point_id,
    var.efs_file_system_arn,
    var.efs_file_system_id,
    var.job_attempts,
    var.logs_key_arn,
    var.max_spec_bytes,
    var.max_vcpus,
    var.name_prefix,
    var.renders_bucket_arn,
    var.repository_arn,
    var.runnable_time_limit_s,
    var.scratch_mount_path,
    var.security_group_ids,
    var.specs_bucket_arn,
    var.storage_key_arn,
    var.subnet_ids,
    var.worker_image,
    var.worker_memory_mib,
    var.worker_vcpu,
  ]
}
