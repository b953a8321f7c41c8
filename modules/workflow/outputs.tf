output "definition" {
  description = "The rendered ASL definition (JSON), for plan review and tests."
  value       = aws_sfn_state_machine.this.definition
}

output "log_group_name" {
  description = "Log group of the state machine's execution logs."
  value       = module.log_group.names["executions"]
}

output "role_arn" {
  description = "ARN of the state machine's role."
  value       = aws_iam_role.this.arn
}

output "state_machine_arn" {
  description = "ARN of the render state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the render state machine."
  value       = aws_sfn_state_machine.this.name
}
