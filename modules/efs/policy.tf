# Clients of this account may mount and write only through the access point over TLS; nothing else gets in.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

module "policy_statements" {
  source = "../policy_statements"

  deny_insecure_transport = {
    file_system = { actions = ["*"], resources = [aws_efs_file_system.this.arn] }
  }
}

data "aws_iam_policy_document" "file_system" {
  # DenyInsecureTransport, shared with every resource policy of the stack.
  source_policy_documents = [module.policy_statements.deny_insecure_transport["file_system"]]

  statement {
    sid       = "AccountMountsThroughAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.this.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.this.arn]
    }

    condition {
      test     = "Bool"
      variable = "elasticfilesystem:AccessedViaMountTarget"
      values   = ["true"]
    }
  }
}

resource "aws_efs_file_system_policy" "this" {
  file_system_id = aws_efs_file_system.this.id
  policy         = data.aws_iam_policy_document.file_system.json
}
