provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project     = "render-farm"
      Environment = "aws"
      ManagedBy   = "terraform"
    })
  }
}
