# The functions module on the local cloud, deploying the harness-built zips (the runner sets
# TF_VAR_lambda_zip_dir): the roles' policies as IAM stores them, the functions, their log groups, the `live`
# aliases in both ownership modes, the optional inputs, and every input validation.
variables {
  name_prefix        = "tt-functions"
  functions_key_arn  = "arn:aws:kms:us-east-1:123456789012:key/33333333-3333-3333-3333-333333333333"
  job_queue_arns     = { bulk = "arn:aws:batch:us-east-1:123456789012:job-queue/tt-functions-queue", urgent = "arn:aws:batch:us-east-1:123456789012:job-queue/tt-functions-urgent" }
  job_resources      = { vcpu = 2, memory_mib = 4096 }
  log_retention_days = 7
  logs_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  max_spec_bytes     = 1048576
  prices_json        = "{\"fargate\":{\"vcpu_hour\":0.04048,\"gb_hour\":0.004445},\"fargate_spot\":{\"vcpu_hour\":0.01334053,\"gb_hour\":0.00146489},\"kms_key_month\":1.0,\"interface_endpoint_az_hour\":0.01,\"nat_gateway_hour\":0.045,\"efs_standard_gb_month\":0.3,\"logs_ingest_gb\":0.5,\"logs_storage_gb_month\":0.03,\"s3_standard_gb_month\":0.023,\"region\":\"us-east-1\",\"currency\":\"USD\",\"date\":\"2026-11-30\",\"source\":[\"https://aws.amazon.com/fargate/pricing/\"],\"fargate_minimum_billed_s\":60,\"hours_per_month\":730}"
  renders_bucket     = "tt-functions-renders"
  renders_bucket_arn = "arn:aws:s3:::tt-functions-renders"
  runtime            = "python3.11"
  sizing             = { child_variants_per_s = 200, child_start_s = 0.5, storage_puts_per_s = 250, max_parallel_children = 2 }
  specs_bucket_arn   = "arn:aws:s3:::tt-functions-specs"
  storage_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
  tags               = { Owner = "tftest" }
}

# The account and region, to spell the expected ARNs.
run "identity" {
  command = plan

  module {
    source = "./tests/verify"
  }
}

run "deploys" {
  # --- trust policy (from modules/policy_statements), as IAM stores it
  assert {
    condition = alltrue([for r in aws_iam_role.this : jsondecode(r.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
      Condition = { StringEquals = { "aws:SourceAccount" = run.identity.account_id } }
    }]])
    error_message = "each function's role trusts only lambda.amazonaws.com acting for this account"
  }

  assert {
    condition     = { for k, r in aws_iam_role.this : k => r.name } == { validate_input = "tt-functions-validate-input", publish_results = "tt-functions-publish-results" }
    error_message = "one role per function, named like the function"
  }

  # --- permissions, one role each
  assert {
    condition = jsondecode(aws_iam_role_policy.this["validate_input"].policy).Statement == [
      {
        Sid      = "ReadSpecs"
        Effect   = "Allow"
        Action   = ["s3:GetObjectVersion", "s3:GetObject"]
        Resource = "arn:aws:s3:::tt-functions-specs/*"
      },
      {
        Sid      = "TellMissingSpecs"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = "arn:aws:s3:::tt-functions-specs"
      },
      {
        Sid      = "DecryptSpecs"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.storage_key_arn
      },
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents", "logs:CreateLogStream"]
        Resource = "arn:aws:logs:${run.identity.region}:${run.identity.account_id}:log-group:/aws/lambda/tt-functions-validate-input:*"
      },
    ]
    error_message = "validate_input reads spec objects and the version HEAD named, lists the specs bucket (404 not 403), decrypts with the storage key and writes only its own log group"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this["publish_results"].policy).Statement == [
      {
        Sid      = "ReadSpecs"
        Effect   = "Allow"
        Action   = "s3:GetObjectVersion"
        Resource = "arn:aws:s3:::tt-functions-specs/*"
      },
      {
        Sid      = "ListRenders"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = "arn:aws:s3:::tt-functions-renders"
      },
      {
        Sid      = "ReadAndPublishRenders"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject"]
        Resource = "arn:aws:s3:::tt-functions-renders/*"
      },
      {
        Sid      = "UseStorageKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = var.storage_key_arn
      },
      {
        Sid      = "ReadRenderJobAttempts"
        Effect   = "Allow"
        Action   = "batch:DescribeJobs"
        Resource = "*"
      },
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents", "logs:CreateLogStream"]
        Resource = "arn:aws:logs:${run.identity.region}:${run.identity.account_id}:log-group:/aws/lambda/tt-functions-publish-results:*"
      },
    ]
    error_message = "publish_results reads the validated spec version, lists, reads and writes the renders bucket, uses the storage key and writes only its own log group"
  }

  assert {
    condition     = { for k, p in aws_iam_role_policy.this : k => [p.name, p.role] } == { validate_input = ["validate_input", "tt-functions-validate-input"], publish_results = ["publish_results", "tt-functions-publish-results"] }
    error_message = "each policy is attached to its own function's role"
  }

  # --- functions
  assert {
    condition = {
      for k, f in aws_lambda_function.this : k => [f.function_name, f.handler, f.runtime, f.memory_size, f.timeout, f.publish, f.kms_key_arn, f.role, f.reserved_concurrent_executions]
      } == {
      validate_input  = ["tt-functions-validate-input", "handler.handler", "python3.11", 512, 60, true, var.functions_key_arn, aws_iam_role.this["validate_input"].arn, -1]
      publish_results = ["tt-functions-publish-results", "handler.handler", "python3.11", 1024, 300, true, var.functions_key_arn, aws_iam_role.this["publish_results"].arn, -1]
    }
    error_message = "both functions: name, handler, runtime, memory, timeout, published versions, the functions key, their own role, no reserved concurrency by default"
  }

  assert {
    condition = alltrue([for k, f in aws_lambda_function.this :
      endswith(f.filename, "/${k}.zip") && f.source_code_hash == filebase64sha256(f.filename) && f.version == "1"
    ])
    error_message = "each function deploys <lambda_zip_dir>/<key>.zip, hashed so a changed zip publishes a new version"
  }

  assert {
    condition = { for k, f in aws_lambda_function.this : k => f.environment[0].variables } == {
      validate_input = tomap({
        MAX_SPEC_BYTES              = "1048576", RENDERS_BUCKET = "tt-functions-renders", SIZING_CHILD_START_S = "0.5",
        SIZING_CHILD_VARIANTS_PER_S = "200", SIZING_MAX_PARALLEL_CHILDREN = "2", SIZING_STORAGE_PUTS_PER_S = "250",
        COST_PRICES                 = var.prices_json, JOB_QUEUES = jsonencode(var.job_queue_arns), JOB_VCPU = "2",
        JOB_MEMORY_MIB              = "4096",
      })
      publish_results = tomap({
        MAX_SPEC_BYTES = "1048576", OUTPUT_KMS_KEY_ID = var.storage_key_arn, RENDERS_BUCKET = "tt-functions-renders",
        COST_PRICES    = var.prices_json, JOB_VCPU = "2", JOB_MEMORY_MIB = "4096",
      })
    }
    error_message = "the environments of docs/contracts.md, exactly (max_spec_bytes reaches both functions)"
  }

  # --- aliases: alias_follows_latest_version = true (the default) moves `live` with every apply
  assert {
    condition     = length(aws_lambda_alias.live_codedeploy) == 0 && { for k, a in aws_lambda_alias.live : k => [a.name, a.function_name, a.function_version] } == { for k, f in aws_lambda_function.this : k => ["live", f.function_name, f.version] }
    error_message = "with alias_follows_latest_version the `live` alias of each function points at its latest published version"
  }

  assert {
    condition     = output.alias_arns == { for k, f in aws_lambda_function.this : k => "${f.arn}:live" } && output.alias_name == "live"
    error_message = "alias_arns are the functions' `live` alias ARNs"
  }

  assert {
    condition = [output.function_names, output.log_group_names, output.versions] == [
      { validate_input = "tt-functions-validate-input", publish_results = "tt-functions-publish-results" },
      { validate_input = "/aws/lambda/tt-functions-validate-input", publish_results = "/aws/lambda/tt-functions-publish-results" },
      { validate_input = "1", publish_results = "1" },
    ]
    error_message = "outputs: function names, their /aws/lambda/<name> log groups, the published versions"
  }
}

