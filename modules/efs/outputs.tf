output "access_point_arn" {
  description = "ARN of the access point jobs mount through."
  value       = aws_efs_access_point.this.arn
}

output "access_point_id" {
  description = "Id of the access point jobs mount through."
  value       = aws_efs_access_point.this.id
}

output "file_system_arn" {
  description = "ARN of the scratch file system."
  value       = aws_efs_file_system.this.arn
}

output "file_system_id" {
  description = "Id of the scratch file system."
  value       = aws_efs_file_system.this.id
}

output "mount_target_ids" {
  description = "Mount target ids, one per subnet."
  value       = aws_efs_mount_target.this[*].id
}
