terraform {
  required_version = ">= 1.10" # the S3 backend's use_lockfile (S3-native state locking)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # Partial configuration: the harness passes it (harness/terraform.py): the state lives in an S3 bucket on the
  # local cloud, shared by `nox -s deploy` and the pipeline's deploy build:
  # terraform init -backend-config=<FARM_STATE_DIR>/tf/local/backend-state.hcl \
  #                -backend-config=<FARM_STATE_DIR>/tf/local/backend-local-cloud.hcl
  backend "s3" {}
}
