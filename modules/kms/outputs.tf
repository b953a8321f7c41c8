output "alias_names" {
  description = "Alias name per key family."
  value       = { for family, alias in aws_kms_alias.this : family => alias.name }
}

output "key_arns" {
  description = "Key ARN per family: storage, scratch, logs, messaging, functions, registry."
  value       = { for family, key in aws_kms_key.this : family => key.arn }
}

output "key_ids" {
  description = "Key id per family: storage, scratch, logs, messaging, functions, registry."
  value       = { for family, key in aws_kms_key.this : family => key.key_id }
}
