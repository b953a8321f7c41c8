# TLS only, and every put names SSE-KMS with the storage key. IAM evaluates a negated ...IfExists condition on
# a missing key as true, so a put without both headers is denied too: every writer (worker, Lambdas, `farm
# submit`, CodePipeline's KMS artifact store) sends them.
module "policy_statements" {
  source = "../policy_statements"

  deny_insecure_transport = {
    for purpose in keys(local.buckets) : purpose => {
      actions   = ["s3:*"]
      resources = [aws_s3_bucket.this[purpose].arn, "${aws_s3_bucket.this[purpose].arn}/*"]
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  for_each = aws_s3_bucket.this

  # DenyInsecureTransport, shared with every resource policy of the stack.
  source_policy_documents = [module.policy_statements.deny_insecure_transport[each.key]]

  statement {
    sid       = "DenyNonKmsEncryption"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyOtherKmsKeys"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [var.kms_key_arn]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  # The public access block must exist first, or a policy change can race it.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
