variable "endpoint_url" {
  description = "Endpoint of the local cloud, published as an output for tests and the CLI (the harness sets TF_VAR_endpoint_url; the provider itself reads AWS_ENDPOINT_URL)."
  type        = string
  default     = "http://127.0.0.1:4599" # validated by modules/stack
}

variable "lambda_zip_dir" {
  description = "Absolute directory of the harness-built Lambda zips (TF_VAR_lambda_zip_dir); empty means <repo>/build/lambdas."
  type        = string
  default     = ""
}

variable "worker_image" {
  description = "Render worker image. Container mode: <ECR repository URL>@sha256:<digest>, built and pushed by the harness between its two applies (TF_VAR_worker_image); process mode runs jobs as host processes and keeps the label."
  type        = string
  default     = "render-worker:local"
}

variable "sizing" {
  description = "ValidateInput's sizing model on this machine (modules/stack's sizing; docs/contracts.md), measured by `./noxw -s perf` on the local cloud in container mode on 2 cores (session perf-1130110054-d7d9, 2026-11-30): child_variants_per_s = 280, one Batch child's render+upload rate (its part record's timing: 268-299/s over 1,500 variants, median 291/s); child_start_s = 0.5, a container child's attempt start to its first variant (0.47-0.49 s); storage_puts_per_s = 265, what the local S3 (one moto process, sharing the 2 cores with the children) took from two children together (264/s over 10,000 variants; one bare client gets 285-340/s). One child already reaches the ceiling, so the model starts one. The children run at once come from batch_max_vcpus / worker_vcpu."
  type = object({
    child_variants_per_s = number
    child_start_s        = number
    storage_puts_per_s   = number
  })
  default = {
    child_variants_per_s = 280
    child_start_s        = 0.5
    storage_puts_per_s   = 265
  }

  validation {
    condition     = var.sizing.child_variants_per_s > 0 && var.sizing.child_start_s >= 0 && var.sizing.storage_puts_per_s > 0
    error_message = "sizing: child_variants_per_s and storage_puts_per_s must be > 0, child_start_s >= 0."
  }
}
