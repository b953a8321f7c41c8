variable "availability_zones" {
  description = "Availability zones of the private subnets (at least two)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "availability_zones must list at least two zones."
  }
}

variable "batch_max_vcpus" {
  description = "Upper bound of vCPUs each Batch compute environment (Fargate, Fargate Spot) may run at once."
  type        = number

  validation {
    condition     = var.batch_max_vcpus >= 1 && floor(var.batch_max_vcpus) == var.batch_max_vcpus
    error_message = "batch_max_vcpus must be a positive integer."
  }
}

variable "codedeploy_shifts_aliases" {
  description = "CodeDeploy moves the functions' live aliases after each pipeline deploy (needs enable_pipeline); false: every apply moves them to the newly published versions itself."
  type        = bool
  default     = false
}

variable "create_batch_service_role" {
  description = "Create an explicit Batch service role. AWS uses its service-linked role (false); the local cloud's Batch insists on an explicit one (true)."
  type        = bool
  default     = false
}

variable "enable_pipeline" {
  description = "Create the CodeCommit -> CodeBuild -> CodeDeploy pipeline."
  type        = bool
  default     = true
}

variable "enable_test_hooks" {
  description = "Set FARM_TEST_HOOKS=1 in the job definition (CRASH- SKUs fail, DROP- SKUs are not uploaded). Local test stacks only, never aws."
  type        = bool
  default     = false
}

variable "enable_vpc_endpoints" {
  description = "Create S3/ECR/Logs/STS VPC endpoints so jobs need no NAT (real AWS; the local cloud needs none)."
  type        = bool
}

variable "endpoint_url" {
  description = "Endpoint every client of this stack is aimed at (the local cloud), published in the farm output; null on aws, where clients use the regional endpoints."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint_url == null || can(regex("^https?://[^/]+/?$", var.endpoint_url))
    error_message = "endpoint_url must be null or a URL such as http://127.0.0.1:4599."
  }
}

variable "environment" {
  description = "Name of the environment (local or aws), used in tags only: behaviour is chosen by the explicit inputs."
  type        = string

  validation {
    condition     = contains(["local", "aws"], var.environment)
    error_message = "environment must be local or aws."
  }
}

variable "force_destroy_buckets" {
  description = "Let destroy remove buckets and the image repository while they still hold objects (local stacks)."
  type        = bool
  default     = false
}

variable "job_attempt_duration_seconds" {
  description = "Timeout of one Batch job attempt, in seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.job_attempt_duration_seconds >= 60
    error_message = "job_attempt_duration_seconds must be at least 60 (the Batch minimum)."
  }
}

variable "job_attempts" {
  description = "Batch retryStrategy attempts per job or array child (1-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.job_attempts >= 1 && var.job_attempts <= 10 && floor(var.job_attempts) == var.job_attempts
    error_message = "job_attempts must be an integer from 1 to 10."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambdas."
  type        = string
  default     = "python3.11" # the zips vendor CPython 3.11 wheels (harness/lambda_zips.py); the worker image is 3.11 too

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Python runtime such as python3.11."
  }
}

