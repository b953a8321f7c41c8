output "batch_security_group_id" {
  description = "Security group of the render jobs (egress only)."
  value       = aws_security_group.batch.id
}

output "efs_security_group_id" {
  description = "Security group of the EFS mount targets (NFS from the Batch security group only)."
  value       = aws_security_group.efs.id
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints, null when endpoints are disabled."
  value       = try(aws_security_group.endpoints[0].id, null)
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving the VPC flow logs."
  value       = module.log_group.names["flow_logs"]
}

output "private_route_table_id" {
  description = "Route table of the private subnets."
  value       = aws_route_table.private.id
}

output "private_subnet_ids" {
  description = "Private subnet ids, in availability_zones order."
  value       = [for az in var.availability_zones : aws_subnet.private[az].id]
}

output "s3_endpoint_id" {
  description = "Id of the S3 gateway endpoint, null when endpoints are disabled."
  value       = try(aws_vpc_endpoint.s3[0].id, null)
}

output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}
