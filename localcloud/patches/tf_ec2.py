"""EC2: a security group rule that references another group keeps its description.

moto stores the description of a group-pair rule in `source_group["Description"]` but reads a rule's
description only from `ip_range`, so `aws_vpc_security_group_*_rule` with `referenced_security_group_id`
reads back no description and every plan after the first apply wants to set it again.
"""

from __future__ import annotations

from moto.ec2.models.security_groups import SecurityGroupRule


def _description(self: SecurityGroupRule) -> str | None:
    return self.ip_range.get("Description") or self.source_group.get("Description")


def apply() -> None:
    SecurityGroupRule.description = property(_description)
