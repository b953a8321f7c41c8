# Key policies: the account root keeps administration (so IAM policies can grant use and nobody is locked
# out); use is limited to this account's principals through the family's services, plus the service
# principals that encrypt or decrypt on our behalf, scoped to this account with aws:SourceAccount.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:in a key policy the resource "*" is this key alone; administration stays with the account root
  #checkov:skip=CKV_AWS_111:in a key policy the resource "*" is this key alone; use is bound by ViaService, CallerAccount or SourceAccount
  #checkov:skip=CKV_AWS_356:in a key policy the resource "*" is this key alone, it cannot be narrowed further
  for_each = local.families

  statement {
    sid       = "AccountRootAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "AccountUsesThroughFamilyServices"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey*",
      "kms:ReEncrypt*",
      "kms:CreateGrant",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
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
