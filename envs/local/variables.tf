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
  description = "ValidateInput's sizing model on this machine (modules/stack's sizing; docs/contracts.md). Measured here on the local cloud (process mode, 2 cores), to be refreshed from the perf report: child_variants_per_s = one worker child's render+upload rate against the local S3; child_start_s = a child's start (interpreter, imports, spec fetch); storage_puts_per_s = the local S3's bare-PUT rate (one moto process). The children run at once come from batch_max_vcpus / worker_vcpu."
  type = object({
    child_variants_per_s = number
    child_start_s        = number
    storage_puts_per_s   = number
  })
  default = {
    child_variants_per_s = 200
    child_start_s        = 0.5
    storage_puts_per_s   = 250
  }

  validation {
    condition     = var.sizing.child_variants_per_s > 0 && var.sizing.child_start_s >= 0 && var.sizing.storage_puts_per_s > 0
    error_message = "sizing: child_variants_per_s and storage_puts_per_s must be > 0, child_start_s >= 0."
  }
}