# The log groups as CloudWatch Logs reports them: retention and key reach modules/log_group.
run "log_groups_are_kept_and_encrypted" {
  command = plan

  module {
    source = "./tests/verify"
  }

  variables {
    log_group_names = { validate_input = "/aws/lambda/tt-functions-validate-input", publish_results = "/aws/lambda/tt-functions-publish-results" }
  }

  assert {
    condition = alltrue([for g in values(output.log_groups) :
      g == { retention_in_days = 7, kms_key_id = var.logs_key_arn, tags = tomap({ Owner = "tftest" }) }
    ]) && length(output.log_groups) == 2
    error_message = "each function's log group keeps log_retention_days, is encrypted with logs_key_arn and carries the tags"
  }
}

# The pipeline's settings: CodeDeploy owns the aliases, tracing on, reserved concurrency.
run "codedeploy_owns_aliases_tracing_reserved_concurrency" {
  command = plan

  variables {
    alias_follows_latest_version = false
    reserved_concurrency         = 5
    tracing_mode                 = "Active"
  }

  assert {
    condition     = length(aws_lambda_alias.live) == 0 && { for k, a in aws_lambda_alias.live_codedeploy : k => a.name } == { validate_input = "live", publish_results = "live" }
    error_message = "alias_follows_latest_version = false makes the `live` aliases CodeDeploy's (the variant that ignores version changes)"
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.tracing_config[0].mode == "Active" && f.reserved_concurrent_executions == 5])
    error_message = "tracing_mode and reserved_concurrency reach both functions"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    functions_key_arn    = "alias/functions"
    job_queue_arns       = { bulk = "arn:aws:batch:us-east-1:123456789012:job-queue/q" }
    job_resources        = { vcpu = 0, memory_mib = 256 }
    lambda_zip_dir       = ""
    logs_key_arn         = "alias/logs"
    max_spec_bytes       = 1023
    name_prefix          = "TT_Functions"
    prices_json          = "not json"
    renders_bucket       = "Renders_Bucket"
    renders_bucket_arn   = "tt-functions-renders"
    reserved_concurrency = 0
    runtime              = "nodejs20.x"
    sizing               = { child_variants_per_s = 0, child_start_s = -1, storage_puts_per_s = 250, max_parallel_children = 1.5 }
    specs_bucket_arn     = "tt-functions-specs"
    storage_key_arn      = "alias/storage"
    tracing_mode         = "On"
  }

  expect_failures = [
    var.functions_key_arn,
    var.job_queue_arns,
    var.job_resources,
    var.lambda_zip_dir,
    var.logs_key_arn,
    var.max_spec_bytes,
    var.name_prefix,
    var.prices_json,
    var.renders_bucket,
    var.renders_bucket_arn,
    var.reserved_concurrency,
    var.runtime,
    var.sizing,
    var.specs_bucket_arn,
    var.storage_key_arn,
    var.tracing_mode,
  ]
}
