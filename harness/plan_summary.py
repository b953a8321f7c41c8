"""A Markdown review summary of a `terraform show -json` plan, written for a platform-team reviewer.

Order of the summary: totals; replacements and deletions (what can lose data or break callers); security-
relevant changes (IAM, KMS, resource policies, security groups) with the principals, actions and ports that
can be read from the plan; the stack's fixed monthly cost at rest before and after the plan; then every change
grouped per module and action; then output changes.
Pure functions over the plan dict: no Terraform, no I/O. The one exception is `summarize`'s default price
table: given none, it reads config/prices.json (`load_price_document`); callers that can pass the parsed
table do.

Fixed monthly cost at rest: what the stack costs with no run going, counted from the plan's resources before
and after it (`fixed_counts`) and priced by `render_worker.cost.monthly_fixed` from the same price table the
run estimates use: customer-managed KMS keys (per key-month), interface VPC endpoints (per endpoint per
Availability Zone-hour: the length of `subnet_ids`, or the subnets its configuration takes them from when
they are known only after apply), NAT gateways (per hour), and EFS file systems, log groups and buckets
(per GB-month stored: $0 when empty, as they are at rest). The region is the plan's provider
configuration's (a constant, or the variable it names), else the caller's, else us-east-1; the section says
which. Fargate compute is billed per run (each run's manifest has its cost) and is never part of it.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.paths import REPO
from render_worker import cost

UNKNOWN = "(known after apply)"
PRICES_PATH = REPO / "config" / "prices.json"
DEFAULT_REGION = "us-east-1"

IAM_TYPES = {
    "aws_iam_role",
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_instance_profile",
    "aws_iam_service_linked_role",
}
KMS_TYPES = {"aws_kms_key", "aws_kms_alias", "aws_kms_key_policy", "aws_kms_grant"}
RESOURCE_POLICY_TYPES = {
    "aws_s3_bucket_policy",
    "aws_sqs_queue_policy",
    "aws_sns_topic_policy",
    "aws_efs_file_system_policy",
    "aws_ecr_repository_policy",
    "aws_lambda_permission",
    "aws_cloudwatch_log_resource_policy",
    "aws_s3_bucket_public_access_block",
}
NETWORK_TYPES = {
    "aws_security_group",
    "aws_security_group_rule",
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
    "aws_network_acl_rule",
}
# Resources that carry an inline policy document worth showing (attribute name -> label).
INLINE_POLICY_ATTRS = {
    "policy": "policy",
    "assume_role_policy": "trust policy",
    "access_policy": "access policy",
}

# The evidence behind the IAM changes: what the local suites called, and which grants no call used
# (harness/iam_report.py writes build/iam/report.md; the summary lives in build/plan/<env>/).
IAM_REPORT_LINK = (
    "Least privilege, as exercised: the IAM report of the last local test run, "
    "[build/iam/report.md](../../iam/report.md) (`nox -s iam-report`): calls denied to the stack's "
    "workloads, grants no call used, grants only AWS itself exercises."
)

ACTION_ORDER = ["replace", "delete", "update", "create", "read", "no-op"]
ACTION_LABEL = {
    "replace": "replace (destroy and re-create)",
    "delete": "delete",
    "update": "update in place",
    "create": "create",
    "read": "read (data source)",
    "no-op": "unchanged",
}


DEPLOY_ROLE = re.compile(r'module\.pipeline(\[0\])?\.aws_iam_role\.build\["deploy"\]$')
DEPLOY_ATTACHMENT = re.compile(r"module\.pipeline(\[0\])?\.aws_iam_role_policy_attachment\.deploy\[")


def action_of(change: dict[str, Any]) -> str:
    actions = change.get("actions") or ["no-op"]
    if "delete" in actions and "create" in actions:
        return "replace"
    return actions[0]


def module_of(rc: dict[str, Any]) -> str:
    return rc.get("module_address") or "(root)"


def short_address(rc: dict[str, Any]) -> str:
    """The address without its module path: `aws_kms_key.this["storage"]`."""
    address = rc["address"]
    module = rc.get("module_address")
    return address[len(module) + 1 :] if module and address.startswith(module + ".") else address


def _known(value: Any) -> str:
    """A planned value as text; unknown parts of a list come through as None."""
    return UNKNOWN if value is None else str(value)


def _code(text: Any) -> str:
    return f"`{_known(text)}`"


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _unknown(rc: dict[str, Any], attr: str) -> bool:
    return bool((rc["change"].get("after_unknown") or {}).get(attr))


def _after(rc: dict[str, Any]) -> dict[str, Any]:
    return rc["change"].get("after") or {}


def _before(rc: dict[str, Any]) -> dict[str, Any]:
    return rc["change"].get("before") or {}


def describe_policy(document: Any) -> list[str]:
    """One line per statement of a policy JSON: effect, principals, actions, resources, conditions."""
    if document in (None, ""):
        return []
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return ["(policy is not JSON)"]
    lines = []
    for statement in _as_list(document.get("Statement")):
        parts = [statement.get("Effect", "?")]
        if statement.get("Sid"):
            parts.insert(0, f"[{statement['Sid']}]")
        principal = statement.get("Principal")
        if principal is not None:
            if isinstance(principal, dict):
                who = [f"{kind}:{p}" for kind, values in sorted(principal.items()) for p in _as_list(values)]
            else:
                who = [str(principal)]
            parts.append("principals " + ", ".join(_code(w) for w in who))
        for key, label in (("Action", "actions"), ("NotAction", "all actions except")):
            if statement.get(key) is not None:
                parts.append(f"{label} " + ", ".join(_code(a) for a in _as_list(statement[key])))
        for key, label in (("Resource", "on"), ("NotResource", "on all except")):
            if statement.get(key) is not None:
                parts.append(f"{label} " + ", ".join(_code(r) for r in _as_list(statement[key])))
        if statement.get("Condition"):
            conditions = [
                f"{op} {key}={json.dumps(value)}"
                for op, tests in sorted(statement["Condition"].items())
                for key, value in sorted(tests.items())
            ]
            parts.append("when " + "; ".join(_code(c) for c in conditions))
        lines.append(" ".join(parts))
    return lines


def describe_policy_document_data(rc: dict[str, Any]) -> list[str]:
    """Statements of a `data.aws_iam_policy_document` as planned (known parts only)."""
    after = _after(rc)
    if after.get("json"):
        return describe_policy(after["json"])
    lines = []
    for statement in after.get("statement") or []:
        parts = [statement.get("effect") or "Allow"]
        if statement.get("sid"):
            parts.insert(0, f"[{statement['sid']}]")
        who = [
            f"{principal.get('type')}:{_known(i)}"
            for principal in statement.get("principals") or []
            for i in principal.get("identifiers") or [None]
        ]
        if who:
            parts.append("principals " + ", ".join(_code(w) for w in who))
        if statement.get("actions"):
            parts.append("actions " + ", ".join(_code(_known(a)) for a in statement["actions"]))
        if statement.get("not_actions"):
            parts.append("all actions except " + ", ".join(_code(a) for a in statement["not_actions"]))
        resources = statement.get("resources")
        parts.append("on " + (", ".join(_code(_known(r)) for r in resources) if resources else UNKNOWN))
        conditions = [
            f"{c.get('test')} {c.get('variable')}={','.join(_known(v) for v in c.get('values') or [None])}"
            for c in statement.get("condition") or []
        ]
        if conditions:
            parts.append("when " + "; ".join(_code(c) for c in conditions))
        lines.append(" ".join(parts))
    return lines


def _policy_lines(rc: dict[str, Any]) -> list[str]:
    lines = []
    for attr, label in INLINE_POLICY_ATTRS.items():
        if attr not in _after(rc) and not _unknown(rc, attr):
            continue
        if _unknown(rc, attr):
            source = config_reference(rc, attr, "data.aws_iam_policy_document.")
            where = f"built from {_code(source)}, below" if source else "see the policy documents below"
            lines.append(f"{label}: {UNKNOWN}, {where}")
            continue
        before, after = _before(rc).get(attr), _after(rc).get(attr)
        if before and after and _normalise(before) == _normalise(after):
            continue
        if before and after:  # an update: show only the statements that change
            old, new = describe_policy(before), describe_policy(after)
            changed = [f"  - added: {s}" for s in new if s not in old]
            changed += [f"  - REMOVED: {s}" for s in old if s not in new]
            if changed:
                lines += [f"{label} changes:", *changed]
            continue
        statements = describe_policy(after)
        if statements:
            lines.append(f"{label}:")
            lines += [f"  - {s}" for s in statements]
    return lines


def _normalise(document: Any) -> Any:
    try:
        return json.loads(document) if isinstance(document, str) else document
    except json.JSONDecodeError:
        return document


def _rule_text(rule: dict[str, Any], peer_ref: str | None = None) -> str:
    protocol = rule.get("protocol") or rule.get("ip_protocol") or "?"
    start, end = rule.get("from_port"), rule.get("to_port")
    if str(protocol) == "-1":
        ports = "all traffic"
    elif start == end:
        ports = f"{protocol}/{start}"
    else:
        ports = f"{protocol}/{start}-{end}"
    peers = [
        *(rule.get("cidr_blocks") or []),
        *(rule.get("ipv6_cidr_blocks") or []),
        *(rule.get("security_groups") or []),
        *(rule.get("prefix_list_ids") or []),
    ]
    for single in ("cidr_ipv4", "cidr_ipv6", "referenced_security_group_id", "source_security_group_id"):
        if rule.get(single):
            peers.append(rule[single])
    if rule.get("self"):
        peers.append("self")
    if not peers and peer_ref:
        peers.append(peer_ref)
    peer_text = ", ".join(_code(p) for p in peers) if peers else "a peer known after apply"
    return f"{ports} with {peer_text}"


def _network_lines(rc: dict[str, Any]) -> list[str]:
    after, before = _after(rc), _before(rc)
    if rc["type"] == "aws_security_group":
        lines = (
            [f"{_code(after['name'])}: {after.get('description', '')}".rstrip(": ")]
            if after.get("name")
            else []
        )
        for direction in ("ingress", "egress"):
            old = {_rule_text(r) for r in before.get(direction) or []}
            new = {_rule_text(r) for r in after.get(direction) or []}
            lines += [f"{direction} + {text}" for text in sorted(new - old)]
            lines += [f"{direction} - {text}" for text in sorted(old - new)]
        return lines
    if rc["type"] in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
        direction = "ingress" if "ingress" in rc["type"] else "egress"
    else:
        direction = after.get("type") or before.get("type") or "rule"
    peer = config_reference(rc, "referenced_security_group_id", "aws_security_group.", qualify=False)
    peer = peer or config_reference(rc, "source_security_group_id", "aws_security_group.", qualify=False)
    group = config_reference(rc, "security_group_id", "aws_security_group.", qualify=False)
    on = f" on {_code(group)}" if group else ""
    return [f"{direction}{on}: {_rule_text(after or before, peer)}"]


def _iam_lines(rc: dict[str, Any]) -> list[str]:
    after = _after(rc)
    lines = []
    if rc["type"] in ("aws_iam_role_policy_attachment", "aws_iam_policy_attachment"):
        arn = after.get("policy_arn") or UNKNOWN
        lines.append(f"attaches {_code(arn)} to role {_code(after.get('role') or UNKNOWN)}")
    if rc["type"] == "aws_iam_role_policy":
        lines.append(f"inline policy on role {_code(after.get('role') or UNKNOWN)}")
    for managed in after.get("managed_policy_arns") or []:
        lines.append(f"managed policy {_code(managed)}")
    return lines + _policy_lines(rc)


def _kms_lines(rc: dict[str, Any]) -> list[str]:
    after = _after(rc)
    lines = []
    if rc["type"] == "aws_kms_key":
        rotation = after.get("enable_key_rotation")
        lines.append(
            f"rotation {'on' if rotation else 'OFF'}"
            + (f", description {_code(after['description'])}" if after.get("description") else "")
            + (
                f", deletion window {after['deletion_window_in_days']} days"
                if after.get("deletion_window_in_days")
                else ""
            )
        )
    if rc["type"] == "aws_kms_alias":
        target = after.get("target_key_id") or UNKNOWN
        lines.append(f"{_code(after.get('name') or UNKNOWN)} -> {_code(target)}")
    return lines + _policy_lines(rc)


def _resource_policy_lines(rc: dict[str, Any]) -> list[str]:
    after = _after(rc)
    if rc["type"] == "aws_lambda_permission":
        return [
            f"{_code(after.get('principal') or UNKNOWN)} may {_code(after.get('action') or UNKNOWN)} "
            f"function {_code(after.get('function_name') or UNKNOWN)} "
            f"from {_code(after.get('source_arn') or 'any source')}"
        ]
    if rc["type"] == "aws_s3_bucket_public_access_block":
        flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        off = [f for f in flags if after.get(f) is False]
        return (
            ["public access fully blocked"] if not off else ["public access NOT blocked: " + ", ".join(off)]
        )
    return _policy_lines(rc)


SECURITY_SECTIONS = (
    ("IAM: roles, policies, attachments", IAM_TYPES, _iam_lines),
    ("KMS: keys, aliases, key policies", KMS_TYPES, _kms_lines),
    (
        "Resource policies (bucket, queue, topic, file system, repository, function)",
        RESOURCE_POLICY_TYPES,
        _resource_policy_lines,
    ),
    ("Network: security groups and rules", NETWORK_TYPES, _network_lines),
)


def _bullets(lines: Iterable[str]) -> list[str]:
    """Nested Markdown bullets under a resource line; "  - x" lines from describers nest one level deeper."""
    return [f"    - {line[4:]}" if line.startswith("  - ") else f"  - {line}" for line in lines]


def _changed(resource_changes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rc for rc in resource_changes if action_of(rc["change"]) not in ("no-op", "read")]


def _inline_policy_resources(resource_changes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources outside the named sections that carry a policy (e.g. aws_sns_topic.policy)."""
    named = IAM_TYPES | KMS_TYPES | RESOURCE_POLICY_TYPES | NETWORK_TYPES
    return [
        rc
        for rc in resource_changes
        if rc["type"] not in named
        and any(_after(rc).get(attr) for attr in INLINE_POLICY_ATTRS)
        and _policy_lines(rc)
    ]


