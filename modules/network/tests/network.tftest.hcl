# The VPC against the local cloud: subnets, closed security groups, endpoints, and flow logs whose role trust
# and write policies are checked statement by statement after apply (they name the log group's ARN).
variables {
  availability_zones = ["us-east-1a", "us-east-1b"]
  logs_kms_key_arn   = "arn:aws:kms:us-east-1:123456789012:key/44444444-4444-4444-4444-444444444444"
  name_prefix        = "tt-network"
  vpc_cidr           = "10.72.0.0/16"
}

run "network" {
  command = apply

  variables {
    interface_endpoint_services = ["logs", "sts"]
    log_retention_days          = 14
    tags                        = { Owner = "tt-network" }
  }

  assert {
    condition = (
      aws_vpc.this.cidr_block == "10.72.0.0/16" && aws_vpc.this.enable_dns_hostnames && aws_vpc.this.enable_dns_support
      && aws_vpc.this.tags == tomap({ Owner = "tt-network", Name = "tt-network" })
      && output.vpc_id == aws_vpc.this.id
    )
    error_message = "the VPC has the CIDR, DNS on, and the tags plus its Name"
  }

  assert {
    condition = (
      [for az in var.availability_zones : [aws_subnet.private[az].availability_zone, aws_subnet.private[az].cidr_block]] == [["us-east-1a", "10.72.0.0/20"], ["us-east-1b", "10.72.16.0/20"]]
      && alltrue([for s in aws_subnet.private : !s.map_public_ip_on_launch && s.vpc_id == aws_vpc.this.id && s.tags["Tier"] == "private" && s.tags["Owner"] == "tt-network"])
      && output.private_subnet_ids == [aws_subnet.private["us-east-1a"].id, aws_subnet.private["us-east-1b"].id]
    )
    error_message = "one private /20 subnet per zone, in availability_zones order, with no public IPs"
  }

  assert {
    condition = (
      alltrue([for az, a in aws_route_table_association.private : a.subnet_id == aws_subnet.private[az].id && a.route_table_id == aws_route_table.private.id])
      && length(aws_route_table_association.private) == 2
      && output.private_route_table_id == aws_route_table.private.id
    )
    error_message = "every private subnet uses the private route table"
  }

  assert {
    condition     = aws_default_security_group.this.vpc_id == aws_vpc.this.id && length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "the default security group is closed: no ingress, no egress"
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.batch_https.security_group_id == aws_security_group.batch.id
      && [aws_vpc_security_group_egress_rule.batch_https.ip_protocol, aws_vpc_security_group_egress_rule.batch_https.from_port, aws_vpc_security_group_egress_rule.batch_https.to_port] == ["tcp", 443, 443]
      && aws_vpc_security_group_egress_rule.batch_https.cidr_ipv4 == "0.0.0.0/0"
      && aws_vpc_security_group_egress_rule.batch_nfs.security_group_id == aws_security_group.batch.id
      && [aws_vpc_security_group_egress_rule.batch_nfs.ip_protocol, aws_vpc_security_group_egress_rule.batch_nfs.from_port, aws_vpc_security_group_egress_rule.batch_nfs.to_port] == ["tcp", 2049, 2049]
      && aws_vpc_security_group_egress_rule.batch_nfs.referenced_security_group_id == aws_security_group.efs.id
      && aws_vpc_security_group_ingress_rule.efs_nfs_from_batch.security_group_id == aws_security_group.efs.id
      && [aws_vpc_security_group_ingress_rule.efs_nfs_from_batch.ip_protocol, aws_vpc_security_group_ingress_rule.efs_nfs_from_batch.from_port, aws_vpc_security_group_ingress_rule.efs_nfs_from_batch.to_port] == ["tcp", 2049, 2049]
      && aws_vpc_security_group_ingress_rule.efs_nfs_from_batch.referenced_security_group_id == aws_security_group.batch.id
      && aws_security_group.batch.name == "tt-network-batch" && aws_security_group.efs.name == "tt-network-efs"
      && output.batch_security_group_id == aws_security_group.batch.id && output.efs_security_group_id == aws_security_group.efs.id
    )
    error_message = "jobs may send HTTPS anywhere and NFS to the EFS group only; EFS takes NFS from the jobs only"
  }

  assert {
    condition = (
      aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway"
      && aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.us-east-1.s3"
      && aws_vpc_endpoint.s3[0].route_table_ids == toset([aws_route_table.private.id])
      && output.s3_endpoint_id == aws_vpc_endpoint.s3[0].id
    )
    error_message = "with endpoints, S3 is reached through a gateway endpoint on the private route table"
  }

  assert {
    condition = (
      toset(keys(aws_vpc_endpoint.interface)) == toset(["logs", "sts"])
      && alltrue([for s, e in aws_vpc_endpoint.interface :
        e.service_name == "com.amazonaws.us-east-1.${s}" && e.vpc_endpoint_type == "Interface" && e.private_dns_enabled
        && e.subnet_ids == toset(output.private_subnet_ids) && e.security_group_ids == toset([aws_security_group.endpoints[0].id])
      ])
      && aws_vpc_security_group_ingress_rule.endpoints_https_from_batch[0].security_group_id == aws_security_group.endpoints[0].id
      && aws_vpc_security_group_ingress_rule.endpoints_https_from_batch[0].referenced_security_group_id == aws_security_group.batch.id
      && aws_vpc_security_group_ingress_rule.endpoints_https_from_batch[0].from_port == 443
      && aws_vpc_security_group_ingress_rule.endpoints_https_from_batch[0].to_port == 443
      && output.endpoint_security_group_id == aws_security_group.endpoints[0].id
    )
    error_message = "one interface endpoint per interface_endpoint_services entry, in the private subnets, taking HTTPS from the jobs only"
  }

  assert {
    condition = (
      aws_flow_log.this.vpc_id == aws_vpc.this.id && aws_flow_log.this.traffic_type == "ALL"
      && aws_flow_log.this.log_destination_type == "cloud-watch-logs"
      && aws_flow_log.this.log_destination == "arn:aws:logs:us-east-1:${split(":", aws_vpc.this.arn)[4]}:log-group:/tt-network/vpc-flow-logs"
      && aws_flow_log.this.iam_role_arn == aws_iam_role.flow_logs.arn
      && output.flow_log_group_name == "/tt-network/vpc-flow-logs"
    )
    error_message = "all traffic of the VPC is logged to /<name_prefix>/vpc-flow-logs through the flow logs role"
  }

  assert {
    condition = aws_iam_role.flow_logs.name == "tt-network-vpc-flow-logs" && jsondecode(aws_iam_role.flow_logs.assume_role_policy) == {
      Version = "2012-10-17"
      Statement = [{
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "vpc-flow-logs.amazonaws.com" }
        Condition = {
          StringEquals = { "aws:SourceAccount" = split(":", aws_vpc.this.arn)[4] }
          ArnLike      = { "aws:SourceArn" = "arn:aws:ec2:${split(":", aws_vpc.this.arn)[3]}:${split(":", aws_vpc.this.arn)[4]}:vpc-flow-log/*" }
        }
      }]
    }
    error_message = "only VPC Flow Logs may assume the role, and only while acting for a flow log of this account and region"
  }

  assert {
    condition = aws_iam_role_policy.flow_logs.role == aws_iam_role.flow_logs.id && jsondecode(aws_iam_role_policy.flow_logs.policy) == {
      Version = "2012-10-17"
      Statement = [{
        Sid      = "PublishFlowLogs"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents", "logs:DescribeLogStreams", "logs:CreateLogStream"]
        Resource = "arn:aws:logs:us-east-1:${split(":", aws_vpc.this.arn)[4]}:log-group:/tt-network/vpc-flow-logs:*"
      }]
    }
    error_message = "the flow logs role may write to its own log group only"
  }
}

