variable "attempt_duration_seconds" {
  description = "Timeout of one job attempt (AWS Batch minimum is 60 s); a timed-out attempt is not retried."
  type        = number
  default     = 3600

  validation {
    condition     = var.attempt_duration_seconds >= 60
    error_message = "attempt_duration_seconds must be at least 60."
  }
}

variable "create_service_role" {
  description = "Create a (policy-less) Batch service role for the local cloud, which requires one to exist. Keep false on AWS, where the AWSServiceRoleForBatch service-linked role is used."
  type        = bool
  default     = false
}

variable "efs_access_point_arn" {
  description = "ARN of the scratch EFS access point the job role may mount through."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticfilesystem:", var.efs_access_point_arn))
    error_message = "efs_access_point_arn must be an EFS access point ARN."
  }
}

variable "efs_access_point_id" {
  description = "ID of the scratch EFS access point (fsap-...)."
  type        = string

  validation {
    condition     = can(regex("^fsap-[0-9a-f]+$", var.efs_access_point_id))
    error_message = "efs_access_point_id must look like fsap-0123abcd."
  }
}

variable "efs_file_system_arn" {
  description = "ARN of the scratch EFS file system (scopes the job role's client permissions)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticfilesystem:", var.efs_file_system_arn))
    error_message = "efs_file_system_arn must be an EFS file system ARN."
  }
}

variable "efs_file_system_id" {
  description = "ID of the scratch EFS file system (fs-...)."
  type        = string

  validation {
    condition     = can(regex("^fs-[0-9a-f]+$", var.efs_file_system_id))
    error_message = "efs_file_system_id must look like fs-0123abcd."
  }
}

variable "enable_test_hooks" {
  description = "Set FARM_TEST_HOOKS=1 in the job environment (CRASH- SKUs fail, DROP- SKUs are not uploaded). Local test stacks only, never production."
  type        = bool
  default     = false
}

variable "job_attempts" {
  description = "Attempts per job (or per array child) before it fails; retries apply only to host/Spot loss and worker exit code 1."
  type        = number
  default     = 3

  validation {
    condition     = var.job_attempts >= 1 && var.job_attempts <= 10
    error_message = "job_attempts must be between 1 and 10 (AWS Batch limit)."
  }
}

variable "log_retention_days" {
  description = "Retention of the worker log group in days (validated by modules/log_group, which makes the group)."
  type        = number
  default     = 30
}

variable "logs_key_arn" {
  description = "KMS key (logs family) encrypting the worker log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_key_arn))
    error_message = "logs_key_arn must be a KMS key ARN."
  }
}

variable "max_spec_bytes" {
  description = "Largest catalog spec the worker reads (its MAX_SPEC_BYTES): the stack's one size limit, the same ValidateInput and PublishResults get."
  type        = number

  validation {
    condition     = var.max_spec_bytes >= 1024 && floor(var.max_spec_bytes) == var.max_spec_bytes
    error_message = "max_spec_bytes must be an integer of at least 1024."
  }
}

variable "max_vcpus" {
  description = "Maximum vCPUs of each compute environment (Fargate Spot and Fargate on-demand)."
  type        = number
  default     = 256

  validation {
    condition     = var.max_vcpus >= 1
    error_message = "max_vcpus must be at least 1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (<name_prefix>-queue, <name_prefix>-worker, compute environments <name_prefix>-spot-<suffix>, ...)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "renders_bucket_arn" {
  description = "ARN of the renders bucket the worker writes to."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.renders_bucket_arn))
    error_message = "renders_bucket_arn must be an S3 bucket ARN."
  }
}

variable "repository_arn" {
  description = "ARN of the ECR repository holding the worker image (scopes the execution role's pull permissions)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:", var.repository_arn))
    error_message = "repository_arn must be an ECR repository ARN."
  }
}

variable "runnable_time_limit_s" {
  description = "Seconds a job may stay blocked at the head of a job queue in RUNNABLE (no compute environment can ever start it: more vCPU than any maxvCpus, no instance that fits, no capacity) before Batch cancels it (jobStateTimeLimitActions). AWS allows 600..86400. The default is generous: a job waiting for capacity that running jobs hold is not blocked, however long the queue."
  type        = number
  default     = 3600

  validation {
    condition     = var.runnable_time_limit_s >= 600 && var.runnable_time_limit_s <= 86400 && floor(var.runnable_time_limit_s) == var.runnable_time_limit_s
    error_message = "runnable_time_limit_s must be a whole number of seconds from 600 to 86400 (AWS Batch's range for maxTimeSeconds)."
  }
}

variable "scratch_mount_path" {
  description = "Container path where the EFS scratch volume is mounted; passed to the worker as SCRATCH_DIR."
  type        = string
  default     = "/mnt/scratch"

  validation {
    condition     = can(regex("^/[A-Za-z0-9/_.-]+$", var.scratch_mount_path))
    error_message = "scratch_mount_path must be an absolute path."
  }
}

variable "security_group_ids" {
  description = "Security groups of the Fargate tasks (must be allowed NFS to the EFS mount targets)."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1
    error_message = "Give at least one security group."
  }
}

variable "specs_bucket_arn" {
  description = "ARN of the specs bucket the worker reads from."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.specs_bucket_arn))
    error_message = "specs_bucket_arn must be an S3 bucket ARN."
  }
}

variable "storage_key_arn" {
  description = "KMS key (storage family): decrypts specs and encrypts renders; passed to the worker as OUTPUT_KMS_KEY_ID."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.storage_key_arn))
    error_message = "storage_key_arn must be a KMS key ARN."
  }
}

variable "subnet_ids" {
  description = "Private subnets the Fargate tasks run in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "Give at least one subnet."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "worker_image" {
  description = "Container image of the render worker (ECR URI with tag or digest)."
  type        = string

  validation {
    condition     = length(var.worker_image) > 0
    error_message = "worker_image must not be empty."
  }
}

variable "worker_memory_mib" {
  description = "Memory of one worker container in MiB (must be a valid Fargate pairing with worker_vcpu)."
  type        = number
  default     = 2048

  validation {
    condition     = var.worker_memory_mib >= 512 && var.worker_memory_mib <= 122880
    error_message = "worker_memory_mib must be between 512 and 122880."
  }
}

variable "worker_vcpu" {
  description = "vCPUs of one worker container (Fargate: 0.25, 0.5, 1, 2, 4, 8 or 16)."
  type        = number
  default     = 1

  validation {
    condition     = contains([0.25, 0.5, 1, 2, 4, 8, 16], var.worker_vcpu)
    error_message = "worker_vcpu must be one of 0.25, 0.5, 1, 2, 4, 8, 16."
  }
}
