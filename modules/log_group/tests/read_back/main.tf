# Test helper shared by the modules that make their log groups through modules/log_group: a test file cannot
# reference resources inside a module's child modules, so it reads the groups back as the cloud reports them.
# Data sources only: nothing to create or destroy. Used as `module { source = "../log_group/tests/read_back" }`.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "log_group_names" {
  description = "Per key, the name of a log group to read."
  type        = map(string)
}

data "aws_cloudwatch_log_group" "this" {
  for_each = var.log_group_names

  name = each.value
}

output "log_groups" {
  description = "Per key, the log group as the cloud reports it."
  value = {
    for k, g in data.aws_cloudwatch_log_group.this : k => {
      arn               = g.arn
      kms_key_id        = g.kms_key_id
      retention_in_days = g.retention_in_days
      tags              = g.tags
    }
  }
}
