# Reads back the flow log group the network module made through modules/log_group, to check what reached
# CloudWatch Logs (its retention and key) from the network module's own inputs.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "name" {
  description = "Name of the log group to read."
  type        = string
}

data "aws_cloudwatch_log_group" "this" {
  name = var.name
}

output "kms_key_id" {
  value = data.aws_cloudwatch_log_group.this.kms_key_id
}

output "retention_in_days" {
  value = data.aws_cloudwatch_log_group.this.retention_in_days
}

output "tags" {
  value = data.aws_cloudwatch_log_group.this.tags
}
