variable "completion_topic_arn" {
  description = "SNS topic NotifySuccess publishes the completion message to."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.completion_topic_arn))
    error_message = "completion_topic_arn must be an SNS topic ARN."
  }
}

variable "failure_topic_arn" {
  description = "SNS topic NotifyFailure publishes the failure message to."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.failure_topic_arn))
    error_message = "failure_topic_arn must be an SNS topic ARN."
  }
}

variable "job_definition_arn" {
  description = "Batch job definition (ARN with revision) the Render states submit."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:batch:.*:job-definition/", var.job_definition_arn))
    error_message = "job_definition_arn must be a Batch job definition ARN."
  }
}

variable "job_queue_arns" {
  description = "Batch job queues by priority: bulk (the default; also the scratch clean-up jobs') and urgent. ValidateInput picks the Render states' queue (its job_queue output) from the execution input's priority."
  type        = map(string)

  validation {
    condition     = length(var.job_queue_arns) == 2 && alltrue([for k in ["bulk", "urgent"] : contains(keys(var.job_queue_arns), k)]) && alltrue([for arn in values(var.job_queue_arns) : can(regex("^arn:aws[a-z-]*:batch:.*:job-queue/", arn))])
    error_message = "job_queue_arns must map bulk and urgent to Batch job queue ARNs."
  }
}

variable "log_level" {
  description = "Execution log level (ALL, ERROR, FATAL or OFF). Execution data is never logged: specs may be confidential."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.log_level)
    error_message = "log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "log_retention_days" {
  description = "Retention of the state machine's log group in days (validated by modules/log_group, which makes the group)."
  type        = number
  default     = 30
}

variable "logs_key_arn" {
  description = "KMS key (logs family) encrypting the state machine's log group."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.logs_key_arn))
    error_message = "logs_key_arn must be a KMS key ARN."
  }
}

variable "messaging_key_arn" {
  description = "KMS key (messaging family) of the SNS topics; publishing to them needs it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.messaging_key_arn))
    error_message = "messaging_key_arn must be a KMS key ARN."
  }
}

variable "name_prefix" {
  description = "Prefix of the state machine, role and log group names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "publish_function_arn" {
  description = "ARN of the publish_results `live` alias (what PublishResults invokes)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:.*:function:[^:]+:[A-Za-z0-9_-]+$", var.publish_function_arn))
    error_message = "publish_function_arn must be a qualified (alias) Lambda function ARN."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "tracing_enabled" {
  description = "X-Ray tracing of executions."
  type        = bool
  default     = false
}

variable "validate_function_arn" {
  description = "ARN of the validate_input `live` alias (what ValidateInput invokes)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:.*:function:[^:]+:[A-Za-z0-9_-]+$", var.validate_function_arn))
    error_message = "validate_function_arn must be a qualified (alias) Lambda function ARN."
  }
}
