variables {
  kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  names             = { worker = "/tftest/log-group/worker", builds = "/tftest/log-group/builds" }
  retention_in_days = 14
  tags              = { Owner = "tftest" }
}

run "creates_encrypted_groups" {
  command = apply

  assert {
    condition     = tomap(output.names) == var.names
    error_message = "one log group per key, named as given"
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.retention_in_days == 14 && g.kms_key_id == var.kms_key_arn && g.tags["Owner"] == "tftest"])
    error_message = "every group keeps the retention, the key and the tags"
  }

  assert {
    condition     = output.arns["worker"] == aws_cloudwatch_log_group.this["worker"].arn && !endswith(output.arns["worker"], ":*")
    error_message = "arns are the groups' ARNs without the trailing :*"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    kms_key_arn       = "alias/logs"
    names             = { bad = "has spaces" }
    retention_in_days = 10
  }

  expect_failures = [var.kms_key_arn, var.names, var.retention_in_days]
}