def totals(plan: dict[str, Any]) -> Counter:
    counts: Counter = Counter()
    for rc in plan.get("resource_changes") or []:
        if rc.get("mode", "managed") == "managed":
            counts[action_of(rc["change"])] += 1
    return counts


REASONS = {
    "delete_because_no_resource_config": "(removed from the configuration)",
    "delete_because_no_module": "(its module was removed)",
    "delete_because_count_index": "(count shrank)",
    "delete_because_each_key": "(for_each key removed)",
    "replace_by_request": "(replacement requested)",
    "replace_by_triggers": "(replace_triggered_by)",
    "replace_because_tainted": "(tainted)",
}


_CONFIG_REFS: dict[tuple[str, str], dict[str, list[str]]] = {}


def index_configuration(plan: dict[str, Any]) -> None:
    """Remember each resource's expression references from the plan's `configuration`, so a value known only
    after apply can still be explained (`policy` built from `data.aws_iam_policy_document.bucket`)."""
    _CONFIG_REFS.clear()

    def walk(module: dict[str, Any], path: str) -> None:
        for resource in module.get("resources", []):
            refs = {
                attr: expr["references"]
                for attr, expr in (resource.get("expressions") or {}).items()
                if isinstance(expr, dict) and expr.get("references")
            }
            _CONFIG_REFS[(path, resource["address"])] = refs
        for name, call in (module.get("module_calls") or {}).items():
            walk(call.get("module", {}), f"{path}.module.{name}" if path else f"module.{name}")

    walk((plan.get("configuration") or {}).get("root_module", {}), "")


