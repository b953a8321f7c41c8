variable "kms_key_arn" {
  description = "ARN of the KMS key (scratch family) that encrypts the file system."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "name_prefix" {
  description = "Prefix of the file system's creation token and Name tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "posix_gid" {
  description = "POSIX group id every job uses through the access point."
  type        = number
  default     = 10001

  validation {
    condition     = var.posix_gid >= 0 && floor(var.posix_gid) == var.posix_gid
    error_message = "posix_gid must be a non-negative integer."
  }
}

variable "posix_uid" {
  description = "POSIX user id every job uses through the access point (also owns the root directory): the worker image runs as 10001."
  type        = number
  default     = 10001

  validation {
    condition     = var.posix_uid > 0 && floor(var.posix_uid) == var.posix_uid
    error_message = "posix_uid must be a positive integer (not root)."
  }
}

variable "root_directory" {
  description = "Directory the access point exposes as the file system root; created on first use."
  type        = string
  default     = "/scratch"

  validation {
    condition     = can(regex("^/[A-Za-z0-9._/-]*$", var.root_directory)) && var.root_directory != "/"
    error_message = "root_directory must be an absolute path other than /."
  }
}

variable "security_group_id" {
  description = "Security group of the mount targets (admits NFS from the Batch security group only)."
  type        = string

  validation {
    condition     = startswith(var.security_group_id, "sg-")
    error_message = "security_group_id must be a security group id (sg-...)."
  }
}

variable "subnet_ids" {
  description = "Private subnets; one mount target each."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids must hold at least one subnet."
  }
}

variable "tags" {
  description = "Tags added to the file system and the access point."
  type        = map(string)
  default     = {}
}

variable "throughput_mode" {
  description = "EFS throughput mode: elastic suits bursts of many short jobs."
  type        = string
  default     = "elastic"

  validation {
    condition     = contains(["bursting", "elastic", "provisioned"], var.throughput_mode)
    error_message = "throughput_mode must be bursting, elastic or provisioned."
  }
}

variable "transition_to_ia" {
  description = "When untouched files move to EFS Infrequent Access (AFTER_1_DAY ... AFTER_365_DAYS)."
  type        = string
  default     = "AFTER_7_DAYS"

  validation {
    condition     = can(regex("^AFTER_[0-9]+_DAYS?$", var.transition_to_ia))
    error_message = "transition_to_ia must look like AFTER_7_DAYS."
  }
}
