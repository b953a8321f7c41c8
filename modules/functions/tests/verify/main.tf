# Reads what the tests compare against, as the cloud reports it: the account and region (to spell expected
# ARNs) and the functions' log groups (attributes inside the module's own child modules cannot be referenced
# from a test file). Planned only: data sources, nothing to create or destroy.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "log_group_names" {
  description = "Log groups to read, by key (none before the module is applied)."
  type        = map(string)
  default     = {}
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

data "aws_cloudwatch_log_group" "this" {
  for_each = var.log_group_names

  name = each.value
}

output "account_id" {
  value = data.aws_caller_identity.current.account_id
}

output "log_groups" {
  value = { for k, g in data.aws_cloudwatch_log_group.this : k => { retention_in_days = g.retention_in_days, kms_key_id = g.kms_key_id, tags = g.tags } }
}

output "region" {
  value = data.aws_region.current.name
}
