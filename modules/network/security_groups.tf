# Batch jobs: no inbound at all; outbound HTTPS (AWS APIs through endpoints) and NFS to the scratch file system.
resource "aws_security_group" "batch" {
  #checkov:skip=CKV2_AWS_5:attached outside this module, by the Batch compute environments
  name        = "${var.name_prefix}-batch"
  description = "Render jobs: egress only (HTTPS to AWS APIs, NFS to EFS scratch)"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-batch" })
}

resource "aws_vpc_security_group_egress_rule" "batch_https" {
  security_group_id = aws_security_group.batch.id
  description       = "HTTPS to AWS service APIs (S3, ECR, Logs, STS)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "batch_nfs" {
  security_group_id            = aws_security_group.batch.id
  description                  = "NFS to the EFS scratch mount targets"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
  tags                         = var.tags
}

# EFS mount targets: NFS from the Batch security group only, nothing outbound.
resource "aws_security_group" "efs" {
  #checkov:skip=CKV2_AWS_5:attached outside this module, by the EFS mount targets
  name        = "${var.name_prefix}-efs"
  description = "EFS scratch mount targets: NFS from render jobs only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name_prefix}-efs" })
}

resource "aws_vpc_security_group_ingress_rule" "efs_nfs_from_batch" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from render jobs"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.batch.id
  tags                         = var.tags
}
