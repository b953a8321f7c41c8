# The shared statements, read from the real provider (its policy documents are computed, not invented).
variables {
  deny_insecure_transport = {
    bucket = { actions = ["s3:*"], resources = ["arn:aws:s3:::b", "arn:aws:s3:::b/*"] }
  }
  service_trust = {
    lambda = { service = "lambda.amazonaws.com" }
    events = { service = "events.amazonaws.com", source_arns = ["arn:aws:events:us-east-1:123456789012:rule/r"] }
  }
}

run "statements" {
  command = plan

  assert {
    condition = jsondecode(output.deny_insecure_transport["bucket"]).Statement == [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = ["arn:aws:s3:::b/*", "arn:aws:s3:::b"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
    error_message = "the TLS-only statement must deny every principal any listed action over plain HTTP"
  }

  assert {
    condition = jsondecode(output.service_trust["lambda"]).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
    error_message = "a trust policy names its service as one string and binds it to this account"
  }

  assert {
    condition = jsondecode(output.service_trust["events"]).Statement[0].Condition == {
      StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      ArnLike      = { "aws:SourceArn" = "arn:aws:events:us-east-1:123456789012:rule/r" }
    }
    error_message = "source_arns add an aws:SourceArn condition beside aws:SourceAccount"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    deny_insecure_transport = { empty = { actions = [], resources = ["arn:aws:s3:::b"] } }
    service_trust           = { bad = { service = "lambda" } }
  }

  expect_failures = [var.deny_insecure_transport, var.service_trust]
}
