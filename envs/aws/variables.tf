variable "availability_zones" {
  description = "Availability zones of the private subnets (two or more, in var.region). Pinned, not looked up, so a new zone never reshapes the network."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "availability_zones must list at least two zones."
  }
}

variable "batch_max_vcpus" {
  description = "vCPU ceiling of each Batch compute environment (Fargate and Fargate Spot)."
  type        = number
  default     = 256
}

variable "enable_pipeline" {
  description = "Create the CodeCommit -> CodeBuild -> CodeDeploy pipeline."
  type        = bool
  default     = true
}

variable "lambda_zip_dir" {
  description = "Absolute directory of the Lambda zips built by `python -m harness.lambda_zips --target aws` (TF_VAR_lambda_zip_dir)."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of every log group, in days."
  type        = number
  default     = 365
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "farm"
}

variable "pipeline_branch" {
  description = "Branch the pipeline builds and deploys."
  type        = string
  default     = "main"
}

variable "pipeline_deploy_policy_arns" {
  description = "The platform team's deployer policies, attached to the pipeline's deploy role: what `terraform apply` of this env needs (the plan review summary says when there is none)."
  type        = list(string)
  default     = []
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
  }
}

variable "sizing" {
  description = "ValidateInput's sizing model on AWS (modules/stack's sizing; docs/contracts.md, \"Flat order, sizing and slicing\"). Documented, not measured on AWS: child_start_s = 45, a Fargate task's start-up (commonly 30-60 s from RUNNABLE to running, image pull included); storage_puts_per_s = 3500, S3's documented 3,500 PUT/s per partitioned prefix (every run writes under its own <run_id>/ prefix); child_variants_per_s = 320 = min(render rate of one vCPU, uploads in flight / PUT latency) = min(~2,900 variants/s, measured with the offline renderer `python -m harness.bench --jobs 1`: 100,000 variants, files written, on this project's 2-core machine; 16 uploads in flight (UPLOAD_CONCURRENCY) / an assumed ~50 ms S3 PUT latency in-region = 320/s). Refresh from a measured run when one exists."
  type = object({
    child_variants_per_s = number
    child_start_s        = number
    storage_puts_per_s   = number
  })
  default = {
    child_variants_per_s = 320
    child_start_s        = 45
    storage_puts_per_s   = 3500
  }

  validation {
    condition     = var.sizing.child_variants_per_s > 0 && var.sizing.child_start_s >= 0 && var.sizing.storage_puts_per_s > 0
    error_message = "sizing: child_variants_per_s and storage_puts_per_s must be > 0, child_start_s >= 0."
  }
}

variable "tags" {
  description = "Tags added to every resource (cost centre, owner, ...)."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR block of the farm's VPC."
  type        = string
  default     = "10.60.0.0/16"
}

variable "worker_image" {
  description = "Render worker image: <account>.dkr.ecr.<region>.amazonaws.com/<name_prefix>/render-worker:<tag>."
  type        = string
}

variable "worker_memory_mib" {
  description = "Memory of one render job, in MiB."
  type        = number
  default     = 4096
}

variable "worker_vcpu" {
  description = "vCPUs of one render job (a Fargate size)."
  type        = number
  default     = 2
}