def config_reference(rc: dict[str, Any], attr: str, prefix: str, qualify: bool = True) -> str | None:
    """The first reference of rc's `attr` expression that starts with prefix, with its module path."""
    module = re.sub(r"\[[^\]]*\]", "", rc.get("module_address") or "")
    address = (
        f"{rc['type']}.{rc['name']}"
        if rc.get("mode", "managed") == "managed"
        else f"data.{rc['type']}.{rc['name']}"
    )
    for ref in _CONFIG_REFS.get((module, address), {}).get(attr, []):
        if ref.startswith(prefix):
            ref = ref.removesuffix(".json").removesuffix(".id")
            return f"{rc['module_address']}.{ref}" if qualify and rc.get("module_address") else ref
    return None


def _replace_reason(rc: dict[str, Any]) -> str:
    paths = rc["change"].get("replace_paths") or []
    attrs = sorted({".".join(str(p) for p in path) for path in paths})
    reason = rc.get("action_reason", "")
    text = f"forced by {', '.join(_code(a) for a in attrs)}" if attrs else ""
    if reason and reason != "replace_because_cannot_update":
        text = f"{text} {REASONS.get(reason, f'({reason})')}".strip()
    return text


def deployer_note(managed: list[dict[str, Any]]) -> list[str]:
    """The pipeline's Deploy stage runs `terraform apply` as its deploy build role, which the stack grants
    only the state and the alias shift: without a deployer policy attached (modules/pipeline
    deploy_policy_arns) the first push fails at Deploy. Say so where the platform team reads."""
    roles = [rc for rc in managed if rc["type"] == "aws_iam_role" and DEPLOY_ROLE.search(rc["address"])]
    if not roles or any(DEPLOY_ATTACHMENT.search(rc["address"]) for rc in managed):
        return []
    name = _known(_after(roles[0]).get("name"))
    return [
        "### The pipeline's deploy role has no deployer policy",
        "",
        f"- {_code(roles[0]['address'])} ({name}) runs `terraform apply` in the Deploy stage, and nothing "
        "here grants it what the apply needs: the platform team must attach its deployer policy to it "
        "(envs/aws: `pipeline_deploy_policy_arns`) before the first push, or the Deploy stage fails.",
        "",
    ]


