# The workflow module on the local cloud: the state machine's definition as Step Functions stores it (the
# wiring docs/contracts.md and the README describe), its role's policies as IAM stores them, logging, the
# tracing toggle, and every input validation.
variables {
  name_prefix           = "tt-workflow"
  completion_topic_arn  = "arn:aws:sns:us-east-1:123456789012:tt-workflow-completion"
  failure_topic_arn     = "arn:aws:sns:us-east-1:123456789012:tt-workflow-failure"
  job_definition_arn    = "arn:aws:batch:us-east-1:123456789012:job-definition/tt-workflow-worker:3"
  job_queue_arns        = { bulk = "arn:aws:batch:us-east-1:123456789012:job-queue/tt-workflow-queue", urgent = "arn:aws:batch:us-east-1:123456789012:job-queue/tt-workflow-urgent" }
  log_retention_days    = 7
  logs_key_arn          = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
  messaging_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/44444444-4444-4444-4444-444444444444"
  publish_function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:tt-workflow-publish-results:live"
  tags                  = { Owner = "tftest" }
  validate_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tt-workflow-validate-input:live"
}

run "deploys" {
  # --- the definition: check the input -> validate -> plain or array Batch job (or none) -> publish -> notify;
  # a cancelled render job -> NotifyCancelled; any other error -> NotifyFailure; then fail. Every path ends in
  # exactly one of NotifySuccess, NotifyCancelled and NotifyFailure.
  assert {
    condition     = jsondecode(output.definition).StartAt == "CheckExecutionInput" && jsondecode(output.definition).States.ValidateInput.Next == "ChooseJobShape" && output.definition == aws_sfn_state_machine.this.definition
    error_message = "the workflow starts by checking the execution input, validates the spec, then chooses the job shape"
  }

  assert {
    condition = [
      for k in ["Type", "Choices", "Default"] : jsondecode(output.definition).States.CheckExecutionInput[k]
      ] == [
      "Choice",
      [
        {
          Or = [
            { Variable = "$", IsString = true },
            { Variable = "$", IsNumeric = true },
            { Variable = "$", IsBoolean = true },
            { Variable = "$", IsNull = true },
          ]
          Next = "InputNotAnObject"
        },
        { Not = { Variable = "$.spec_uri", IsPresent = true }, Next = "InputWithoutSpecUri" },
        { Not = { Variable = "$.spec_uri", IsString = true }, Next = "SpecUriNotAString" },
      ],
      "ValidateInput",
    ]
    error_message = "a Choice refuses, before any JSONPath could raise States.Runtime (which States.ALL does not catch), an input that is not an object, has no spec_uri, or whose spec_uri is not a string"
  }

  assert {
    condition = {
      for name in ["InputNotAnObject", "InputWithoutSpecUri", "SpecUriNotAString"] : name => jsondecode(output.definition).States[name]
      } == {
      InputNotAnObject = {
        Type = "Pass"
        Parameters = {
          spec_uri = null
          failure  = { Error = "InvalidExecutionInput", Cause = "the execution input is not a JSON object; start the execution with {\"spec_uri\": \"s3://bucket/key\"}" }
        }
        Next = "NotifyFailure"
      }
      InputWithoutSpecUri = {
        Type = "Pass"
        Parameters = {
          spec_uri = null
          failure  = { Error = "InvalidExecutionInput", Cause = "the execution input has no spec_uri; start the execution with {\"spec_uri\": \"s3://bucket/key\"}" }
        }
        Next = "NotifyFailure"
      }
      SpecUriNotAString = {
        Type = "Pass"
        Parameters = {
          spec_uri = null
          failure  = { Error = "InvalidExecutionInput", Cause = "the execution input's spec_uri is not a string; start the execution with {\"spec_uri\": \"s3://bucket/key\"}" }
        }
        Next = "NotifyFailure"
      }
    }
    error_message = "each refused input goes to NotifyFailure as InvalidExecutionInput with a cause saying what is wrong (spec_uri null)"
  }

  assert {
    condition = [for k in ["Parameters", "ResultSelector", "ResultPath"] : jsondecode(output.definition).States.ValidateInput[k]] == [
      {
        FunctionName = var.validate_function_arn
        Payload      = { "spec_uri.$" = "$.spec_uri", "execution.$" = "$$.Execution.Name", "execution_input.$" = "$" }
      },
      {
        "run_id.$"             = "$.Payload.run_id"
        "attempt.$"            = "$.Payload.attempt"
        "execution.$"          = "$.Payload.execution"
        "job_name.$"           = "$.Payload.job_name"
        "spec_uri.$"           = "$.Payload.spec_uri"
        "spec_version_id.$"    = "$.Payload.spec_version_id"
        "catalog_id.$"         = "$.Payload.catalog_id"
        "output_uri.$"         = "$.Payload.output_uri"
        "variant_count.$"      = "$.Payload.variant_count"
        "selection.$"          = "$.Payload.selection"
        "selected_count.$"     = "$.Payload.selected_count"
        "variants_per_child.$" = "$.Payload.variants_per_child"
        "array_size.$"         = "$.Payload.array_size"
        "children.$"           = "$.Payload.children"
        "predicted_wall_s.$"   = "$.Payload.predicted_wall_s"
        "sizing.$"             = "$.Payload.sizing"
        "priority.$"           = "$.Payload.priority"
        "job_queue.$"          = "$.Payload.job_queue"
        "render_timeout_s.$"   = "$.Payload.render_timeout_s"
        "cost_estimate.$"      = "$.Payload.cost_estimate"
      },
      "$.validated",
    ]
    error_message = "ValidateInput gets the spec_uri, the execution name (run id and attempt) and the whole input (it checks the rest of it), and keeps the attempt's plan with its selection and the validated spec version under $.validated"
  }

  assert {
    condition = [for name, s in jsondecode(output.definition).States : name if try(s.Resource, "") == "arn:aws:states:::batch:submitJob.sync"] == ["RenderArray", "RenderPlain"] && alltrue([
      for name in ["RenderArray", "RenderPlain"] : [
        for k in ["JobName.$", "JobQueue.$", "JobDefinition", "ContainerOverrides"] : jsondecode(output.definition).States[name].Parameters[k]
        ] == [
        "$.validated.job_name",
        "$.validated.job_queue",
        var.job_definition_arn,
        {
          Environment = [
            { Name = "SPEC_URI", "Value.$" = "$.validated.spec_uri" },
            { Name = "SPEC_VERSION_ID", "Value.$" = "$.validated.spec_version_id" },
            { Name = "RUN_ID", "Value.$" = "$.validated.run_id" },
            { Name = "OUTPUT_URI", "Value.$" = "$.validated.output_uri" },
            { Name = "VARIANTS_PER_CHILD", "Value.$" = "States.Format('{}', $.validated.variants_per_child)" },
            { Name = "VARIANT_SELECTION", "Value.$" = "$.validated.selection" },
            { Name = "FARM_ATTEMPT", "Value.$" = "States.Format('{}', $.validated.attempt)" },
          ]
        },
      ]
    ])
    error_message = "RenderPlain and RenderArray (and only they) run batch:submitJob.sync on the job queue ValidateInput chose (by priority) with the job definition, named by the attempt's job name, with the worker's seven variables (the validated spec version, the selection and the attempt among them)"
  }

  assert {
    condition = [for name, s in jsondecode(output.definition).States : name if try(s.Resource, "") == "arn:aws:states:::batch:submitJob"] == ["CleanUpScratch", "CleanUpScratchAfterFailure"] && alltrue([
      for name, end in { CleanUpScratch = "Completed", CleanUpScratchAfterFailure = "Failed" } : [
        for k in ["Parameters", "ResultPath", "Catch", "Next"] : jsondecode(output.definition).States[name][k]
        ] == [
        {
          "JobName.$"   = "States.Format('{}-scratch-cleanup', $.validated.job_name)"
          JobQueue      = var.job_queue_arns["bulk"]
          JobDefinition = var.job_definition_arn
          ContainerOverrides = {
            Command = ["python", "-m", "render_worker", "cleanup"]
            Environment = [
              { Name = "RUN_ID", "Value.$" = "$.validated.run_id" },
              { Name = "FARM_ATTEMPT", "Value.$" = "States.Format('{}', $.validated.attempt)" },
            ]
          }
        },
        null,
        [{ ErrorEquals = ["States.ALL"], ResultPath = null, Next = end }],
        end,
      ]
    ])
    error_message = "CleanUpScratch and CleanUpScratchAfterFailure (and only they) submit, without waiting, <job_name>-scratch-cleanup running `python -m render_worker cleanup` with the attempt's RUN_ID and FARM_ATTEMPT on the job queue and job definition; any error of theirs goes on to the same next state with the state untouched"
  }

  assert {
    condition = [for k in ["Type", "Choices", "Default"] : jsondecode(output.definition).States.ScratchMayExist[k]] == [
      "Choice",
      [{ Variable = "$.validated.job_name", IsPresent = true, Next = "CleanUpScratchAfterFailure" }],
      "Failed",
      ] && jsondecode(output.definition).States.CompletionNotPublished.Parameters["validated.$"] == "$.validated" && jsondecode(output.definition).States.ValidationFailed == {
      Type       = "Pass"
      Comment    = jsondecode(output.definition).States.ValidationFailed.Comment
      Parameters = { "spec_uri.$" = "$.spec_uri", "failure.$" = "$.failure" }
      Next       = "NotifyFailure"
    }
    error_message = "after the failure message, only a run that got past ValidateInput ($.validated, which CompletionNotPublished carries on and ValidationFailed drops when the input forged it) submits the clean-up job"
  }

  assert {
    condition = [
      jsondecode(output.definition).States.ChooseJobShape.Type,
      jsondecode(output.definition).States.ChooseJobShape.Choices,
      jsondecode(output.definition).States.ChooseJobShape.Default,
      jsondecode(output.definition).States.RenderArray.Parameters.ArrayProperties,
      try(jsondecode(output.definition).States.RenderPlain.Parameters.ArrayProperties, "none"),
      ] == [
      "Choice",
      [
        { Variable = "$.validated.array_size", NumericEquals = 0, Next = "PublishResults" },
        { Variable = "$.validated.array_size", NumericEquals = 1, Next = "RenderPlain" },
      ],
      "RenderArray",
      { "Size.$" = "$.validated.array_size" },
      "none",
    ]
    error_message = "a Choice goes straight to PublishResults when nothing is selected, runs one child's worth of work as a plain job and everything else as an array job of array_size children"
  }

  assert {
    condition = [for name in ["ValidateInput", "PublishResults"] : [
      jsondecode(output.definition).States[name].Resource,
      jsondecode(output.definition).States[name].Parameters.FunctionName,
      ]] == [
      ["arn:aws:states:::lambda:invoke", var.validate_function_arn],
      ["arn:aws:states:::lambda:invoke", var.publish_function_arn],
    ]
    error_message = "ValidateInput and PublishResults invoke the two `live` aliases"
  }

  assert {
    condition = [for name in ["ValidateInput", "PublishResults"] : jsondecode(output.definition).States[name].Catch] == [
      [
        { ErrorEquals = ["InvalidExecutionInput"], ResultPath = "$.failure", Next = "ValidationFailed" },
        { ErrorEquals = ["SpecNotFound"], ResultPath = "$.failure", Next = "ValidationFailed" },
        { ErrorEquals = ["SpecInvalid"], ResultPath = "$.failure", Next = "ValidationFailed" },
        { ErrorEquals = ["SpecTooLarge"], ResultPath = "$.failure", Next = "ValidationFailed" },
        { ErrorEquals = ["CostLimitExceeded"], ResultPath = "$.failure", Next = "ValidationFailed" },
        { ErrorEquals = ["States.ALL"], ResultPath = "$.failure", Next = "ValidationFailed" },
      ],
      [
        { ErrorEquals = ["RenderIncomplete"], ResultPath = "$.failure", Next = "NotifyFailure" },
        { ErrorEquals = ["States.ALL"], ResultPath = "$.failure", Next = "NotifyFailure" },
      ],
    ]
    error_message = "the Lambdas' errors are caught by name (InvalidExecutionInput, SpecNotFound, SpecInvalid, SpecTooLarge, CostLimitExceeded; RenderIncomplete), then States.ALL, all to NotifyFailure (ValidateInput's through ValidationFailed)"
  }

  assert {
    condition = alltrue([
      for name, s in jsondecode(output.definition).States : try(s.Catch[length(s.Catch) - 1], null) == { ErrorEquals = ["States.ALL"], ResultPath = "$.failure", Next = lookup({ NotifySuccess = "CompletionNotPublished", ValidateInput = "ValidationFailed", RenderPlain = "RenderStopped", RenderArray = "RenderStopped" }, name, "NotifyFailure") }
      if s.Type == "Task" && !contains(["NotifyFailure", "NotifyCancelled", "CleanUpScratch", "CleanUpScratchAfterFailure"], name)
    ])
    error_message = "every task before the message (all but the Notify states and the clean-ups after the message) ends its Catch with States.ALL -> NotifyFailure (NotifySuccess: via CompletionNotPublished; ValidateInput: via ValidationFailed; the Render states: via RenderStopped): no error escapes without a message"
  }

  assert {
    condition = [for name, s in jsondecode(output.definition).States : name if s.Type == "Pass" && !contains(["NotifyFailure", "NotifyCancelled", "Succeeded"], try(s.Next, ""))] == [] && [
      for name, s in jsondecode(output.definition).States : name if s.Type == "Succeed" || s.Type == "Fail"
      ] == ["Failed", "Succeeded"] && [
      for name, s in jsondecode(output.definition).States : name if try(s.Next, "") == "Failed" || try(s.Default, "") == "Failed"
      ] == ["CleanUpScratchAfterFailure", "ScratchMayExist"] && [
      for name, s in jsondecode(output.definition).States : name if try(s.Next, "") == "Succeeded"
      ] == ["Completed"] && jsondecode(output.definition).States.NotifyFailure.Next == "ScratchMayExist" && jsondecode(output.definition).States.NotifyCancelled.Next == "ScratchMayExist" && [
      for name, s in jsondecode(output.definition).States : name if try(s.Next, "") == "Completed"
    ] == ["CleanUpScratch"]
    error_message = "every Pass state leads to a Notify state (Completed to Succeeded); Succeeded is reached only after NotifySuccess (through CleanUpScratch and Completed) and Failed only after NotifyFailure or NotifyCancelled (through ScratchMayExist, and CleanUpScratchAfterFailure)"
  }

  assert {
    condition = alltrue(flatten([
      for name, s in jsondecode(output.definition).States : [
        for r in try(s.Retry, []) : !contains(r.ErrorEquals, "States.ALL") && r.MaxAttempts == 4 && r.JitterStrategy == "FULL"
      ] if !contains(["NotifySuccess", "NotifyFailure", "NotifyCancelled"], name)
    ]))
    error_message = "retries cover named transient errors only (never States.ALL), 4 attempts with full jitter"
  }

  assert {
    condition = [for name in ["NotifySuccess", "NotifyFailure", "NotifyCancelled"] : jsondecode(output.definition).States[name].Retry] == [for _ in range(3) : [{
      ErrorEquals     = ["SNS.InternalErrorException", "SNS.ThrottledException", "SNS.KMSThrottlingException", "SNS.SdkClientException", "SNS.AmazonSNSException"]
      IntervalSeconds = 2
      MaxAttempts     = 12
      BackoffRate     = 2
      MaxDelaySeconds = 60
      JitterStrategy  = "FULL"
    }]]
    error_message = "the three messages retry SNS's transient errors only: 2 s doubling to at most 60 s, full jitter, 12 attempts (minutes of SNS trouble)"
  }

  assert {
    condition = [for k in ["Catch", "Next"] : jsondecode(output.definition).States.NotifySuccess[k]] == [
      [{ ErrorEquals = ["States.ALL"], ResultPath = "$.failure", Next = "CompletionNotPublished" }],
      "CleanUpScratch",
      ] && [for k in ["Type", "Parameters", "Next"] : jsondecode(output.definition).States.CompletionNotPublished[k]] == [
      "Pass",
      {
        "spec_uri.$"  = "$.spec_uri"
        "validated.$" = "$.validated"
        failure = {
          Error     = "CompletionNotPublished"
          "Cause.$" = "States.Format('the run rendered everything and published {} but its completion message could not be published ({}): {}', $.completion.message.manifest_uri, $.failure.Error, $.failure.Cause)"
        }
      },
      "NotifyFailure",
    ]
    error_message = "a completion message that cannot be published becomes one failure message (CompletionNotPublished, naming the manifest and the SNS error), never zero or two"
  }

  assert {
    condition = [
      for k in ["Type", "Resource", "Parameters", "Next"] : jsondecode(output.definition).States.NotifyFailure[k]
      ] == [
      "Task",
      "arn:aws:states:::sns:publish",
      {
        TopicArn = var.failure_topic_arn
        Message = {
          schema_version = "1.0"
          status         = "FAILED"
          "run_id.$"     = "States.ArrayGetItem(States.StringSplit($$.Execution.Name, '.'), 0)"
          "spec_uri.$"   = "$.spec_uri"
          "error.$"      = "$.failure.Error"
          "cause.$"      = "$.failure.Cause"
        }
      },
      "ScratchMayExist",
    ] && !can(jsondecode(output.definition).States.NotifyFailure.Catch)
    error_message = "NotifyFailure publishes {schema_version, status, run_id (the execution name without a rerun's .r<N>), spec_uri, error, cause} to the failure topic, then goes on to the scratch clean-up and fails (and catches nothing)"
  }

  assert {
    condition = [
      [for k in ["Type", "Choices", "Default"] : jsondecode(output.definition).States.RenderStopped[k]],
      [for k in ["Type", "Parameters", "ResultPath", "Next"] : jsondecode(output.definition).States.Cancelled[k]],
      [for k in ["Type", "Resource", "Parameters", "ResultPath", "Next"] : jsondecode(output.definition).States.NotifyCancelled[k]],
      can(jsondecode(output.definition).States.NotifyCancelled.Catch),
      ] == [
      [
        "Choice",
        [
          { Variable = "$.failure.Error", StringEquals = "States.Timeout", Next = "RenderTimedOut" },
          { Not = { Variable = "$.failure.Cause", IsPresent = true }, Next = "NotifyFailure" },
          { Not = { Variable = "$.failure.Cause", IsString = true }, Next = "NotifyFailure" },
          { Variable = "$.failure.Cause", StringMatches = "*farm-cancel:*", Next = "Cancelled" },
          { Variable = "$.failure.Cause", StringMatches = "*Canceled by JobStateTimeLimit action*", Next = "StuckInRunnable" },
        ],
        "NotifyFailure",
      ],
      ["Pass", { Error = "Cancelled", "Cause.$" = "$.failure.Cause" }, "$.failure", "NotifyCancelled"],
      [
        "Task",
        "arn:aws:states:::sns:publish",
        {
          TopicArn = var.failure_topic_arn
          Message = {
            schema_version = "1.0"
            status         = "CANCELLED"
            "run_id.$"     = "$.validated.run_id"
            "attempt.$"    = "$.validated.attempt"
            "spec_uri.$"   = "$.spec_uri"
            "error.$"      = "$.failure.Error"
            "cause.$"      = "$.failure.Cause"
          }
        },
        null,
        "ScratchMayExist",
      ],
      false,
    ]
    error_message = "a Render failure whose cause carries farm-cancel: (the terminated job's reason) becomes one CANCELLED message on the failure topic (error Cancelled, run_id, attempt), then the clean-up and RenderFailed.Cancelled; any other goes to NotifyFailure"
  }

  assert {
    condition = jsondecode(output.definition).States.Failed == {
      Type      = "Fail"
      Comment   = "Keeps the caught error's name behind a prefix (a Fail state may not raise States.* names itself)."
      ErrorPath = "States.Format('RenderFailed.{}', $.failure.Error)"
      CausePath = "$.failure.Cause"
    }
    error_message = "the Fail state raises RenderFailed.<caught error> with the caught cause"
  }

  assert {
    condition = [
      for k in ["Resource", "Parameters", "Next"] : jsondecode(output.definition).States.NotifySuccess[k]
      ] == [
      "arn:aws:states:::sns:publish",
      { TopicArn = var.completion_topic_arn, "Message.$" = "$.completion.message" },
      "CleanUpScratch",
      ] && jsondecode(output.definition).States.PublishResults.Next == "NotifySuccess" && jsondecode(output.definition).States.Succeeded == { Type = "Succeed" } && [
      for k in ["Type", "OutputPath", "Next"] : jsondecode(output.definition).States.Completed[k]
    ] == ["Pass", "$.completion.message", "Succeeded"]
    error_message = "PublishResults -> NotifySuccess (the completion message to the completion topic) -> CleanUpScratch -> Completed (output: the completion message) -> Succeeded"
  }

  # --- trust policy (from modules/policy_statements) and permissions, as IAM stores them
  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "states.amazonaws.com" }
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = aws_sfn_state_machine.this.arn }
      }
    }]
    error_message = "the role trusts only states.amazonaws.com acting for this state machine of this account"
  }

  assert {
    condition = jsondecode(aws_iam_role_policy.this.policy).Statement == [
      {
        Sid      = "InvokeFunctionAliases"
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = [var.validate_function_arn, var.publish_function_arn]
      },
      {
        Sid      = "SubmitRenderJobs"
        Effect   = "Allow"
        Action   = "batch:SubmitJob"
        Resource = [var.job_queue_arns["urgent"], var.job_queue_arns["bulk"], var.job_definition_arn]
      },
      {
        Sid      = "FollowRenderJobs"
        Effect   = "Allow"
        Action   = "batch:DescribeJobs"
        Resource = "*"
      },
      {
        Sid      = "StopRenderJobs"
        Effect   = "Allow"
        Action   = "batch:TerminateJob"
        Resource = "arn:aws:batch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:job/*"
      },
      {
        Sid      = "BatchSyncEventsRule"
        Effect   = "Allow"
        Action   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
        Resource = "arn:aws:events:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:rule/StepFunctionsGetEventsForBatchJobsRule"
      },
      {
        Sid      = "PublishNotifications"
        Effect   = "Allow"
        Action   = "sns:Publish"
        Resource = [var.failure_topic_arn, var.completion_topic_arn]
      },
      {
        Sid      = "UseMessagingKey"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = var.messaging_key_arn
      },
      {
        Sid    = "DeliverExecutionLogs"
        Effect = "Allow"
        Action = [
          "logs:UpdateLogDelivery",
          "logs:PutResourcePolicy",
          "logs:ListLogDeliveries",
          "logs:GetLogDelivery",
          "logs:DescribeResourcePolicies",
          "logs:DescribeLogGroups",
          "logs:DeleteLogDelivery",
          "logs:CreateLogDelivery",
        ]
        Resource = "*"
      },
    ]
    error_message = "the role invokes the two aliases, submits to the queue and definition, follows and stops this account's jobs, manages the .sync rule, publishes to the two topics with the messaging key, delivers logs; no X-Ray without tracing"
  }

  # --- the state machine itself
  assert {
    condition = [
      aws_sfn_state_machine.this.name, aws_sfn_state_machine.this.type, aws_sfn_state_machine.this.role_arn,
      aws_sfn_state_machine.this.tracing_configuration[0].enabled,
      ] == [
      "tt-workflow-render", "STANDARD", aws_iam_role.this.arn, false,
    ]
    error_message = "a STANDARD state machine <name_prefix>-render running as its role, without tracing by default"
  }

  assert {
    condition = aws_sfn_state_machine.this.logging_configuration[0] == {
      log_destination        = "arn:aws:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws/vendedlogs/states/tt-workflow-render:*"
      include_execution_data = false
      level                  = "ERROR"
    }
    error_message = "execution logs go to the vended-logs group at ERROR, never with execution data (specs may be confidential)"
  }

  assert {
    condition = [output.state_machine_arn, output.state_machine_name, output.role_arn, output.log_group_name] == [
      aws_sfn_state_machine.this.arn, "tt-workflow-render", aws_iam_role.this.arn, "/aws/vendedlogs/states/tt-workflow-render",
    ]
    error_message = "outputs name the state machine, its role and its log group"
  }
}

