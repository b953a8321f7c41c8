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
  dynamic "statement" {
    for_each = length(lookup(var.key_users, each.key, [])) > 0 ? [1] : []

    content {
      sid = "FamilyRolesUseThroughFamilyServices"
      actions = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
      ]
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

  dynamic "statement" {
    for_each = length(each.value.service_principals) > 0 ? [1] : []

    content {
      sid = "ServicePrincipalsUse"
      actions = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
      ]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = each.value.service_principals
      }

      # CloudWatch Logs does not send aws:SourceAccount; it is bound by the log group ARN in the
      # encryption context instead.
      dynamic "condition" {
        for_each = each.key == "logs" ? [] : [1]

        content {
          test     = "StringEquals"
          variable = "aws:SourceAccount"
          values   = [local.account_id]
        }
      }

      dynamic "condition" {
        for_each = each.key == "logs" ? [1] : []

        content {
          test     = "ArnLike"
          variable = "kms:EncryptionContext:aws:logs:arn"
          values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
        }
      }
    }
  }
}
