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

variable "default_variants_per_child" {
  description = "Variants per array child when a spec does not say."
  type        = number
  default     = 100
}

variable "enable_pipeline" {
  description = "Create the CodeCommit -> CodeBuild -> CodeDeploy pipeline."
  type        = bool
  default     = true
}

variable "lambda_zip_dir" {
  description = "Absolute directory of the Lambda zips built by `python -m farm.lambda_zips --target aws` (TF_VAR_lambda_zip_dir)."
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

variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1."
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
