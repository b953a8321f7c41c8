variable "deny_insecure_transport" {
  description = "Per key, the actions and resources of a resource policy's statement that denies every request made without TLS."
  type = map(object({
    actions   = list(string)
    resources = list(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for d in values(var.deny_insecure_transport) : length(d.actions) > 0 && length(d.resources) > 0])
    error_message = "deny_insecure_transport: every entry needs at least one action and one resource."
  }
}

variable "service_trust" {
  description = "Per key, the service principal (such as lambda.amazonaws.com) that may assume a role, and optionally the ARNs it may act for (aws:SourceArn)."
  type = map(object({
    service     = string
    source_arns = optional(list(string), [])
  }))
  default = {}

  validation {
    condition     = alltrue([for t in values(var.service_trust) : can(regex("^[a-z0-9.-]+\\.amazonaws\\.com$", t.service))])
    error_message = "service_trust: every service must be a service principal such as lambda.amazonaws.com."
  }
}
