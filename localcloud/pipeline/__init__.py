"""CodePipeline, CodeBuild and CodeDeploy executors: what a git push to CodeCommit starts (issue 16)."""