# The log group as CloudWatch Logs reports it: retention and key reach modules/log_group.
run "log_group_is_kept_and_encrypted" {
  command = plan

  module {
    source = "../log_group/tests/read_back"
  }

  variables {
    log_group_names = { executions = "/aws/vendedlogs/states/tt-workflow-render" }
  }

  assert {
    condition     = output.log_groups["executions"].retention_in_days == 7 && output.log_groups["executions"].kms_key_id == var.logs_key_arn && output.log_groups["executions"].tags == tomap({ Owner = "tftest" })
    error_message = "the execution log group keeps log_retention_days, is encrypted with logs_key_arn and carries the tags"
  }
}

run "tracing_and_log_level" {
  command = plan

  variables {
    log_level       = "ALL"
    tracing_enabled = true
  }

  assert {
    condition     = aws_sfn_state_machine.this.tracing_configuration[0].enabled && aws_sfn_state_machine.this.logging_configuration[0].level == "ALL" && !aws_sfn_state_machine.this.logging_configuration[0].include_execution_data
    error_message = "tracing_enabled turns X-Ray tracing on; log_level sets the level, still without execution data"
  }

  assert {
    condition = [for s in jsondecode(data.aws_iam_policy_document.this.json).Statement : s if s.Sid == "WriteTraces"] == [{
      Sid      = "WriteTraces"
      Effect   = "Allow"
      Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingTargets", "xray:GetSamplingRules"]
      Resource = "*"
    }] && length(jsondecode(data.aws_iam_policy_document.this.json).Statement) == 9
    error_message = "with tracing the role may also write traces (X-Ray has no resource-level permissions), and nothing else changes"
  }
}

run "rejects_bad_input" {
  command = plan

  variables {
    completion_topic_arn  = "arn:aws:sqs:us-east-1:123456789012:tt-workflow-completion"
    failure_topic_arn     = "tt-workflow-failure"
    job_definition_arn    = "arn:aws:batch:us-east-1:123456789012:job-queue/tt-workflow-queue"
    job_queue_arns        = { bulk = "arn:aws:batch:us-east-1:123456789012:job-definition/tt-workflow-worker:3" }
    log_level             = "DEBUG"
    logs_key_arn          = "alias/logs"
    messaging_key_arn     = "alias/messaging"
    name_prefix           = "TT_Workflow"
    publish_function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:tt-workflow-publish-results"
    validate_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tt-workflow-validate-input"
  }

  expect_failures = [
    var.completion_topic_arn,
    var.failure_topic_arn,
    var.job_definition_arn,
    var.job_queue_arns,
    var.log_level,
    var.logs_key_arn,
    var.messaging_key_arn,
    var.name_prefix,
    var.publish_function_arn,
    var.validate_function_arn,
  ]
}
