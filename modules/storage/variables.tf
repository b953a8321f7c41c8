variable "abort_multipart_days" {
  description = "Days after which an incomplete multipart upload is aborted."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_multipart_days >= 1 && floor(var.abort_multipart_days) == var.abort_multipart_days
    error_message = "abort_multipart_days must be a whole number of days, at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete buckets that still hold objects (local and test stacks only)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "ARN of the KMS key (storage family) every object is encrypted with; puts naming another key are denied."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (the bucket policy compares full ARNs)."
  }
}

variable "name_prefix" {
  description = "Prefix of the bucket names (<name_prefix>-<purpose>-<account>-<region>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 lowercase letters, digits or hyphens, starting with a letter (bucket names are at most 63 characters)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days a superseded object version is kept."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "renders_expiration_days" {
  description = "Days after which rendered images, manifests and galleries expire."
  type        = number
  default     = 365

  validation {
    condition     = var.renders_expiration_days > 30
    error_message = "renders_expiration_days must be more than 30 (objects move to STANDARD_IA first)."
  }
}

variable "renders_transition_days" {
  description = "Days after which renders move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.renders_transition_days >= 30
    error_message = "renders_transition_days must be at least 30 (the STANDARD_IA minimum)."
  }
}

variable "tags" {
  description = "Tags added to every bucket."
  type        = map(string)
  default     = {}
}