def summarize(
    plan: dict[str, Any],
    env: str,
    note: str | None = None,
    prices: Mapping[str, Any] | None = None,
    region: str | None = None,
) -> str:
    """The whole Markdown summary. `prices` is the parsed price table (config/prices.json, read here when
    None); `region` prices a plan whose provider configuration names none."""
    if prices is None:
        prices = load_price_document(PRICES_PATH)
    index_configuration(plan)
    resource_changes = plan.get("resource_changes") or []
    managed = [rc for rc in resource_changes if rc.get("mode", "managed") == "managed"]
    counts = totals(plan)
    out: list[str] = [f"# Terraform plan review: envs/{env}", ""]
    tf_version = plan.get("terraform_version", "?")
    out.append(f"Terraform {tf_version}, plan format {plan.get('format_version', '?')}.")
    if note:
        out += ["", f"> {note}"]
    out += ["", "## Totals", ""]
    changed_total = sum(counts[a] for a in ("create", "update", "replace", "delete"))
    if not changed_total:
        out += ["**No changes.** The infrastructure matches the configuration.", ""]
    else:
        parts = [f"{counts[a]} to {a}" for a in ("create", "update", "replace", "delete") if counts[a]]
        out += ["**" + ", ".join(parts) + ".**", ""]
    out += ["| action | resources |", "|---|---:|"]
    out += [f"| {ACTION_LABEL[a]} | {counts[a]} |" for a in ACTION_ORDER if a != "read"]
    out.append("")

    destructive = [rc for rc in managed if action_of(rc["change"]) in ("replace", "delete")]
    out += ["## Replacements and deletions (review first)", ""]
    if not destructive:
        out.append("None: nothing is destroyed or re-created.")
    for rc in sorted(destructive, key=lambda r: (action_of(r["change"]), r["address"])):
        if action_of(rc["change"]) == "replace":
            reason = _replace_reason(rc)
        else:
            reason = REASONS.get(rc.get("action_reason", ""), rc.get("action_reason", ""))
        out.append(f"- **{action_of(rc['change'])}** {_code(rc['address'])} {reason}".rstrip())
    out.append("")

    out += ["## Security-relevant changes", "", IAM_REPORT_LINK, ""]
    changed = _changed(managed)
    any_security = False
    for title, types, describe in SECURITY_SECTIONS:
        hits = sorted((rc for rc in changed if rc["type"] in types), key=lambda r: r["address"])
        if not hits:
            continue
        any_security = True
        out += [f"### {title}", ""]
        for rc in hits:
            out.append(f"- **{action_of(rc['change'])}** {_code(rc['address'])}")
            out += _bullets(describe(rc))
        out.append("")
    inline = sorted(_inline_policy_resources(changed), key=lambda r: r["address"])
    if inline:
        any_security = True
        out += ["### Policies embedded in other resources", ""]
        for rc in inline:
            out.append(f"- **{action_of(rc['change'])}** {_code(rc['address'])}")
            out += _bullets(_policy_lines(rc))
        out.append("")
    documents = sorted(
        (
            rc
            for rc in resource_changes
            if rc["type"] == "aws_iam_policy_document" and rc.get("mode") == "data"
        ),
        key=lambda r: r["address"],
    )
    if documents:
        any_security = True
        out += [
            "### Policy documents read at apply time",
            "",
            "Policies whose JSON is known only after apply are built from these documents.",
            "",
        ]
        for rc in documents:
            out.append(f"- {_code(rc['address'])}")
            out += _bullets(describe_policy_document_data(rc))
        out.append("")
    if not any_security:
        out += ["None.", ""]
    out += deployer_note(managed)

    out += fixed_cost_section(plan, prices, region)

    out += ["## Changes per module", ""]
    per_module: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for rc in changed:
        per_module[module_of(rc)][action_of(rc["change"])].append(short_address(rc))
    if not per_module:
        out += ["No module changes.", ""]
    for module in sorted(per_module):
        actions = per_module[module]
        headline = ", ".join(f"{len(actions[a])} {a}" for a in ACTION_ORDER if actions.get(a))
        out += [f"### {_code(module)} ({headline})", ""]
        for action in ACTION_ORDER:
            for address in sorted(actions.get(action, [])):
                out.append(f"- {action}: {_code(address)}")
        out.append("")

    output_changes = {name: action_of(change) for name, change in (plan.get("output_changes") or {}).items()}
    changed_outputs = {n: a for n, a in output_changes.items() if a != "no-op"}
    out += ["## Outputs", ""]
    if not changed_outputs:
        out.append("No output changes.")
    for name in sorted(changed_outputs):
        out.append(f"- {changed_outputs[name]}: {_code(name)}")
    out.append("")
    return "\n".join(out)


