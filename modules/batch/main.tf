locals {
  # Fargate Spot first: render children are idempotent and resume from their scratch progress file, so a Spot
  # interruption costs one retry of the unfinished part of a slice. On-demand Fargate takes the overflow once
  # the Spot environment is at max_vcpus.
  compute_environments = {
    spot      = { type = "FARGATE_SPOT", order = 1 }
    on_demand = { type = "FARGATE", order = 2 }
  }

  # The bulk queue keeps the name the single queue had; urgent jobs go first wherever both wait.
  job_queues = {
    bulk   = { name = "${var.name_prefix}-queue", priority = 1 }
    urgent = { name = "${var.name_prefix}-urgent-queue", priority = 100 }
  }

  # The reasons AWS Batch gives a RUNNABLE job blocked at the head of its queue, which a time limit action may
  # name (AWS Batch User Guide, "Jobs stuck in a RUNNABLE status"); ACTION_REQUIRED (invalid environments) takes
  # no action.
  blocked_reasons = [
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
  ]

  # evaluateOnExit is matched in order (at most 5 entries). Onpatterns may only end with '*'.
  retry_conditions = [
    # A bad spec never gets better: do not retry (docs/contracts.md exit code 65).
    { action = "EXIT", onExitCode = "65" },
    # Fargate Spot reclaimed the task (ECS stoppedReason of a Spot interruption).
    { action = "RETRY", onStatusReason = "Your Spot Task was interrupted*" },
    # The host went away under the job (AWS Batch's documented host-termination reason).
    { action = "RETRY", onStatusReason = "Host EC2*" },
    # Worker's generic failure (S3 throttling, a crash): the retry resumes from the scratch progress file.
    { action = "RETRY", onExitCode = "1" },
    # Everything else (out of memory, image pull errors, unknown exits) fails the job at once.
    { action = "EXIT", onReason = "*" },
  ]

  # The workflow adds SPEC_URI, SPEC_VERSION_ID, RUN_ID, OUTPUT_URI and VARIANTS_PER_CHILD per submission.
  environment = concat(
    [
      { name = "MAX_SPEC_BYTES", value = tostring(var.max_spec_bytes) },
      { name = "OUTPUT_KMS_KEY_ID", value = var.storage_key_arn },
      { name = "SCRATCH_DIR", value = var.scratch_mount_path },
    ],
    var.enable_test_hooks ? [{ name = "FARM_TEST_HOOKS", value = "1" }] : [],
  )
}

# A change that forces a new environment (its type, its name, ...) replaces it in one apply: the provider names the
# new one from the prefix, the queue is pointed at it, and only then is the old one deleted (Batch refuses to delete
# an environment a queue still uses: "Cannot delete, found existing JobQueue relationship", terraform-aws-batch #9).
resource "aws_batch_compute_environment" "this" {
  for_each = local.compute_environments

  compute_environment_name_prefix = "${var.name_prefix}-${replace(each.key, "_", "-")}-"
  type                            = "MANAGED"
  state                           = "ENABLED"
  service_role                    = try(aws_iam_role.service[0].arn, null)

  compute_resources {
    type               = each.value.type
    max_vcpus          = var.max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Two queues over the same compute environments: Batch places the jobs of the higher-priority queue first
# wherever both wait for the same capacity, so an urgent run overtakes the bulk runs queued before it (farm submit
# --priority urgent). Both cancel a job blocked at their head for runnable_time_limit_s (jobStateTimeLimitActions:
# a job no environment can ever start, e.g. more vCPU than any maxvCpus), so no run waits in RUNNABLE forever.
resource "aws_batch_job_queue" "this" {
  for_each = local.job_queues

  name     = each.value.name
  state    = "ENABLED"
  priority = each.value.priority

  dynamic "compute_environment_order" {
    for_each = local.compute_environments
    content {
      order               = compute_environment_order.value.order
      compute_environment = aws_batch_compute_environment.this[compute_environment_order.key].arn
    }
  }

  dynamic "job_state_time_limit_action" {
    for_each = local.blocked_reasons
    content {
      action           = "CANCEL"
      max_time_seconds = var.runnable_time_limit_s
      reason           = job_state_time_limit_action.value
      state            = "RUNNABLE"
    }
  }

  tags = var.tags
}

moved {
  from = aws_batch_job_queue.this
  to   = aws_batch_job_queue.this["bulk"]
}

resource "aws_batch_job_definition" "this" {
  name                  = "${var.name_prefix}-worker"
  type                  = "container"
  platform_capabilities = ["FARGATE"]
  propagate_tags        = true

  timeout {
    attempt_duration_seconds = var.attempt_duration_seconds
  }

  retry_strategy {
    attempts = var.job_attempts

    dynamic "evaluate_on_exit" {
      for_each = local.retry_conditions
      content {
        action           = lower(evaluate_on_exit.value.action)
        on_exit_code     = try(evaluate_on_exit.value.onExitCode, null)
        on_reason        = try(evaluate_on_exit.value.onReason, null)
        on_status_reason = try(evaluate_on_exit.value.onStatusReason, null)
      }
    }
  }

  container_properties = jsonencode({
    image            = var.worker_image
    command          = ["python", "-m", "render_worker"] # replaces the image's CMD (it has no ENTRYPOINT), as Batch does
    jobRoleArn       = aws_iam_role.job.arn
    executionRoleArn = aws_iam_role.execution.arn
    environment      = local.environment
    resourceRequirements = [
      { type = "VCPU", value = tostring(var.worker_vcpu) },
      { type = "MEMORY", value = tostring(var.worker_memory_mib) },
    ]
    # Private subnets reach AWS through VPC endpoints, so no public IP; EFS needs platform 1.4.0 or later.
    networkConfiguration         = { assignPublicIp = "DISABLED" }
    fargatePlatformConfiguration = { platformVersion = "LATEST" }
    volumes = [{
      name = "scratch"
      efsVolumeConfiguration = {
        fileSystemId      = var.efs_file_system_id
        transitEncryption = "ENABLED"
        authorizationConfig = {
          accessPointId = var.efs_access_point_id
          iam           = "ENABLED"
        }
      }
    }]
    mountPoints = [{
      sourceVolume  = "scratch"
      containerPath = var.scratch_mount_path
      readOnly      = false
    }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = module.log_group.names["worker"]
        "awslogs-stream-prefix" = "worker"
      }
    }
  })

  tags = var.tags
}

module "log_group" {
  source = "../log_group"

  names             = { worker = "/aws/batch/${var.name_prefix}-worker" }
  retention_in_days = var.log_retention_days
  kms_key_arn       = var.logs_key_arn
  tags              = var.tags
}

moved {
  from = aws_cloudwatch_log_group.worker
  to   = module.log_group.aws_cloudwatch_log_group.this["worker"]
}
