# The three buckets against the local cloud. Bucket policies name the buckets' ARNs, so they are known only
# after apply: every statement of every bucket's policy is checked there.
provider "aws" {
  s3_use_path_style = true # the local cloud answers on 127.0.0.1, not on <bucket>.s3 host names
}

variables {
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
  name_prefix = "tt-storage"
}

run "buckets" {
  command = apply

  variables {
    abort_multipart_days               = 2
    force_destroy                      = true
    noncurrent_version_expiration_days = 5
    renders_expiration_days            = 90
    renders_transition_days            = 45
    tags                               = { Owner = "tt-storage" }
  }

  assert {
    condition = output.bucket_arns == {
      for p in ["specs", "renders", "artifacts"] :
      p => "arn:aws:s3:::tt-storage-${p}-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
    }
    error_message = "three buckets, specs, renders and artifacts, named <name_prefix>-<purpose>-<account>-<region>"
  }

  assert {
    condition = (
      output.specs_bucket == aws_s3_bucket.this["specs"].id && output.specs_bucket_arn == aws_s3_bucket.this["specs"].arn
      && output.renders_bucket == aws_s3_bucket.this["renders"].id && output.renders_bucket_arn == aws_s3_bucket.this["renders"].arn
      && output.artifacts_bucket == aws_s3_bucket.this["artifacts"].id && output.artifacts_bucket_arn == aws_s3_bucket.this["artifacts"].arn
    )
    error_message = "the per-bucket outputs name the right buckets"
  }

  assert {
    condition = alltrue([for p, b in aws_s3_bucket.this :
      b.force_destroy && b.tags == tomap({ Owner = "tt-storage", Name = b.bucket, Purpose = p })
    ])
    error_message = "force_destroy and tags reach every bucket, plus Name and Purpose"
  }

  assert {
    condition = alltrue([for p, b in aws_s3_bucket.this : jsondecode(data.aws_iam_policy_document.bucket[p].json) == {
      Version = "2012-10-17"
      Statement = [
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "s3:*"
          Resource  = ["${b.arn}/*", b.arn]
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
        {
          Sid       = "DenyNonKmsEncryption"
          Effect    = "Deny"
          Principal = "*"
          Action    = "s3:PutObject"
          Resource  = "${b.arn}/*"
          Condition = { StringNotEqualsIfExists = { "s3:x-amz-server-side-encryption" = "aws:kms" } }
        },
        {
          Sid       = "DenyOtherKmsKeys"
          Effect    = "Deny"
          Principal = "*"
          Action    = "s3:PutObject"
          Resource  = "${b.arn}/*"
          Condition = { StringNotEqualsIfExists = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn } }
        },
      ]
    }])
    error_message = "every bucket policy denies plain HTTP, puts without SSE-KMS and puts naming another key, and nothing more"
  }

  assert {
    condition = alltrue([for p, b in aws_s3_bucket.this :
      aws_s3_bucket_policy.this[p].bucket == b.id
      && jsondecode(aws_s3_bucket_policy.this[p].policy) == jsondecode(data.aws_iam_policy_document.bucket[p].json)
    ])
    error_message = "every bucket carries its policy"
  }

  assert {
    condition = alltrue([for p, b in aws_s3_bucket.this :
      aws_s3_bucket_public_access_block.this[p].bucket == b.id
      && aws_s3_bucket_public_access_block.this[p].block_public_acls
      && aws_s3_bucket_public_access_block.this[p].block_public_policy
      && aws_s3_bucket_public_access_block.this[p].ignore_public_acls
      && aws_s3_bucket_public_access_block.this[p].restrict_public_buckets
      && aws_s3_bucket_ownership_controls.this[p].bucket == b.id
      && aws_s3_bucket_ownership_controls.this[p].rule[0].object_ownership == "BucketOwnerEnforced"
      && aws_s3_bucket_versioning.this[p].bucket == b.id
      && aws_s3_bucket_versioning.this[p].versioning_configuration[0].status == "Enabled"
    ])
    error_message = "every bucket blocks public access, disables ACLs and keeps versions"
  }

  assert {
    condition = alltrue([for p, b in aws_s3_bucket.this :
      aws_s3_bucket_server_side_encryption_configuration.this[p].bucket == b.id
      && one(aws_s3_bucket_server_side_encryption_configuration.this[p].rule).bucket_key_enabled
      && one(aws_s3_bucket_server_side_encryption_configuration.this[p].rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms"
      && one(aws_s3_bucket_server_side_encryption_configuration.this[p].rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn
    ])
    error_message = "every bucket encrypts with SSE-KMS under the storage key, with bucket keys"
  }

  assert {
    condition = alltrue([for p, b in aws_s3_bucket.this :
      aws_s3_bucket_lifecycle_configuration.this[p].bucket == b.id
      && aws_s3_bucket_lifecycle_configuration.this[p].rule[0].id == "housekeeping"
      && aws_s3_bucket_lifecycle_configuration.this[p].rule[0].status == "Enabled"
      && aws_s3_bucket_lifecycle_configuration.this[p].rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 2
      && aws_s3_bucket_lifecycle_configuration.this[p].rule[0].noncurrent_version_expiration[0].noncurrent_days == 5
      && length(aws_s3_bucket_lifecycle_configuration.this[p].rule) == (p == "renders" ? 2 : 1)
    ])
    error_message = "every bucket aborts stale multipart uploads and expires superseded versions as configured; only renders has a second rule"
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.this["renders"].rule[1].id == "renders-age-out"
      && aws_s3_bucket_lifecycle_configuration.this["renders"].rule[1].status == "Enabled"
      && [for t in aws_s3_bucket_lifecycle_configuration.this["renders"].rule[1].transition : [t.days, t.storage_class]] == [[45, "STANDARD_IA"]]
      && aws_s3_bucket_lifecycle_configuration.this["renders"].rule[1].expiration[0].days == 90
    )
    error_message = "renders move to STANDARD_IA after renders_transition_days and expire after renders_expiration_days"
  }
}

run "defaults" {
  command = plan

  assert {
    condition     = alltrue([for p, b in aws_s3_bucket.this : !b.force_destroy && b.tags == tomap({ Name = b.bucket, Purpose = p })])
    error_message = "by default destroy keeps non-empty buckets, and only Name and Purpose tags are set"
  }

  assert {
    condition = alltrue([for p, l in aws_s3_bucket_lifecycle_configuration.this :
      l.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 7
      && l.rule[0].noncurrent_version_expiration[0].noncurrent_days == 30
    ])
    error_message = "by default multipart uploads are aborted after 7 days and superseded versions kept 30 days"
  }

  assert {
    condition = (
      [for t in aws_s3_bucket_lifecycle_configuration.this["renders"].rule[1].transition : [t.days, t.storage_class]] == [[30, "STANDARD_IA"]]
      && aws_s3_bucket_lifecycle_configuration.this["renders"].rule[1].expiration[0].days == 365
    )
    error_message = "by default renders move to STANDARD_IA after 30 days and expire after 365"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    abort_multipart_days               = 0
    kms_key_arn                        = "alias/storage"
    name_prefix                        = "a-prefix-far-too-long-for-buckets"
    noncurrent_version_expiration_days = 0
    renders_expiration_days            = 30
    renders_transition_days            = 29
  }

  expect_failures = [
    var.abort_multipart_days,
    var.kms_key_arn,
    var.name_prefix,
    var.noncurrent_version_expiration_days,
    var.renders_expiration_days,
    var.renders_transition_days,
  ]
}
