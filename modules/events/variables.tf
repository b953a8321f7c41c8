variable "job_queue_arns" {
  description = "ARNs of the Batch job queues whose job state changes are captured."
  type        = list(string)

  validation {
    condition     = length(var.job_queue_arns) > 0 && alltrue([for arn in var.job_queue_arns : can(regex("^arn:aws[a-z-]*:batch:[a-z0-9-]+:[0-9]{12}:job-queue/", arn))])
    error_message = "job_queue_arns must be one or more Batch job queue ARNs."
  }
}

variable "log_retention_days" {
  description = "Retention of the job state log group, in days (a value CloudWatch Logs accepts; validated by modules/log_group, which makes the group)."
  type        = number
  default     = 30
}

variable "logs_kms_key_arn" {
  description = "ARN of the KMS key (logs family) that encrypts the log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be a KMS key ARN."
  }
}

variable "message_retention_seconds" {
  description = "How long the capture queue keeps an event (60 s to 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "messaging_kms_key_arn" {
  description = "ARN of the KMS key (messaging family) that encrypts the capture queue."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.messaging_kms_key_arn))
    error_message = "messaging_kms_key_arn must be a KMS key ARN."
  }
}

variable "name_prefix" {
  description = "Prefix of the rule, log group, queue and policy names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
