# The stack's one contract with its clients (docs/contracts.md, "Terraform outputs"): a single object that every
# env root re-exports unchanged and farm.stack reads, so the list of names lives here and nowhere else.
data "aws_region" "current" {}

locals {
  pipeline = var.enable_pipeline ? {
    branch                    = module.pipeline[0].branch
    build_log_group_names     = module.pipeline[0].build_log_group_names
    codebuild_projects        = module.pipeline[0].codebuild_project_names
    codedeploy_application    = module.pipeline[0].codedeploy_application_name
    codedeploy_group          = module.pipeline[0].codedeploy_deployment_group_name
    codedeploy_shifts_aliases = var.codedeploy_shifts_aliases
    name                      = module.pipeline[0].pipeline_name
    repository_clone_url      = module.pipeline[0].repository_clone_url_http
    repository_name           = module.pipeline[0].repository_name
  } : null
}

output "farm" {
  description = "Everything clients of the farm need (the names of docs/contracts.md): buckets, workflow, Batch, topics and queues, events capture, scratch, keys, functions, registry, endpoint, the sizing model."
  value = {
    artifacts_bucket            = module.storage.artifacts_bucket                                # pipeline artifacts
    completion_delivery_dlq_url = module.notify.completion_delivery_dlq_url                      # what SNS could not deliver to notifications
    completion_topic_arn        = module.notify.completion_topic_arn                             # one message per successful run
    compute_environment_arns    = module.batch.compute_environment_arns                          # behind the queue, in order
    ecr_repository_url          = module.ecr.repository_url                                      # where the worker image goes
    efs_access_point_id         = module.efs.access_point_id                                     # jobs mount scratch through it
    efs_file_system_id          = module.efs.file_system_id                                      # scratch shared by a run's children
    endpoint_url                = var.endpoint_url                                               # the local cloud; null on aws
    events_log_group_name       = module.events.log_group_name                                   # every Batch job state change
    events_queue_url            = module.events.queue_url                                        # the same changes, for tools
    events_rule_name            = module.events.rule_name                                        # the rule capturing them
    failure_delivery_dlq_url    = module.notify.failure_delivery_dlq_url                         # what SNS could not deliver to failures
    failure_dlq_url             = module.notify.failure_dlq_url                                  # behind the failure queue
    failure_queue_url           = module.notify.failure_queue_url                                # subscribed to the failure topic
    failure_topic_arn           = module.notify.failure_topic_arn                                # one message per failed run
    job_definition_arn          = module.batch.job_definition_arn                                # the render worker
    job_queue_arn               = module.batch.job_queue_arn                                     # the bulk queue: runs without a priority
    job_queue_arns              = module.batch.job_queue_arns                                    # bulk and urgent (placed first)
    job_resources               = { vcpu = var.worker_vcpu, memory_mib = var.worker_memory_mib } # one child's
    kms_key_arns                = module.kms.key_arns                                            # one key per family
    lambda_function_names       = module.functions.function_names                                # validate_input, publish_results
    notifications_dlq_url       = module.notify.notifications_dlq_url                            # behind the notifications queue
    notifications_queue_url     = module.notify.notifications_queue_url                          # subscribed to the completion topic
    pipeline                    = local.pipeline                                                 # the CI/CD pipeline; null without one
    prices                      = local.prices                                                   # the region's row of config/prices.json
    region                      = data.aws_region.current.name                                   # where the stack runs
    renders_bucket              = module.storage.renders_bucket                                  # SVGs, part records, manifests
    scratch_mount_path          = var.scratch_mount_path                                         # SCRATCH_DIR inside jobs
    sizing                      = local.sizing                                                   # ValidateInput's cost model
    specs_bucket                = module.storage.specs_bucket                                    # catalog specs are submitted here
    state_machine_arn           = module.workflow.state_machine_arn                              # validate -> render -> publish -> notify
    test_hooks_enabled          = var.enable_test_hooks                                          # FARM_TEST_HOOKS=1 in jobs
  }
}
