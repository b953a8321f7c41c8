terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # The harness passes the state path: terraform init -backend-config=path=<FARM_STATE_DIR>/tf/local/terraform.tfstate
  backend "local" {}
}