# ---- fixed monthly cost at rest ----------------------------------------------------------------------------

# Resource type -> the item of render_worker.cost.FIXED_ITEMS it counts as (interface endpoints: see below).
FIXED_TYPES = {
    "aws_kms_key": "kms_keys",
    "aws_nat_gateway": "nat_gateways",
    "aws_efs_file_system": "efs_file_systems",
    "aws_cloudwatch_log_group": "log_groups",
    "aws_s3_bucket": "s3_buckets",
}
ENDPOINT_ITEM = "interface_endpoint_azs"
MAX_COST_CHANGES = 20  # created/deleted cost-bearing resources listed under the table


def load_price_document(path: Path) -> dict[str, Any]:
    """The parsed price table at `path` (config/prices.json): the only file this module reads."""
    return json.loads(Path(path).read_text())


def plan_region(plan: dict[str, Any], given: str | None = None) -> tuple[str, str]:
    """(region, where it came from): the root aws provider's `region` in the plan's configuration (a constant,
    or the root variable it names, with the value the plan was made with), else `given`, else us-east-1."""
    providers = (plan.get("configuration") or {}).get("provider_config") or {}
    config = providers.get("aws")
    if config is None:
        config = next(
            (c for _, c in sorted(providers.items()) if c.get("name") == "aws" and not c.get("alias")), None
        )
    expression = ((config or {}).get("expressions") or {}).get("region") or {}
    if isinstance(expression.get("constant_value"), str) and expression["constant_value"]:
        return expression["constant_value"], "the plan's provider configuration"
    for reference in expression.get("references") or []:
        if reference.startswith("var."):
            name = reference.removeprefix("var.")
            value = ((plan.get("variables") or {}).get(name) or {}).get("value")
            if isinstance(value, str) and value:
                return value, f"the plan's variable `{name}`, which the provider configuration uses"
    if given:
        return given, "given to the summary (the plan's provider configuration names none)"
    return DEFAULT_REGION, "the default: neither the plan nor the caller names a region"


