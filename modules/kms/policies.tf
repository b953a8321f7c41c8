# Key policies: the account root keeps administration; the roles that use a key (var.key_users) are named,
# each bound to the family's services (kms:ViaService) and this account; the service principals that encrypt
# or decrypt on our behalf are scoped to this account with aws:SourceAccount.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:in a key policy the resource "*" is this key alone; administration stays with the account root
  #checkov:skip=CKV_AWS_111:in a key policy the resource "*" is this key alone; use is bound to named roles, ViaService, CallerAccount or SourceAccount
  #checkov:skip=CKV_AWS_356:in a key policy the resource "*" is this key alone, it cannot be narrowed further
  for_each = local.families

  # AWS's default key policy statement, kept on purpose: root's kms:* is what makes IAM policies count for
  # this key at all (without it only the principals named below could use it, and a lost role would lock the
  # key out for good). It grants nothing by itself: a principal still needs an IAM policy allowing the action.
  statement {
    # iam-report: AWS's default statement: delegates the key to the account's IAM policies (every use an IAM
    # policy grants goes through it) and keeps its administration with the account (Terraform, whose admin
    # credentials the local cloud does not record).
    sid       = "AccountRootAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # The roles of this stack that use the key (var.key_users), each only through the family's services and
  # for this account. Nobody else in the account uses it unless an IAM policy grants it (the root statement).
  # S3, SNS and SQS only generate and decrypt data keys for them.
  dynamic "statement" {
    for_each = !each.value.grants && length(lookup(var.key_users, each.key, [])) > 0 ? [1] : []

    content {
      sid       = "FamilyRolesUseThroughFamilyServices"
      actions   = each.value.role_actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.key_users[each.key]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for service in each.value.via_services : "${service}.${local.region}.amazonaws.com"]
      }
    }
  }

  # The same for the families whose service encrypts an AWS resource for the role that creates or runs it
  # (EFS file systems, Lambda environments, ECR images).
  dynamic "statement" {
    for_each = each.value.grants && length(lookup(var.key_users, each.key, [])) > 0 ? [1] : []

    content {
      # iam-report: aws EFS, Lambda and ECR: encrypt and decrypt the file system, the functions' environments and
      # the images for the deployer and the roles that run them (the local cloud models none of these
      # encryptions, localcloud/README.md).
      sid       = "FamilyRolesUseThroughResourceServices"
      actions   = each.value.role_actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.key_users[each.key]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for service in each.value.via_services : "${service}.${local.region}.amazonaws.com"]
      }
    }
  }

  # Grants only for the AWS resources the family's service encrypts (an EFS file system, an ECR repository, a
  # Lambda environment), never a grant a role could hand to someone else.
  dynamic "statement" {
    for_each = each.value.grants && length(lookup(var.key_users, each.key, [])) > 0 ? [1] : []

    content {
      # iam-report: aws EFS, Lambda and ECR: create a grant on the key for the resource they encrypt when the
      # deployer creates it (the pipeline's deploy build; the local stack is deployed with admin credentials).
      sid       = "FamilyRolesLetFamilyServicesCreateGrants"
      actions   = ["kms:CreateGrant"]
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.key_users[each.key]
      }

      condition {
        test     = "Bool"
        variable = "kms:GrantIsForAWSResource"
        values   = ["true"]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [for service in each.value.via_services : "${service}.${local.region}.amazonaws.com"]
      }
    }
  }

  # The pipeline's CodeCommit repository (storage key): CodeCommit encrypts and decrypts it for the roles that
  # create it and read it (CodeCommit User Guide, "AWS KMS and encryption": Encrypt, Decrypt, ReEncrypt,
  # GenerateDataKey*, DescribeKey).
  dynamic "statement" {
    for_each = each.key == "storage" && length(var.repository_key_users) > 0 ? [1] : []

    content {
      # iam-report: aws CodeCommit: encrypts and decrypts the pipeline's repository for the pipeline's Source
      # action and the deployer (the pipeline does not run locally yet, issue 16).
      sid       = "RepositoryRolesUseThroughCodeCommit"
      actions   = local.resource_actions
      resources = ["*"]

      principals {
        type        = "AWS"
        identifiers = var.repository_key_users
      }

      condition {
        test     = "StringEquals"
        variable = "kms:CallerAccount"
        values   = [local.account_id]
      }

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["codecommit.${local.region}.amazonaws.com"]
      }
    }
  }

  # The service principals that deliver into the family's resources (SNS and EventBridge into encrypted queues:
  # data keys only), for this account.
  dynamic "statement" {
    for_each = length(each.value.service_principals) > 0 && each.key != "logs" ? [1] : []

    content {
      sid       = "ServicePrincipalsUse"
      actions   = each.value.service_actions
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = each.value.service_principals
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  # CloudWatch Logs encrypting this account's log groups. It does not send aws:SourceAccount; it is bound by the
  # log group ARN in the encryption context instead.
  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []

    content {
      # iam-report: aws CloudWatch Logs: encrypts and decrypts the log groups' data with the key (the local cloud
      # does not check Logs' own use of a group's key, localcloud/README.md).
      sid       = "LogsEncryptsLogGroups"
      actions   = each.value.service_actions
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = each.value.service_principals
      }

      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
      }
    }
  }
}
