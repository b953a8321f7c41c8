# What the batch module's tests need to really exist: the local cloud's Batch checks that the subnets and the
# security group of a compute environment exist. Also the account and region, to spell expected ARNs.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_vpc" "this" {
  cidr_block = "10.77.0.0/16"
  tags       = { Name = "tt-batch" }
}

resource "aws_subnet" "this" {
  for_each = { a = "10.77.1.0/24", b = "10.77.2.0/24" }

  vpc_id            = aws_vpc.this.id
  cidr_block        = each.value
  availability_zone = "${data.aws_region.current.name}${each.key}"
  tags              = { Name = "tt-batch-${each.key}" }
}

resource "aws_security_group" "this" {
  name        = "tt-batch"
  description = "Render workers of the batch module's tests."
  vpc_id      = aws_vpc.this.id
}

output "account_id" {
  value = data.aws_caller_identity.current.account_id
}

output "region" {
  value = data.aws_region.current.name
}

output "security_group_id" {
  value = aws_security_group.this.id
}

output "subnet_ids" {
  value = [for k in ["a", "b"] : aws_subnet.this[k].id]
}
