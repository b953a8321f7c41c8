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
