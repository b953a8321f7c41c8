# Reads back what the workflow module made, as the cloud reports it (attributes inside the module's own child
# modules cannot be referenced from a test file). Planned only: data sources, nothing to create or destroy.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "log_group_names" {
  description = "Log groups to read, by key."
  type        = map(string)
}

data "aws_cloudwatch_log_group" "this" {
  for_each = var.log_group_names

  name = each.value
}

output "log_groups" {
  value = { for k, g in data.aws_cloudwatch_log_group.this : k => { retention_in_days = g.retention_in_days, kms_key_id = g.kms_key_id, tags = g.tags } }
}
