# Aimed at the local cloud: the endpoint comes from AWS_ENDPOINT_URL (set by the harness), credentials from
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (test/test). Nothing here reaches a real account.
provider "aws" {
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
