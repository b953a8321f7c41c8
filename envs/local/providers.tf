# Aimed at the local cloud: the endpoint comes from AWS_ENDPOINT_URL (set by the harness), credentials from
# the environment (the admin keys this boot of the local cloud issued, `<state>/credentials`; in a shell
# `eval "$(localcloud env)"`). Nothing here may reach a real account: the provider asks STS who it is
# (GetCallerIdentity) and refuses any account but the local cloud's, so a shell that lost AWS_ENDPOINT_URL
# cannot plan or apply this env against a real one.
provider "aws" {
  allowed_account_ids         = ["123456789012"] # the local cloud's account (docs/contracts.md)
  region                      = "us-east-1"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  default_tags {
    tags = {
      Project     = "render-farm"
      Environment = "local"
      ManagedBy   = "terraform"
    }
  }
}
