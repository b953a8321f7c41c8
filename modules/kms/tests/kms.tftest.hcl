# The six family keys against the local cloud: what each key policy grants, and to whom, is checked statement
# by statement, so dropping a condition, widening a principal (no "*"), or a CreateGrant without
# kms:GrantIsForAWSResource fails here.
variables {
  name_prefix = "tt-kms"
}

run "keys" {
  command = apply

  variables {
    deletion_window_in_days = 7
    tags                    = { Owner = "tt-kms" }
    # The local cloud does not look the roles up; AWS insists they exist (the stack creates them first).
    key_users = {
      storage   = ["arn:aws:iam::123456789012:role/tt-kms-worker", "arn:aws:iam::123456789012:role/tt-kms-publish"]
      scratch   = ["arn:aws:iam::123456789012:role/tt-kms-deployer"]
      messaging = ["arn:aws:iam::123456789012:role/tt-kms-workflow"]
    }
    repository_key_users = ["arn:aws:iam::123456789012:role/tt-kms-pipeline"]
  }

  assert {
    condition     = toset(keys(aws_kms_key.this)) == toset(["storage", "scratch", "logs", "messaging", "functions", "registry"])
    error_message = "one key per family: storage, scratch, logs, messaging, functions, registry"
  }

  assert {
    condition = alltrue([for f, k in aws_kms_key.this :
      k.enable_key_rotation && k.key_usage == "ENCRYPT_DECRYPT" && k.deletion_window_in_days == 7
      && k.tags == tomap({ Owner = "tt-kms", Name = "tt-kms-${f}", KeyFamily = f })
    ])
    error_message = "every key rotates, encrypts and decrypts, keeps deletion_window_in_days and carries the tags plus Name and KeyFamily"
  }

  assert {
    condition = output.alias_names == {
      storage   = "alias/tt-kms-storage"
      scratch   = "alias/tt-kms-scratch"
      logs      = "alias/tt-kms-logs"
      messaging = "alias/tt-kms-messaging"
      functions = "alias/tt-kms-functions"
      registry  = "alias/tt-kms-registry"
    }
    error_message = "every family has the alias alias/<name_prefix>-<family>"
  }

  assert {
    condition = alltrue([for f, k in aws_kms_key.this :
      aws_kms_alias.this[f].target_key_id == k.key_id && output.key_ids[f] == k.key_id && output.key_arns[f] == k.arn
    ])
    error_message = "each alias targets its family's key; key_arns and key_ids are per family"
  }

  assert {
    condition     = alltrue([for f, k in aws_kms_key.this : jsondecode(k.policy) == jsondecode(data.aws_iam_policy_document.key[f].json)])
    error_message = "every key carries its family's policy document"
  }

  # What every key policy opens with: the account root administers (AWS's default statement, which is what
  # lets IAM policies count for the key).
  assert {
    condition = alltrue([for f, k in aws_kms_key.this :
      jsondecode(data.aws_iam_policy_document.key[f].json).Statement[0] == {
        Sid       = "AccountRootAdministers"
        Effect    = "Allow"
        Action    = "kms:*"
        Resource  = "*"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      }
    ])
    error_message = "every key policy starts with the account root administering the key"
  }

  # No statement names every principal of the account, and CreateGrant appears only for AWS resources.
  assert {
    condition = alltrue(flatten([for f, k in aws_kms_key.this : [
      for s in jsondecode(data.aws_iam_policy_document.key[f].json).Statement :
      try(s.Principal.AWS, null) != "*" && (
        !contains(flatten([s.Action]), "kms:CreateGrant")
        || try(s.Condition.Bool["kms:GrantIsForAWSResource"], null) == "true"
      )
    ]]))
    error_message = "no key statement admits the principal \"*\"; kms:CreateGrant only with kms:GrantIsForAWSResource true"
  }

  # Principal, Action and ViaService lists come back in set-hash order: compared sorted.
  assert {
    condition = [for s in slice(jsondecode(data.aws_iam_policy_document.key["storage"].json).Statement, 1, 3) : merge(s, {
      Action    = sort(s.Action)
      Principal = { AWS = sort(flatten([s.Principal.AWS])) }
      })] == [
      {
        Sid       = "FamilyRolesUseThroughFamilyServices"
        Effect    = "Allow"
        Action    = sort(["kms:Decrypt", "kms:GenerateDataKey*"])
        Resource  = "*"
        Principal = { AWS = sort(["arn:aws:iam::123456789012:role/tt-kms-worker", "arn:aws:iam::123456789012:role/tt-kms-publish"]) }
        Condition = {
          StringEquals = {
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
            "kms:ViaService"    = "s3.${data.aws_region.current.name}.amazonaws.com"
          }
        }
      },
      {
        Sid       = "RepositoryRolesUseThroughCodeCommit"
        Effect    = "Allow"
        Action    = sort(["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt"])
        Resource  = "*"
        Principal = { AWS = sort(["arn:aws:iam::123456789012:role/tt-kms-pipeline"]) }
        Condition = {
          StringEquals = {
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
            "kms:ViaService"    = "codecommit.${data.aws_region.current.name}.amazonaws.com"
          }
        }
      },
    ] && length(jsondecode(data.aws_iam_policy_document.key["storage"].json).Statement) == 3
    error_message = "storage key: the named roles only generate and decrypt data keys through S3; the repository roles use it through CodeCommit; no grants"
  }

  assert {
    condition = slice(jsondecode(data.aws_iam_policy_document.key["scratch"].json).Statement, 1, 3) == [
      {
        Sid       = "FamilyRolesUseThroughResourceServices"
        Effect    = "Allow"
        Action    = ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt"]
        Resource  = "*"
        Principal = { AWS = "arn:aws:iam::123456789012:role/tt-kms-deployer" }
        Condition = {
          StringEquals = {
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
            "kms:ViaService"    = "elasticfilesystem.${data.aws_region.current.name}.amazonaws.com"
          }
        }
      },
      {
        Sid       = "FamilyRolesLetFamilyServicesCreateGrants"
        Effect    = "Allow"
        Action    = "kms:CreateGrant"
        Resource  = "*"
        Principal = { AWS = "arn:aws:iam::123456789012:role/tt-kms-deployer" }
        Condition = {
          Bool = { "kms:GrantIsForAWSResource" = "true" }
          StringEquals = {
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
            "kms:ViaService"    = "elasticfilesystem.${data.aws_region.current.name}.amazonaws.com"
          }
        }
      },
    ] && length(jsondecode(data.aws_iam_policy_document.key["scratch"].json).Statement) == 3
    error_message = "scratch key: the named role uses it through EFS, and lets EFS create grants for its file systems only"
  }

  # Families no role was named for: the root alone (and the service principals below).
  assert {
    condition = alltrue([for f in ["functions", "registry"] :
      length(jsondecode(data.aws_iam_policy_document.key[f].json).Statement) == 1
    ])
    error_message = "functions and registry keys, with no key_users: only the root statement"
  }

  assert {
    condition = slice(jsondecode(data.aws_iam_policy_document.key["logs"].json).Statement, 1, 2) == [
      {
        Sid       = "LogsEncryptsLogGroups"
        Effect    = "Allow"
        Action    = ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt"]
        Resource  = "*"
        Principal = { Service = "logs.${data.aws_region.current.name}.amazonaws.com" }
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"
          }
        }
      },
    ] && length(jsondecode(data.aws_iam_policy_document.key["logs"].json).Statement) == 2
    error_message = "logs key: CloudWatch Logs of this region may use it, bound to this account's log groups by encryption context"
  }

  assert {
    condition = [for s in slice(jsondecode(data.aws_iam_policy_document.key["messaging"].json).Statement, 1, 3) : merge(s, { Action = sort(s.Action) })] == [
      {
        Sid       = "FamilyRolesUseThroughFamilyServices"
        Effect    = "Allow"
        Action    = sort(["kms:Decrypt", "kms:GenerateDataKey*"])
        Resource  = "*"
        Principal = { AWS = "arn:aws:iam::123456789012:role/tt-kms-workflow" }
        Condition = {
          StringEquals = {
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
            "kms:ViaService"    = ["sns.${data.aws_region.current.name}.amazonaws.com", "sqs.${data.aws_region.current.name}.amazonaws.com"]
          }
        }
      },
      {
        Sid       = "ServicePrincipalsUse"
        Effect    = "Allow"
        Action    = sort(["kms:Decrypt", "kms:GenerateDataKey*"])
        Resource  = "*"
        Principal = { Service = ["sns.amazonaws.com", "events.amazonaws.com"] }
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ] && length(jsondecode(data.aws_iam_policy_document.key["messaging"].json).Statement) == 3
    error_message = "messaging key: the workflow role through SNS and SQS; SNS and EventBridge for this account only; data keys only"
  }
}

run "defaults" {
  command = plan

  assert {
    condition     = alltrue([for f, k in aws_kms_key.this : k.deletion_window_in_days == 30 && k.tags == tomap({ Name = "tt-kms-${f}", KeyFamily = f })])
    error_message = "by default keys wait 30 days in PendingDeletion and carry only Name and KeyFamily"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    deletion_window_in_days = 6
    name_prefix             = "Bad_Prefix"
    key_users               = { storage = ["arn:aws:iam::123456789012:user/someone"] }
    repository_key_users    = ["arn:aws:iam::123456789012:user/someone"]
  }

  expect_failures = [var.deletion_window_in_days, var.name_prefix, var.key_users, var.repository_key_users]
}

run "rejects_unknown_families" {
  command = plan

  variables {
    key_users = { everything = ["arn:aws:iam::123456789012:role/tt-kms-worker"] }
  }

  expect_failures = [var.key_users]
}
