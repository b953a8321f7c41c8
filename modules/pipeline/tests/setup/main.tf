# Prerequisite of the pipeline tests: a customer managed policy for deploy_policy_arns to attach (IAM attaches
# only policies that exist). Deliberately narrow: it is never used.
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

resource "aws_iam_policy" "deployer" {
  name        = "tt-pipeline-deployer"
  description = "Stand-in for the platform team's deployer policy (modules/pipeline tests)."
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "arn:aws:s3:::tt-pipeline-state" }]
  })
}

output "deployer_policy_arn" {
  description = "ARN of the stand-in deployer policy."
  value       = aws_iam_policy.deployer.arn
}
