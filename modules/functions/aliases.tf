# The `live` alias is what the state machine invokes and what CodeDeploy shifts. Two variants, as in
# terraform-aws-modules/lambda's alias module: one follows every new version on apply (local, no pipeline),
# the other is created once and then left to CodeDeploy (ignore_changes), so apply and deployment never fight.
resource "aws_lambda_alias" "live" {
  for_each = var.alias_follows_latest_version ? local.functions : {}

  name             = "live"
  description      = "Version the workflow invokes."
  function_name    = aws_lambda_function.this[each.key].function_name
  function_version = aws_lambda_function.this[each.key].version
}

resource "aws_lambda_alias" "live_codedeploy" {
  for_each = var.alias_follows_latest_version ? {} : local.functions

  name             = "live"
  description      = "Version the workflow invokes; shifted by CodeDeploy after creation."
  function_name    = aws_lambda_function.this[each.key].function_name
  function_version = aws_lambda_function.this[each.key].version

  lifecycle {
    ignore_changes = [function_version, routing_config]
  }
}

locals {
  aliases = merge(aws_lambda_alias.live, aws_lambda_alias.live_codedeploy)
}
