# The stack's contract (docs/contracts.md), re-exported as it is: the only thing live tests and the farm CLI read.
output "farm" {
  description = "Everything clients of the farm need; see modules/stack/outputs.tf for each name."
  value       = module.stack.farm
}
