variable "artifacts_bucket" {
  description = "Bucket of the pipeline's artifact store (SSE-KMS with storage_key_arn)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifacts_bucket))
    error_message = "artifacts_bucket must be a valid S3 bucket name."
  }
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket (scopes the pipeline and build roles)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.artifacts_bucket_arn))
    error_message = "artifacts_bucket_arn must be an S3 bucket ARN."
  }
}

variable "branch" {
  description = "Branch of the CodeCommit repository the pipeline builds and deploys."
  type        = string
  default     = "main"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,100}$", var.branch))
    error_message = "branch must be a plain branch name."
  }
}

variable "build_image" {
  description = "CodeBuild image of both projects (must offer Python 3.11)."
  type        = string
  default     = "aws/codebuild/standard:7.0"

  validation {
    condition     = length(var.build_image) > 0
    error_message = "build_image must not be empty."
  }
}

variable "deploy_env" {
  description = "The env root (envs/<name>) the Deploy stage plans and applies: FARM_ENV of the deploy project."
  type        = string
  default     = "aws"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]{0,30}$", var.deploy_env))
    error_message = "deploy_env must name an env root: lowercase letters, digits, - or _."
  }
}

variable "deploy_policy_arns" {
  description = "Managed policies attached to the deploy project's role: what `terraform apply` of envs/aws needs. Empty by default: the platform team grants its deployer policy explicitly."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.deploy_policy_arns : can(regex("^arn:aws[a-z-]*:iam::", arn))])
    error_message = "deploy_policy_arns must be IAM policy ARNs."
  }
}

variable "function_names" {
  description = "Lambda function names, by key; the deploy stage shifts their `live` aliases with CodeDeploy."
  type        = map(string)

  validation {
    condition     = length(var.function_names) >= 1
    error_message = "Give at least one function."
  }
}

variable "log_retention_days" {
  description = "Retention of the build log groups, in days (a value CloudWatch Logs accepts; validated by modules/log_group, which makes the groups)."
  type        = number
  default     = 30
}

variable "logs_key_arn" {
  description = "KMS key (logs family) encrypting the build log groups."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_key_arn))
    error_message = "logs_key_arn must be a KMS key ARN."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "storage_key_arn" {
  description = "KMS key (storage family) encrypting pipeline artifacts and build output."
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

variable "terraform_state_bucket" {
  description = "S3 bucket of envs/aws's Terraform state, read and written by the deploy project; null means <name_prefix>-tfstate-<account>-<region>."
  type        = string
  default     = null
}

variable "terraform_state_key" {
  description = "Object key of envs/aws's Terraform state in terraform_state_bucket."
  type        = string
  default     = "render-farm/aws.tfstate"

  validation {
    condition     = length(var.terraform_state_key) > 0
    error_message = "terraform_state_key must not be empty."
  }
}

variable "unit_test_selection" {
  description = "Unit test paths the Build stage runs (FARM_UNIT_TESTS, space-separated, under tests/unit); empty runs the whole unit suite."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^(tests/unit[A-Za-z0-9_./:-]*( tests/unit[A-Za-z0-9_./:-]*)*)?$", var.unit_test_selection))
    error_message = "unit_test_selection must be empty or space-separated paths under tests/unit."
  }
}
