output "deny_insecure_transport" {
  description = "Per key, a policy document (JSON) holding the DenyInsecureTransport statement; merge it with source_policy_documents."
  value       = { for k, d in data.aws_iam_policy_document.deny_insecure_transport : k => d.json }
}

output "service_trust" {
  description = "Per key, an assume-role policy (JSON) for the service, bound to this account with aws:SourceAccount."
  value       = { for k, d in data.aws_iam_policy_document.service_trust : k => d.json }
}