variable "lambda_zip_dir" {
  description = "Directory holding validate_input.zip and publish_results.zip, built by the harness (python -m harness.lambda_zips)."
  type        = string

  validation {
    condition     = length(var.lambda_zip_dir) > 0
    error_message = "lambda_zip_dir must name the directory of the harness-built Lambda zips."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group, in days (validated by modules/log_group: a value CloudWatch Logs accepts)."
  type        = number
  default     = 30
}

variable "max_spec_bytes" {
  description = "Largest catalog spec, in bytes: ValidateInput refuses larger ones (SpecTooLarge), the worker and PublishResults read no more. The one copy of the limit (MAX_SPEC_BYTES of both functions and of the job definition)."
  type        = number
  default     = 67108864

  validation {
    condition     = var.max_spec_bytes >= 1024 && var.max_spec_bytes <= 1073741824
    error_message = "max_spec_bytes must be between 1 KiB and 1 GiB."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name; keep it short (bucket names add account and region)."
  type        = string
  default     = "farm"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "pipeline_branch" {
  description = "Repository branch the CI/CD pipeline builds and deploys."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,100}$", var.pipeline_branch))
    error_message = "pipeline_branch must be a plain branch name."
  }
}

variable "pipeline_deploy_env" {
  description = "The env root (envs/<name>) the pipeline's Deploy stage plans and applies."
  type        = string
  default     = "aws"
}

variable "pipeline_deploy_policy_arns" {
  description = "Managed policies attached to the pipeline's deploy role: what `terraform apply` of pipeline_deploy_env needs (on aws the platform team's deployer policy)."
  type        = list(string)
  default     = []
}

variable "pipeline_terraform_state_key" {
  description = "Object key of the Terraform state the pipeline's Deploy stage reads and writes (in <name_prefix>-tfstate-<account>-<region>)."
  type        = string
  default     = "render-farm/aws.tfstate"
}

variable "pipeline_unit_tests" {
  description = "Unit test paths the pipeline's Build stage runs (space-separated, under tests/unit); empty runs the whole unit suite."
  type        = string
  default     = ""
}

variable "scratch_mount_path" {
  description = "Where jobs mount the EFS scratch access point (the worker's SCRATCH_DIR)."
  type        = string
  default     = "/mnt/scratch"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]+$", var.scratch_mount_path))
    error_message = "scratch_mount_path must be an absolute path."
  }
}

variable "price_table" {
  description = "config/prices.json decoded: currency, date, source, fargate_minimum_billed_s, hours_per_month and per-region prices (Fargate and Fargate Spot per vCPU-hour and GB-hour, KMS keys, endpoints, EFS, logs, S3). The stack's region's row feeds the per-run cost (ValidateInput's estimate, PublishResults' actual) and the farm output's prices; the plan review summary reads the same file for the fixed monthly cost."
  type        = any

  validation {
    condition     = can(var.price_table.regions) && can(var.price_table.date) && can(var.price_table.source) && can(var.price_table.currency)
    error_message = "price_table must hold currency, date, source and regions (config/prices.json)."
  }
}

variable "sizing" {
  description = "The environment's array-sizing model (ValidateInput's SIZING_*; docs/contracts.md, \"Flat order, sizing and slicing\"): child_variants_per_s, the variants one child renders and uploads per second; child_start_s, the seconds from a child's submission to its first variant; storage_puts_per_s, the PUTs per second the renders store takes from all children together. No default: each env root sets its own and says where the numbers come from (envs/local measured on the local cloud, envs/aws from AWS's documentation). How many children run at once is not an input: it is modules/batch's max_parallel_jobs (batch_max_vcpus and worker_vcpu)."
  type = object({
    child_variants_per_s = number
    child_start_s        = number
    storage_puts_per_s   = number
  })

  validation {
    condition     = var.sizing.child_variants_per_s > 0
    error_message = "sizing.child_variants_per_s must be > 0 (variants per second of one child)."
  }

  validation {
    condition     = var.sizing.child_start_s >= 0
    error_message = "sizing.child_start_s must be >= 0 (seconds)."
  }

  validation {
    condition     = var.sizing.storage_puts_per_s > 0
    error_message = "sizing.storage_puts_per_s must be > 0 (PUTs per second)."
  }
}

variable "tags" {
  description = "Tags added to every resource (Environment and Stack are added here)."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR block of the farm's VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR block."
  }
}

variable "worker_image" {
  description = "Container image of the render worker (ECR URI on aws; any label locally, where jobs run as processes)."
  type        = string

  validation {
    condition     = length(var.worker_image) > 0
    error_message = "worker_image must not be empty."
  }
}

variable "worker_memory_mib" {
  description = "Memory of one render job, in MiB (must pair with worker_vcpu as Fargate allows)."
  type        = number
  default     = 2048

  validation {
    condition     = var.worker_memory_mib >= 512 && var.worker_memory_mib <= 122880
    error_message = "worker_memory_mib must be between 512 and 122880."
  }
}

variable "worker_vcpu" {
  description = "vCPUs of one render job (Fargate: 0.25, 0.5, 1, 2, 4, 8 or 16)."
  type        = number
  default     = 1

  validation {
    condition     = contains([0.25, 0.5, 1, 2, 4, 8, 16], var.worker_vcpu)
    error_message = "worker_vcpu must be one of the Fargate sizes: 0.25, 0.5, 1, 2, 4, 8, 16."
  }
}
