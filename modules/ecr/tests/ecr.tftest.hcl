# The worker image repository against the local cloud: immutable tags, scan on push, KMS encryption, and the
# lifecycle policy checked rule by rule.
variables {
  kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  repository_name = "tt-ecr/render-worker"
}

run "repository" {
  command = apply

  variables {
    force_delete         = true
    keep_tagged_images   = 5
    tags                 = { Owner = "tt-ecr" }
    untagged_expiry_days = 2
  }

  assert {
    condition = (
      aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
      && aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
      && aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS"
      && aws_ecr_repository.this.encryption_configuration[0].kms_key == var.kms_key_arn
    )
    error_message = "tags are immutable, images are scanned on push and encrypted with the registry key"
  }

  assert {
    condition     = aws_ecr_repository.this.force_delete && aws_ecr_repository.this.tags == tomap({ Owner = "tt-ecr", Name = "tt-ecr/render-worker" })
    error_message = "force_delete and tags reach the repository, plus a Name tag"
  }

  assert {
    condition = (
      output.repository_name == "tt-ecr/render-worker"
      && output.repository_arn == aws_ecr_repository.this.arn
      && endswith(output.repository_arn, ":repository/tt-ecr/render-worker")
      && endswith(output.repository_url, "/tt-ecr/render-worker")
    )
    error_message = "outputs name the repository, its ARN and its push URL"
  }

  assert {
    condition = jsondecode(aws_ecr_lifecycle_policy.this.policy) == {
      rules = [
        {
          rulePriority = 1
          description  = "Expire untagged images after 2 days"
          selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 2 }
          action       = { type = "expire" }
        },
        {
          rulePriority = 2
          description  = "Keep the newest 5 tagged images"
          selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 5 }
          action       = { type = "expire" }
        },
      ]
    }
    error_message = "the lifecycle policy expires untagged images after untagged_expiry_days and keeps keep_tagged_images images"
  }

  assert {
    condition     = aws_ecr_lifecycle_policy.this.repository == "tt-ecr/render-worker"
    error_message = "the lifecycle policy belongs to the repository"
  }
}

run "defaults" {
  command = plan

  assert {
    condition     = !aws_ecr_repository.this.force_delete && aws_ecr_repository.this.tags == tomap({ Name = "tt-ecr/render-worker" })
    error_message = "by default destroy keeps a repository that holds images, and only the Name tag is set"
  }

  assert {
    condition     = [for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : r.selection.countNumber] == [7, 30]
    error_message = "by default untagged images expire after 7 days and the newest 30 images are kept"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    keep_tagged_images   = 0
    kms_key_arn          = "alias/registry"
    repository_name      = "Bad Name"
    untagged_expiry_days = 1.5
  }

  expect_failures = [var.keep_tagged_images, var.kms_key_arn, var.repository_name, var.untagged_expiry_days]
}
