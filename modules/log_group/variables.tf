variable "kms_key_arn" {
  description = "ARN of the KMS key (logs family) that encrypts the log groups."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "names" {
  description = "Per key, the name of a log group to create."
  type        = map(string)

  validation {
    condition     = alltrue([for n in values(var.names) : can(regex("^[A-Za-z0-9_./#-]{1,512}$", n))])
    error_message = "names: every log group name must be 1-512 characters of letters, digits and _ . / # -."
  }
}

# The one copy of the list: every module's log_retention_days input reaches CloudWatch Logs through here.
variable "retention_in_days" {
  description = "Days every log group keeps its events (a value CloudWatch Logs accepts)."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.retention_in_days)
    error_message = "retention_in_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  description = "Tags added to every log group."
  type        = map(string)
  default     = {}
}
