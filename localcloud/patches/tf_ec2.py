"""EC2 security group rules as the Terraform provider needs them.

- A rule that references another group keeps its description: moto stores the description of a group-pair
  rule in `source_group["Description"]` but reads it only from `ip_range`, so `aws_vpc_security_group_*_rule`
  with `referenced_security_group_id` reads back no description and every plan wants to set it again.
- Revoking a rule id that does not exist answers `InvalidSecurityGroupRuleId.NotFound`, as AWS does; moto
  answers `InvalidPermission.NotFound`, which the provider does not treat as "already deleted", so a destroy
  whose revoke was retried (the first attempt removed the rule) failed.
- Rules of a group change atomically: moto rebuilds `group.egress_rules` as a read-modify-write, so two rules
  of one group revoked at once by the provider's parallel destroy could bring one back.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.ec2.exceptions import InvalidSecurityGroupRuleIdNotFoundError
from moto.ec2.models.security_groups import SecurityGroupBackend, SecurityGroupRule

_RULE_CHANGES = threading.RLock()
_CHANGES = (
    "authorize_security_group_ingress",
    "authorize_security_group_egress",
    "revoke_security_group_ingress",
    "revoke_security_group_egress",
    "modify_security_group_rules",
)


def _description(self: SecurityGroupRule) -> str | None:
    return self.ip_range.get("Description") or self.source_group.get("Description")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def change(*args: Any, **kwargs: Any) -> Any:
        with _RULE_CHANGES:
            return method(*args, **kwargs)

    return change


def _known_rule_ids(revoke: Callable[..., Any], direction: str) -> Callable[..., Any]:
    @functools.wraps(revoke)
    def checked(self: SecurityGroupBackend, group_name_or_id: str, *args: Any, **kwargs: Any) -> Any:
        rule_ids = kwargs.get("security_rule_ids") or []
        group = self.get_security_group_by_name_or_id(group_name_or_id, kwargs.get("vpc_id"))
        if group is not None and rule_ids:
            present = {rule.id for rule in getattr(group, direction)}
            missing = [rule_id for rule_id in rule_ids if rule_id not in present]
            if missing:
                raise InvalidSecurityGroupRuleIdNotFoundError(missing[0])
        return revoke(self, group_name_or_id, *args, **kwargs)

    return checked


def apply() -> None:
    SecurityGroupRule.description = property(_description)
    SecurityGroupBackend.revoke_security_group_ingress = _known_rule_ids(
        SecurityGroupBackend.revoke_security_group_ingress, "ingress_rules"
    )
    SecurityGroupBackend.revoke_security_group_egress = _known_rule_ids(
        SecurityGroupBackend.revoke_security_group_egress, "egress_rules"
    )
    for name in _CHANGES:
        setattr(SecurityGroupBackend, name, _serialised(getattr(SecurityGroupBackend, name)))