def _subnet_count(rc: dict[str, Any], side: dict[str, Any], planned: bool, plan_rcs: list) -> tuple[int, str]:
    """How many subnets (AZs) an interface endpoint is placed in, and how that was found ("" when read)."""
    subnets = side.get("subnet_ids")
    if isinstance(subnets, list):
        return len(subnets), ""
    unknown = (rc["change"].get("after_unknown") or {}).get("subnet_ids") if planned else None
    if isinstance(unknown, list):
        return len(unknown), ""
    if planned:
        source = config_reference(rc, "subnet_ids", "aws_subnet.", qualify=False)
        if source:
            kind, _, name = source.partition(".")
            module = rc.get("module_address")
            subnets_planned = sum(
                1
                for other in plan_rcs
                if other["type"] == kind
                and other.get("name") == name
                and other.get("module_address") == module
                and other.get("mode", "managed") == "managed"
                and other["change"].get("after") is not None
            )
            if subnets_planned:
                where = f"{module}.{source}" if module else source
                return subnets_planned, f"subnets known after apply: {subnets_planned} planned `{where}`"
    return 1, "subnets unknown: counted as one AZ, so this is a lower bound"


def fixed_counts(plan: dict[str, Any]) -> dict[str, Any]:
    """Cost-bearing resources of the plan, before and after it: {"before": {item: n}, "after": {item: n},
    "endpoints": (before, after), "notes": [...], "created": [...], "deleted": [...]}."""
    rcs = [rc for rc in plan.get("resource_changes") or [] if rc.get("mode", "managed") == "managed"]
    counts: dict[str, Counter] = {"before": Counter(), "after": Counter()}
    endpoints = {"before": 0, "after": 0}
    notes: list[str] = []
    created: list[str] = []
    deleted: list[str] = []
    for rc in sorted(rcs, key=lambda r: r["address"]):
        item = FIXED_TYPES.get(rc["type"])
        if rc["type"] == "aws_vpc_endpoint":
            item = ENDPOINT_ITEM
        if item is None:
            continue
        change = rc["change"]
        sides = {"before": change.get("before"), "after": change.get("after")}
        counted = False
        for name, side in sides.items():
            if side is None:
                continue
            if item == ENDPOINT_ITEM:
                if (side.get("vpc_endpoint_type") or "Gateway") != "Interface":
                    continue
                azs, how = _subnet_count(rc, side, name == "after", rcs)
                counts[name][item] += azs
                endpoints[name] += 1
                if how:
                    notes.append(f"{_code(rc['address'])}: {how}")
            else:
                counts[name][item] += 1
            counted = True
        if counted and sides["before"] is None:
            created.append(rc["address"])
        elif counted and sides["after"] is None:
            deleted.append(rc["address"])
    return {
        "before": dict(counts["before"]),
        "after": dict(counts["after"]),
        "endpoints": (endpoints["before"], endpoints["after"]),
        "notes": notes,
        "created": created,
        "deleted": deleted,
    }


