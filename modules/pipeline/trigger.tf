# Start the pipeline on pushes to the branch (instead of polling).
locals {
  push_rule_name = "${var.name_prefix}-pipeline-push"
}

resource "aws_cloudwatch_event_rule" "push" {
  name        = local.push_rule_name
  description = "Pushes to ${var.branch} of ${aws_codecommit_repository.this.repository_name} start the pipeline."
  event_pattern = jsonencode({
    source        = ["aws.codecommit"]
    "detail-type" = ["CodeCommit Repository State Change"]
    resources     = [aws_codecommit_repository.this.arn]
    detail = {
      event         = ["referenceCreated", "referenceUpdated"]
      referenceType = ["branch"]
      referenceName = [var.branch]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "push" {
  rule     = aws_cloudwatch_event_rule.push.name
  arn      = aws_codepipeline.this.arn
  role_arn = aws_iam_role.trigger.arn
}
