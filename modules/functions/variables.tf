variable "alias_follows_latest_version" {
  description = "Point the live alias at each newly published version on apply. Set false when CodeDeploy shifts the alias (the pipeline), so Terraform does not fight it."
  type        = bool
  default     = true
}

variable "functions_key_arn" {
  description = "KMS key (functions family) encrypting the functions' environment variables."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.functions_key_arn))
    error_message = "functions_key_arn must be a KMS key ARN."
  }
}

variable "job_queue_arns" {
  description = "Batch job queues by priority (bulk, urgent): ValidateInput's JOB_QUEUES, from which it picks the Render job's queue by the execution input's priority."
  type        = map(string)

  validation {
    condition     = length(var.job_queue_arns) == 2 && alltrue([for k in ["bulk", "urgent"] : contains(keys(var.job_queue_arns), k)])
    error_message = "job_queue_arns must map exactly bulk and urgent to job queue ARNs."
  }
}

variable "job_resources" {
  description = "vCPU and memory (MiB) of one render job (the job definition's): what a child costs per second (JOB_VCPU, JOB_MEMORY_MIB of both functions; render_worker.cost)."
  type = object({
    vcpu       = number
    memory_mib = number
  })

  validation {
    condition     = var.job_resources.vcpu > 0 && var.job_resources.memory_mib >= 512
    error_message = "job_resources: vcpu must be > 0 and memory_mib >= 512."
  }
}

variable "lambda_zip_dir" {
  description = "Directory holding validate_input.zip and publish_results.zip (built by `python -m harness.lambda_zips`)."
  type        = string

  validation {
    condition     = length(var.lambda_zip_dir) > 0
    error_message = "lambda_zip_dir must not be empty."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' log groups in days (validated by modules/log_group, which makes the groups)."
  type        = number
  default     = 30
}

variable "logs_key_arn" {
  description = "KMS key (logs family) encrypting the functions' log groups."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_key_arn))
    error_message = "logs_key_arn must be a KMS key ARN."
  }
}

variable "max_spec_bytes" {
  description = "MAX_SPEC_BYTES of both functions: larger specs fail ValidateInput with SpecTooLarge, and PublishResults reads no more (the stack's one size limit, the same the worker gets)."
  type        = number

  validation {
    condition     = var.max_spec_bytes >= 1024 && floor(var.max_spec_bytes) == var.max_spec_bytes
    error_message = "max_spec_bytes must be an integer of at least 1024."
  }
}

variable "name_prefix" {
  description = "Prefix of the function names (<name_prefix>-validate-input, <name_prefix>-publish-results)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "prices_json" {
  description = "The region's prices from config/prices.json, with the table's date and source, as JSON (COST_PRICES of both functions; render_worker.cost.RegionPrices)."
  type        = string

  validation {
    condition     = can(jsondecode(var.prices_json))
    error_message = "prices_json must be a JSON document."
  }
}

variable "renders_bucket" {
  description = "Name of the renders bucket (RENDERS_BUCKET of both functions)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.renders_bucket))
    error_message = "renders_bucket must be a valid S3 bucket name."
  }
}

variable "renders_bucket_arn" {
  description = "ARN of the renders bucket publish_results lists, reads and writes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.renders_bucket_arn))
    error_message = "renders_bucket_arn must be an S3 bucket ARN."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function; null leaves them unreserved (the account pool)."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1, false)
    error_message = "reserved_concurrency must be null or at least 1."
  }
}

variable "runtime" {
  description = "Lambda runtime of both functions."
  type        = string
  default     = "python3.11"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime such as python3.11."
  }
}

variable "sizing" {
  description = "ValidateInput's array-sizing model (SIZING_* of validate_input; render_worker.sizing, docs/contracts.md): a child's render+upload rate in variants/s, its start-up in seconds, the renders store's PUT/s ceiling for all children together, and how many children the compute environments run at once (modules/batch's max_parallel_jobs). No defaults here: the stack passes the environment's numbers."
  type = object({
    child_variants_per_s  = number
    child_start_s         = number
    storage_puts_per_s    = number
    max_parallel_children = number
  })

  validation {
    condition     = var.sizing.child_variants_per_s > 0 && var.sizing.child_start_s >= 0 && var.sizing.storage_puts_per_s > 0
    error_message = "sizing: child_variants_per_s and storage_puts_per_s must be > 0, child_start_s >= 0."
  }

  validation {
    condition     = var.sizing.max_parallel_children >= 1 && floor(var.sizing.max_parallel_children) == var.sizing.max_parallel_children
    error_message = "sizing.max_parallel_children must be a positive integer (the compute environments must fit at least one job)."
  }
}

variable "specs_bucket_arn" {
  description = "ARN of the specs bucket both functions read (the version ValidateInput validated)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.specs_bucket_arn))
    error_message = "specs_bucket_arn must be an S3 bucket ARN."
  }
}

variable "storage_key_arn" {
  description = "KMS key (storage family): decrypts specs and part records, encrypts the manifest and gallery (OUTPUT_KMS_KEY_ID)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.storage_key_arn))
    error_message = "storage_key_arn must be a KMS key ARN."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "tracing_mode" {
  description = "X-Ray tracing mode (Active or PassThrough); null turns tracing off."
  type        = string
  default     = null

  validation {
    condition     = var.tracing_mode == null || contains(["Active", "PassThrough"], coalesce(var.tracing_mode, "Active"))
    error_message = "tracing_mode must be null, Active or PassThrough."
  }
}
