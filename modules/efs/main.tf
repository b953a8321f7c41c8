resource "aws_efs_file_system" "this" {
  # No AWS Backup plan: scratch holds only per-run caches and progress records that a rerun rebuilds.
  creation_token   = "${var.name_prefix}-scratch"
  encrypted        = true
  kms_key_id       = var.kms_key_arn
  performance_mode = "generalPurpose"
  throughput_mode  = var.throughput_mode
  tags             = merge(var.tags, { Name = "${var.name_prefix}-scratch" })

  # Scratch is short-lived: files untouched for a while move to IA and come back on first access.
  lifecycle_policy {
    transition_to_ia = var.transition_to_ia
  }

  lifecycle_policy {
    transition_to_primary_storage_class = "AFTER_1_ACCESS"
  }
}

resource "aws_efs_mount_target" "this" {
  count = length(var.subnet_ids)

  file_system_id  = aws_efs_file_system.this.id
  subnet_id       = var.subnet_ids[count.index]
  security_groups = [var.security_group_id]
}

# Every job mounts through this access point: a fixed POSIX identity and a root directory created with it,
# so jobs never see (or need) the file system root.
resource "aws_efs_access_point" "this" {
  file_system_id = aws_efs_file_system.this.id
  tags           = merge(var.tags, { Name = "${var.name_prefix}-scratch" })

  posix_user {
    uid = var.posix_uid
    gid = var.posix_gid
  }

  root_directory {
    path = var.root_directory

    creation_info {
      owner_uid   = var.posix_uid
      owner_gid   = var.posix_gid
      permissions = "0750"
    }
  }
}
