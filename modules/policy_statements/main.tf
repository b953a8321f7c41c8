# The statements every policy of the stack shares, written once: the deny of plain-HTTP requests that every
# resource policy carries, and the trust policy of every service role (confused-deputy guard included).
data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "deny_insecure_transport" {
  for_each = var.deny_insecure_transport

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = each.value.actions
    resources = each.value.resources

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

data "aws_iam_policy_document" "service_trust" {
  for_each = var.service_trust

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type = "Service"
      # One identifier renders as a plain string, which CodePipeline insists on.
      identifiers = [each.value.service]
    }

    # Confused-deputy guard: the service may assume the role only while acting for this account...
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    # ...and, where the caller knows them, only for these resources.
    dynamic "condition" {
      for_each = length(each.value.source_arns) > 0 ? [each.value.source_arns] : []

      content {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = condition.value
      }
    }
  }
}
