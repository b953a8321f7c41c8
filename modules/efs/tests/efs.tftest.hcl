# The scratch file system against the local cloud, with real subnets and a security group (tests/setup) for
# its mount targets. The file system policy names the file system and access point ARNs, so it is checked
# after apply, statement by statement.
variables {
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333"
  name_prefix = "tt-efs"
}

run "setup" {
  module {
    source = "./tests/setup"
  }
}

run "scratch" {
  command = apply

  variables {
    posix_gid         = 3000
    posix_uid         = 2000
    root_directory    = "/tt-scratch"
    security_group_id = run.setup.security_group_id
    subnet_ids        = run.setup.subnet_ids
    tags              = { Owner = "tt-efs" }
    throughput_mode   = "bursting"
    transition_to_ia  = "AFTER_14_DAYS"
  }

  assert {
    condition = jsondecode(data.aws_iam_policy_document.file_system.json) == {
      Version = "2012-10-17"
      Statement = [
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "*"
          Resource  = aws_efs_file_system.this.arn
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
        {
          Sid       = "AccountMountsThroughAccessPoint"
          Effect    = "Allow"
          Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
          Action    = ["elasticfilesystem:ClientWrite", "elasticfilesystem:ClientMount"]
          Resource  = aws_efs_file_system.this.arn
          Condition = {
            StringEquals = { "elasticfilesystem:AccessPointArn" = aws_efs_access_point.this.arn }
            Bool         = { "elasticfilesystem:AccessedViaMountTarget" = "true" }
          }
        },
      ]
    }
    error_message = "the file system policy denies every request without TLS and lets this account mount and write only through the access point and a mount target"
  }

  assert {
    condition = (
      aws_efs_file_system_policy.this.file_system_id == aws_efs_file_system.this.id
      && jsondecode(aws_efs_file_system_policy.this.policy) == jsondecode(data.aws_iam_policy_document.file_system.json)
    )
    error_message = "the file system carries its policy"
  }

  assert {
    condition = (
      aws_efs_file_system.this.encrypted && aws_efs_file_system.this.kms_key_id == var.kms_key_arn
      && aws_efs_file_system.this.creation_token == "tt-efs-scratch"
      && aws_efs_file_system.this.performance_mode == "generalPurpose"
      && aws_efs_file_system.this.throughput_mode == "bursting"
      && aws_efs_file_system.this.tags == tomap({ Owner = "tt-efs", Name = "tt-efs-scratch" })
    )
    error_message = "the file system is encrypted with the scratch key and keeps the creation token, throughput mode and tags"
  }

  assert {
    condition = (
      [for p in aws_efs_file_system.this.lifecycle_policy : p.transition_to_ia if p.transition_to_ia != ""] == ["AFTER_14_DAYS"]
      && [for p in aws_efs_file_system.this.lifecycle_policy : p.transition_to_primary_storage_class if p.transition_to_primary_storage_class != ""] == ["AFTER_1_ACCESS"]
    )
    error_message = "untouched files move to IA after transition_to_ia and come back on first access"
  }

  assert {
    condition = (
      length(aws_efs_mount_target.this) == 2
      && [for t in aws_efs_mount_target.this : t.subnet_id] == run.setup.subnet_ids
      && alltrue([for t in aws_efs_mount_target.this : t.file_system_id == aws_efs_file_system.this.id && t.security_groups == toset([run.setup.security_group_id])])
      && output.mount_target_ids == aws_efs_mount_target.this[*].id
    )
    error_message = "one mount target per subnet, behind the given security group"
  }

  assert {
    condition = (
      aws_efs_access_point.this.file_system_id == aws_efs_file_system.this.id
      && aws_efs_access_point.this.posix_user[0].uid == 2000 && aws_efs_access_point.this.posix_user[0].gid == 3000
      && aws_efs_access_point.this.root_directory[0].path == "/tt-scratch"
      && aws_efs_access_point.this.root_directory[0].creation_info[0].owner_uid == 2000
      && aws_efs_access_point.this.root_directory[0].creation_info[0].owner_gid == 3000
      && aws_efs_access_point.this.root_directory[0].creation_info[0].permissions == "0750"
      && aws_efs_access_point.this.tags == tomap({ Owner = "tt-efs", Name = "tt-efs-scratch" })
    )
    error_message = "the access point pins posix_uid/posix_gid and exposes root_directory, created 0750 for that owner"
  }

  assert {
    condition = (
      output.file_system_id == aws_efs_file_system.this.id && output.file_system_arn == aws_efs_file_system.this.arn
      && output.access_point_id == aws_efs_access_point.this.id && output.access_point_arn == aws_efs_access_point.this.arn
    )
    error_message = "outputs name the file system and its access point"
  }
}

run "defaults" {
  command = plan

  variables {
    security_group_id = run.setup.security_group_id
    subnet_ids        = [run.setup.subnet_ids[0]]
  }

  assert {
    condition = (
      aws_efs_file_system.this.throughput_mode == "elastic"
      && [for p in aws_efs_file_system.this.lifecycle_policy : p.transition_to_ia if p.transition_to_ia != ""] == ["AFTER_7_DAYS"]
      && aws_efs_file_system.this.tags == tomap({ Name = "tt-efs-scratch" })
    )
    error_message = "by default throughput is elastic, files move to IA after 7 days, and only the Name tag is set"
  }

  assert {
    condition = (
      aws_efs_access_point.this.posix_user[0].uid == 10001 && aws_efs_access_point.this.posix_user[0].gid == 10001
      && aws_efs_access_point.this.root_directory[0].path == "/scratch"
    )
    error_message = "by default jobs are 10001:10001 (the worker image's user) and see /scratch"
  }

  assert {
    condition     = length(aws_efs_mount_target.this) == 1
    error_message = "one subnet, one mount target"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    kms_key_arn       = "alias/scratch"
    name_prefix       = "-bad"
    posix_gid         = -1
    posix_uid         = 0
    root_directory    = "/"
    security_group_id = "subnet-12345678"
    subnet_ids        = []
    throughput_mode   = "fast"
    transition_to_ia  = "WEEKLY"
  }

  expect_failures = [
    var.kms_key_arn,
    var.name_prefix,
    var.posix_gid,
    var.posix_uid,
    var.root_directory,
    var.security_group_id,
    var.subnet_ids,
    var.throughput_mode,
    var.transition_to_ia,
  ]
}
