# Every bucket: old versions expire and abandoned multipart uploads are cleaned up. Renders also move to
# infrequent access and expire, because a run's output is downloaded soon after it is published.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_multipart_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  dynamic "rule" {
    for_each = each.key == "renders" ? [1] : []

    content {
      id     = "renders-age-out"
      status = "Enabled"

      filter {}

      transition {
        days          = var.renders_transition_days
        storage_class = "STANDARD_IA"
      }

      expiration {
        days = var.renders_expiration_days
      }
    }
  }

  # Versioning must be on before noncurrent-version rules mean anything.
  depends_on = [aws_s3_bucket_versioning.this]
}
