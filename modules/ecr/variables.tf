variable "force_delete" {
  description = "Let terraform destroy delete the repository while it still holds images (local and test stacks)."
  type        = bool
  default     = false
}

variable "keep_tagged_images" {
  description = "How many of the newest images the lifecycle policy keeps."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 1 && floor(var.keep_tagged_images) == var.keep_tagged_images
    error_message = "keep_tagged_images must be a positive integer."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key (registry family) that encrypts the images."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "repository_name" {
  description = "Name of the worker image repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name)) && length(var.repository_name) <= 256
    error_message = "repository_name must be a valid ECR repository name (lowercase, digits, . _ - and /)."
  }
}

variable "tags" {
  description = "Tags added to the repository."
  type        = map(string)
  default     = {}
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1 && floor(var.untagged_expiry_days) == var.untagged_expiry_days
    error_message = "untagged_expiry_days must be a positive integer."
  }
}