run "flow_log_group" {
  command = plan

  module {
    source = "./tests/verify"
  }

  variables {
    name = run.network.flow_log_group_name
  }

  assert {
    condition     = output.retention_in_days == 14 && output.kms_key_id == var.logs_kms_key_arn && output.tags == tomap({ Owner = "tt-network" })
    error_message = "the flow log group keeps log_retention_days, is encrypted with the logs key and carries the tags"
  }
}

run "without_endpoints" {
  command = plan

  variables {
    availability_zones   = ["us-east-1a", "us-east-1b", "us-east-1c"]
    enable_vpc_endpoints = false
  }

  assert {
    condition = (
      length(aws_vpc_endpoint.s3) == 0 && length(aws_vpc_endpoint.interface) == 0
      && length(aws_security_group.endpoints) == 0 && length(aws_vpc_security_group_ingress_rule.endpoints_https_from_batch) == 0
      && output.s3_endpoint_id == null && output.endpoint_security_group_id == null
    )
    error_message = "enable_vpc_endpoints = false creates no endpoint, no endpoint security group, and the outputs are null"
  }

  assert {
    condition     = { for az, s in aws_subnet.private : az => s.cidr_block } == { "us-east-1a" = "10.72.0.0/20", "us-east-1b" = "10.72.16.0/20", "us-east-1c" = "10.72.32.0/20" }
    error_message = "a third zone adds a third /20 subnet"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    availability_zones          = ["us-east-1a", "us-east-1a"]
    interface_endpoint_services = ["ECR API"]
    logs_kms_key_arn            = "alias/logs"
    name_prefix                 = "TT"
    vpc_cidr                    = "10.72.0.0/25"
  }

  expect_failures = [
    var.availability_zones,
    var.interface_endpoint_services,
    var.logs_kms_key_arn,
    var.name_prefix,
    var.vpc_cidr,
  ]
}
