# What EFS mount targets need to exist first: two subnets in two zones and a security group.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:a throw-away test VPC that carries no traffic; the farm's VPC logs flows (modules/network)
  cidr_block = "10.71.0.0/16"
  tags       = { Name = "tt-efs" }
}

resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "this" {
  for_each = { "us-east-1a" = "10.71.0.0/20", "us-east-1b" = "10.71.16.0/20" }

  vpc_id            = aws_vpc.this.id
  availability_zone = each.key
  cidr_block        = each.value
  tags              = { Name = "tt-efs-${each.key}" }
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:attached by the module under test, to its mount targets
  name        = "tt-efs-mount-targets"
  description = "EFS module tests: mount targets"
  vpc_id      = aws_vpc.this.id
}

output "security_group_id" {
  value = aws_security_group.this.id
}

output "subnet_ids" {
  value = [aws_subnet.this["us-east-1a"].id, aws_subnet.this["us-east-1b"].id]
}
