data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  # Bucket names are global: account and region make them unique without a random suffix.
  buckets = {
    for purpose in ["specs", "renders", "artifacts"] :
    purpose => "${var.name_prefix}-${purpose}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:server access logs would need an SSE-S3 log bucket; CloudTrail data events are the audit path
  #checkov:skip=CKV_AWS_144:cross-region replication is a DR decision per account, not part of the farm
  #checkov:skip=CKV2_AWS_62:nothing consumes object events; the workflow is started explicitly with a spec URI
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { Name = each.value, Purpose = each.key })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}
