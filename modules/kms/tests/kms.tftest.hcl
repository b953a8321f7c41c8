# The six family keys against the local cloud: what each key policy grants, and to whom, is checked statement
# by statement, so dropping a condition or widening a principal fails here.
variables {
  name_prefix = "tt-kms"
}

run "keys" {
  command = apply

  variables {
    deletion_window_in_days = 7
    tags                    = { Owner = "tt-kms" }
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

  # Families whose key only this account's principals use, through one service each.
  assert {
    condition = alltrue([for f, service in { storage = "s3", scratch = "elasticfilesystem", functions = "lambda", registry = "ecr" } :
      jsondecode(data.aws_iam_policy_document.key[f].json).Statement == [
        {
          Sid       = "AccountRootAdministers"
          Effect    = "Allow"
          Action    = "kms:*"
          Resource  = "*"
          Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        },
        {
          Sid       = "AccountUsesThroughFamilyServices"
          Effect    = "Allow"
          Action    = ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt", "kms:CreateGrant"]
          Resource  = "*"
          Principal = { AWS = "*" }
          Condition = {
            StringEquals = {
              "kms:CallerAccount" = data.aws_caller_identity.current.account_id
              "kms:ViaService"    = "${service}.${data.aws_region.current.name}.amazonaws.com"
            }
          }
        },
      ]
    ])
    error_message = "storage, scratch, functions and registry keys: the root administers; account principals use them only via their service"
  }

  assert {
    condition = jsondecode(data.aws_iam_policy_document.key["logs"].json).Statement == [
      {
        Sid       = "AccountRootAdministers"
        Effect    = "Allow"
        Action    = "kms:*"
        Resource  = "*"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      },
      {
        Sid       = "AccountUsesThroughFamilyServices"
        Effect    = "Allow"
        Action    = ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt", "kms:CreateGrant"]
        Resource  = "*"
        Principal = { AWS = "*" }
        Condition = {
          StringEquals = {
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
            "kms:ViaService"    = "logs.${data.aws_region.current.name}.amazonaws.com"
          }
        }
      },
      {
        Sid       = "ServicePrincipalsUse"
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
    ]
    error_message = "logs key: CloudWatch Logs of this region may use it, bound to this account's log groups by encryption context"
  }

  assert {
    condition = jsondecode(data.aws_iam_policy_document.key["messaging"].json).Statement == [
      {
        Sid       = "AccountRootAdministers"
        Effect    = "Allow"
        Action    = "kms:*"
        Resource  = "*"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      },
      {
        Sid       = "AccountUsesThroughFamilyServices"
        Effect    = "Allow"
        Action    = ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt", "kms:CreateGrant"]
        Resource  = "*"
        Principal = { AWS = "*" }
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
        Action    = ["kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Encrypt", "kms:DescribeKey", "kms:Decrypt"]
        Resource  = "*"
        Principal = { Service = ["sns.amazonaws.com", "events.amazonaws.com"] }
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
    error_message = "messaging key: SNS and EventBridge may use it for this account only; account principals via SNS and SQS"
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
  }

  expect_failures = [var.deletion_window_in_days, var.name_prefix]
}
