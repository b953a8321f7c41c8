output "alias_arns" {
  description = "ARNs of the `live` aliases (what the workflow invokes and CodeDeploy shifts), by function key."
  value       = { for k, a in local.aliases : k => a.arn }
}

output "alias_name" {
  description = "Name of the alias every function has."
  value       = "live"
}

output "function_arns" {
  description = "Unqualified function ARNs, by function key (validate_input, publish_results)."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "function_names" {
  description = "Function names, by function key (validate_input, publish_results)."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "log_group_names" {
  description = "Log groups of the functions, by function key."
  value       = module.log_group.names
}

output "role_arns" {
  description = "Execution role ARNs, by function key."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "versions" {
  description = "Latest published version of each function, by function key (CodeDeploy's target version)."
  value       = { for k, f in aws_lambda_function.this : k => f.version }
}
