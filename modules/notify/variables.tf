variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again (60-86400 seconds)."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400
    error_message = "kms_data_key_reuse_period_seconds must be between 60 and 86400."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key (messaging family) that encrypts both topics and all queues (dead-letter queues included)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "max_receive_count" {
  description = "Receives of a message without deletion before it moves to its queue's DLQ (notifications and failure queues alike)."
  type        = number
  default     = 3

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "message_retention_seconds" {
  description = "How long the notifications queue keeps a message (60 s to 14 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "name_prefix" {
  description = "Prefix of topic and queue names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "publisher_role_arns" {
  description = "ARNs of the IAM roles that may publish to both topics (the workflow role); the topic policies name them and nobody else."
  type        = list(string)

  validation {
    condition     = length(var.publisher_role_arns) > 0 && alltrue([for arn in var.publisher_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "publisher_role_arns must list at least one IAM role ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "tags" {
  description = "Tags added to every topic and queue."
  type        = map(string)
  default     = {}
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the notifications and failure queues."
  type        = number
  default     = 30

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200
    error_message = "visibility_timeout_seconds must be between 0 and 43200."
  }
}
