output "branch" {
  description = "Branch whose pushes run the pipeline."
  value       = var.branch
}

output "build_log_group_names" {
  description = "CloudWatch log group of each CodeBuild project, by purpose (test, deploy)."
  value       = module.log_group.names
}

output "codebuild_project_names" {
  description = "CodeBuild project names, by purpose (test, deploy)."
  value       = { for k, p in aws_codebuild_project.this : k => p.name }
}

output "codedeploy_application_name" {
  description = "CodeDeploy (Lambda) application shifting the live aliases."
  value       = aws_codedeploy_app.this.name
}

output "codedeploy_deployment_group_name" {
  description = "CodeDeploy deployment group (CodeDeployDefault.LambdaAllAtOnce)."
  value       = aws_codedeploy_deployment_group.this.deployment_group_name
}

output "deploy_role_name" {
  description = "Role of the deploy project; attach the deployer policies terraform apply needs (or use deploy_policy_arns)."
  value       = aws_iam_role.build["deploy"].name
}

output "pipeline_arn" {
  description = "ARN of the pipeline."
  value       = aws_codepipeline.this.arn
}

output "pipeline_name" {
  description = "Name of the pipeline."
  value       = aws_codepipeline.this.name
}

output "repository_clone_url_http" {
  description = "HTTPS clone URL of the CodeCommit repository."
  value       = aws_codecommit_repository.this.clone_url_http
}

output "repository_name" {
  description = "Name of the CodeCommit repository."
  value       = aws_codecommit_repository.this.repository_name
}

output "role_arns" {
  description = "ARN of each role: pipeline, build_test, build_deploy, codedeploy, trigger (the stack names the pipeline and build roles in the storage key's policy)."
  value = {
    pipeline     = aws_iam_role.pipeline.arn
    build_test   = aws_iam_role.build["test"].arn
    build_deploy = aws_iam_role.build["deploy"].arn
    codedeploy   = aws_iam_role.codedeploy.arn
    trigger      = aws_iam_role.trigger.arn
  }
}
