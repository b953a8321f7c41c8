# Test helper: reads back what modules/pipeline made in the cloud but does not expose (its log groups live in
# modules/log_group), so the tests can check the key and retention the groups really have.
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
