variable "deletion_window_in_days" {
  description = "Days a key waits in PendingDeletion before it is destroyed (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "key_users" {
  description = "Per key family (storage, scratch, logs, messaging, functions, registry), the ARNs of the IAM roles that use the key through the family's services; a family left out names no role."
  type        = map(list(string))
  default     = {}

  validation {
    condition     = alltrue([for family in keys(var.key_users) : contains(["storage", "scratch", "logs", "messaging", "functions", "registry"], family)])
    error_message = "key_users: families are storage, scratch, logs, messaging, functions and registry."
  }

  validation {
    condition     = alltrue(flatten([for arns in values(var.key_users) : [for arn in arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))]]))
    error_message = "key_users: every user is an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "repository_key_users" {
  description = "ARNs of the IAM roles that use the storage key through CodeCommit (the pipeline's repository: its Source action and the deployer that creates it)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.repository_key_users : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "repository_key_users: every user is an IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "name_prefix" {
  description = "Prefix of every key alias (alias/<name_prefix>-<family>) and Name tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every key."
  type        = map(string)
  default     = {}
}