def _signed(amount: float) -> str:
    if round(amount, 6) == 0:
        return "no change"
    return ("+" if amount > 0 else "-") + cost.usd(abs(amount))


def fixed_cost_section(
    plan: dict[str, Any], prices: Mapping[str, Any], region: str | None = None
) -> list[str]:
    """The "Fixed monthly cost at rest" section: a table of items before -> after the plan, priced from the
    price table `prices` (parsed config/prices.json) for the plan's region."""
    out = ["## Fixed monthly cost at rest", ""]
    chosen, how = plan_region(plan, region)
    try:
        table = cost.PriceTable.from_document(dict(prices))
        row = table.region(chosen)
    except ValueError as exc:
        return [*out, f"Not computed for {chosen} ({how}): {exc}.", ""]
    counts = fixed_counts(plan)
    before = cost.monthly_fixed(counts["before"], row)
    after = cost.monthly_fixed(counts["after"], row)
    lower_bound = any("lower bound" in n for n in counts["notes"])
    out += [
        "What the stack costs each month with no run going. Fargate compute is billed per run, not here: "
        "each run's cost is in its manifest and completion message (`farm submit --estimate` before it). "
        "Storage (EFS, log groups, buckets) is priced per GB-month and counted empty: what runs leave in it "
        "(renders, logs) adds to this. Requests, data processed and log ingestion are usage, not counted.",
        "",
        "| item | count before -> after | unit price | monthly before -> after |",
        "|---|---:|---|---:|",
    ]
    for old, new in zip(before["items"], after["items"], strict=True):
        label = old["label"]
        count = f"{_count(old['count'])} -> {_count(new['count'])}"
        if old["item"] == ENDPOINT_ITEM:
            was, now = counts["endpoints"]
            count += f" ({was} -> {now} endpoints)"
        unit = f"{cost.price(old['unit_usd'])} {old['unit']}"
        if old["unit_month_usd"] != old["unit_usd"]:
            unit += f" ({cost.usd(old['unit_month_usd'])} a month)"
        if old["item"] == "log_groups":
            unit += f"; {cost.price(row.logs_ingest_gb)} per GB ingested (per run)"
        monthly = f"{cost.usd(old['monthly_usd'])} -> {cost.usd(new['monthly_usd'])}"
        out.append(f"| {label} | {count} | {unit} | {monthly} |")
    at_least = "at least " if lower_bound else ""
    total_before, total_after = before["total_usd"], after["total_usd"]
    out += [
        f"| **total** | | | **{cost.usd(total_before)} -> {at_least}{cost.usd(total_after)}** |",
        "",
        f"Change: **{_signed(total_after - total_before)}** a month "
        f"({row.hours_per_month:g} hours a month for hourly items).",
        "",
    ]
    for note in counts["notes"]:
        out.append(f"- {note}")
    shown_changes = [("created", a) for a in counts["created"]] + [("deleted", a) for a in counts["deleted"]]
    for action, address in shown_changes[:MAX_COST_CHANGES]:
        out.append(f"- {action}: {_code(address)}")
    if len(shown_changes) > MAX_COST_CHANGES:
        out.append(f"- ... and {len(shown_changes) - MAX_COST_CHANGES} more")
    if counts["notes"] or shown_changes:
        out.append("")
    out += [
        f"Prices: {row.region} ({how}), {row.currency}, price table of {row.date} "
        f"(config/prices.json, recorded from {', '.join(row.source)}; not fetched live).",
        "",
    ]
    return out


def _count(value: float) -> str:
    return f"{value:g}"
