output "artifacts_bucket" {
  description = "Name of the pipeline artifacts bucket."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "artifacts_bucket_arn" {
  description = "ARN of the pipeline artifacts bucket."
  value       = aws_s3_bucket.this["artifacts"].arn
}

output "bucket_arns" {
  description = "Bucket ARN per purpose (specs, renders, artifacts)."
  value       = { for purpose, bucket in aws_s3_bucket.this : purpose => bucket.arn }
}

output "renders_bucket" {
  description = "Name of the renders bucket (images, part records, manifests, galleries)."
  value       = aws_s3_bucket.this["renders"].id
}

output "renders_bucket_arn" {
  description = "ARN of the renders bucket."
  value       = aws_s3_bucket.this["renders"].arn
}

output "specs_bucket" {
  description = "Name of the catalog specs bucket."
  value       = aws_s3_bucket.this["specs"].id
}

output "specs_bucket_arn" {
  description = "ARN of the catalog specs bucket."
  value       = aws_s3_bucket.this["specs"].arn
}
