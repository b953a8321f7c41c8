"""The IAM report of the local stack: `python -m harness.iam_report [--out build/iam]` (`nox -s iam-report`).

The local cloud records every IAM decision it makes for a non-admin caller (`GET /_localcloud/iam/calls`,
localcloud/iam/record.py). This reads that record and the stack's own policies (its roles' inline and attached
policies; the resource policies of its buckets, queues, topics, keys and functions, read with the harness's
admin credentials) and writes `calls.json` (the record), `policies.json` (the policies) and `report.md`:

1. calls denied to the stack's workloads (probes excepted): a workload missing a permission;
2. grants, each action pattern x resource pattern of each Allow statement, that no allowed call used: remove
   them, or justify them where they are written, with a comment line directly above the statement's `sid`:
       # iam-report: <why>
3. grants only AWS itself exercises (justified as `# iam-report: aws <caller>: <why>`), listed with the
   caller;
4. probe calls: what the negative tests (STS sessions named `iam-probe-...`) were refused on purpose, and
   the denials a test caused to a workload on purpose and declared (`expect_denial`, this boot only).

Exit codes: 0 clean; 1 denied calls or unjustified unused grants (printed); 2 the record or the stack could
not be read. `--denied-only` fails on denied calls alone (a partial test run leaves grants unused by design).
Everything between reading and writing is pure (analyse, render): the unit tests feed it synthetic records.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.paths import REPO

MODULES_DIR = REPO / "modules"
ENVS_DIR = REPO / "envs"
OUT_DIR = REPO / "build" / "iam"
RECORD_PATH = "/_localcloud/iam/calls"  # localcloud/iam/record.py
HEALTH_PATH = "/_localcloud/health"
# Denials a live test causes on purpose to a workload's own role (not a probe session), declared by the test:
# [{"boot_id", "principal", "action" (pattern), "resource" (pattern), "why"}] in $FARM_STATE_DIR/iam/ (per
# deployment: build/ is shared by every stack of the machine). Only the current boot's count.
EXPECTED_DENIALS_FILE = Path("iam") / "expected-denials.json"
PROBE_SESSION_PREFIX = "iam-probe-"  # negative tests' STS sessions: their calls are kept apart
MARK = "iam-report:"
TRUST_SOURCE = "trust:"  # PolicySource name of a role's trust policy (a service assuming the role)
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
PRINTED_FINDINGS = 60  # lines of findings printed; report.md has them all


class ReportError(RuntimeError):
    """The record or the stack's policies could not be read."""


# ---- what the report works on -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """One policy document of the stack, named as the local cloud's record names it (PolicySource.name):
    `identity:<role arn>:<name>` (inline), `identity:<policy arn>` (managed), `resource:<arn>`,
    `key:<arn>`."""

    source: str
    owner: str  # what a reader recognises: "role farm-batch-job", "bucket farm-specs-...", "key storage"
    document: dict


@dataclass(frozen=True)
class SidSite:
    """A `sid = "..."` line of modules/**/*.tf, and the `# iam-report:` justification above it, if any."""

    sid: str
    path: str  # relative to the repository
    line: int
    actions: frozenset[str] = frozenset()  # lower-cased actions of the statement, to tell same-Sid ones apart
    why: str | None = None  # None: not justified
    aws_caller: str | None = None  # "Step Functions" for `# iam-report: aws Step Functions: <why>`

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Grant:
    """One action pattern x resource pattern of one Allow statement, and the calls that used it."""

    source: str
    owner: str
    index: int
    sid: str | None
    action: str  # "s3:GetObject", "kms:GenerateDataKey*", or "NotAction: a, b" (used by any allowed call)
    resource: str
    calls: int = 0
    justification: SidSite | None = None
    justification_problem: str | None = None  # why a Sid's justification could not be applied

    @property
    def statement(self) -> str:
        return self.sid or f"#{self.index} (no Sid)"


@dataclass
class Analysis:
    endpoint: str
    boot_id: str | None
    record_size: int
    grants: list[Grant]
    denied: list[dict]  # non-probe calls denied
    expected: list[dict]  # non-probe calls denied as a test declared it would (expect_denial)
    allowed: int  # non-probe calls allowed (aggregated entries)
    probes: list[dict]
    # Allowed calls whose allowing statement is not among the policies read, and those allowed by a statement
    # none of whose action x resource patterns matches them: the record and the policies disagree.
    orphans: list[dict] = field(default_factory=list)
    unmatched: list[dict] = field(default_factory=list)
    policies: int = 0
    denied_only: bool = False

    @property
    def unused(self) -> list[Grant]:
        return [g for g in self.grants if not g.calls and g.justification is None]

    @property
    def justified_unused(self) -> list[Grant]:
        return [g for g in self.grants if not g.calls and g.justification and not g.justification.aws_caller]

    @property
    def aws_only(self) -> list[Grant]:
        return [g for g in self.grants if g.justification and g.justification.aws_caller]

    @property
    def failed(self) -> bool:
        return bool(self.denied) or (bool(self.unused) and not self.denied_only)


# ---- patterns ---------------------------------------------------------------------------------------------

_POLICY_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _pattern(text: str):
    """A grant's action or resource as the evaluator matches it (localcloud/iam/conditions.py: one notion of
    IAM's wildcards); a policy variable (`${aws:username}`) may be anything here, since the report does not
    know the caller's values, and the special `${*}`, `${?}`, `${$}` stand for their literal character."""
    from localcloud.iam import conditions

    pieces = []
    for piece in re.split(r"(\$\{[^}]*\})", text):
        if piece in ("${*}", "${?}", "${$}"):
            pieces.append((piece[2], False))
        elif _POLICY_VARIABLE.fullmatch(piece or ""):
            pieces.append(("*", True))
        elif piece:
            pieces.append((piece, True))
    return conditions.Pattern(tuple(pieces))


def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively (`s3:getobject` is `s3:GetObject`)."""
    from localcloud.iam import conditions

    return conditions.glob_matches(_pattern(pattern), action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    """Resource ARNs compare case-sensitively, a wildcard within its ARN segment (as IAM); `*` matches every
    resource, `*` in a call (an action without resource-level permissions) only the pattern `*`."""
    from localcloud.iam import conditions

    return conditions.arn_matches(_pattern(pattern), resource)


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statements(document: dict) -> list[tuple[int, dict]]:
    """(index, statement) in document order: the index the record's StatementRef names."""
    return [(i, s) for i, s in enumerate(_as_list(document.get("Statement"))) if isinstance(s, dict)]


def grants_of(policy: Policy) -> list[Grant]:
    out = []
    for index, statement in statements(policy.document):
        if statement.get("Effect", "Allow") != "Allow":
            continue
        actions = [str(a) for a in _as_list(statement.get("Action"))]
        if "NotAction" in statement:
            actions = ["NotAction: " + ", ".join(str(a) for a in _as_list(statement["NotAction"]))]
        resources = [str(r) for r in _as_list(statement.get("Resource"))] or ["*"]
        if "NotResource" in statement:
            resources = ["NotResource: " + ", ".join(str(r) for r in _as_list(statement["NotResource"]))]
        sid = statement.get("Sid") or None
        for action in actions:
            for resource in resources:
                out.append(Grant(policy.source, policy.owner, index, sid, action, resource))
    return out


def _grant_matches(grant: Grant, call: dict) -> bool:
    action_ok = grant.action.startswith("NotAction: ") or action_matches(grant.action, call["action"])
    resource_ok = grant.resource.startswith("NotResource: ") or resource_matches(
        grant.resource, call["resource"]
    )
    return action_ok and resource_ok


# ---- justifications in the Terraform ----------------------------------------------------------------------

_SID_LINE = re.compile(r'^\s*sid\s*=\s*"([^"]+)"')
_COMMENT = re.compile(r"^\s*(#|//)\s?(.*)$")
_AWS_CALLER = re.compile(r"^aws\s+([^:]+):\s*(.+)$", re.DOTALL)
_ACTIONS = re.compile(r"\b(?:not_)?actions\s*=\s*\[(.*?)\]", re.DOTALL)
_QUOTED = re.compile(r'"([^"]+)"')


def _statement_body(text: str, position: int) -> str:
    """The text of the block enclosing `position` (HCL braces; `${...}` interpolations balance)."""
    depth, start = 0, 0
    for i in range(position - 1, -1, -1):
        if text[i] == "}":
            depth += 1
        elif text[i] == "{":
            if depth == 0:
                start = i
                break
            depth -= 1
    depth, end = 0, len(text)
    for i in range(position, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            if depth == 0:
                end = i
                break
            depth -= 1
    return text[start:end]


def parse_sites(text: str, path: str) -> list[SidSite]:
    """Every Sid of one .tf file, with its justification: an `# iam-report:` line in the comment block
    directly above the `sid` line (comment lines after the marker continue its text)."""
    lines = text.splitlines()
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    found = []
    for number, line in enumerate(lines):
        match = _SID_LINE.match(line)
        if not match:
            continue
        block: list[str] = []
        above = number - 1
        while above >= 0 and (comment := _COMMENT.match(lines[above])):
            block.insert(0, comment.group(2).strip())
            above -= 1
        body = _statement_body(text, offsets[number])
        actions = frozenset(a.lower() for chunk in _ACTIONS.findall(body) for a in _QUOTED.findall(chunk))
        why = caller = None
        marked = next((i for i, c in enumerate(block) if c.startswith(MARK)), None)
        if marked is not None:
            why = " ".join([block[marked][len(MARK) :].strip(), *block[marked + 1 :]]).strip()
            if aws := _AWS_CALLER.match(why):
                caller, why = aws.group(1).strip(), aws.group(2).strip()
        found.append(SidSite(match.group(1), path, number + 1, actions, why, caller))
    return found


def read_sites(*roots: Path) -> list[SidSite]:
    """The Sids written in the .tf files under `roots` (default modules/ and envs/: an env may write a
    policy of its own, such as envs/local's deployer policy)."""
    found = []
    for tf in sorted(tf for root in (roots or (MODULES_DIR, ENVS_DIR)) for tf in root.rglob("*.tf")):
        if ".terraform" in tf.parts:
            continue
        path = str(tf.relative_to(REPO)) if tf.is_relative_to(REPO) else str(tf)
        found += parse_sites(tf.read_text(encoding="utf-8"), path)
    return found


def _statement_actions(document: dict, index: int) -> frozenset[str]:
    statement = dict(statements(document)).get(index, {})
    return frozenset(str(a).lower() for a in _as_list(statement.get("Action") or statement.get("NotAction")))


def justify(grants: list[Grant], policies: list[Policy], sites: list[SidSite]) -> None:
    """Attach each statement's justification, found by Sid. A Sid written in several statements (ReadSpecs,
    WriteLogs) is narrowed to those with the same actions; it counts only when all of them say the same."""
    by_sid: dict[str, list[SidSite]] = defaultdict(list)
    for site in sites:
        by_sid[site.sid].append(site)
    documents = {p.source: p.document for p in policies}
    for grant in grants:
        candidates = by_sid.get(grant.sid or "", [])
        if len(candidates) > 1:
            actions = _statement_actions(documents.get(grant.source, {}), grant.index)
            candidates = [s for s in candidates if s.actions == actions] or candidates
        justified = [s for s in candidates if s.why is not None]
        if not justified:
            continue
        if len(justified) == len(candidates) and len({(s.why, s.aws_caller) for s in justified}) == 1:
            grant.justification = justified[0]
        else:
            grant.justification_problem = (
                f"Sid {grant.sid} is written in {len(candidates)} statements with these actions "
                f"({', '.join(s.where for s in candidates)}), not all justified alike: give each its own Sid"
            )


# ---- the analysis -----------------------------------------------------------------------------------------


def is_probe(call: dict) -> bool:
    """A negative test's call: the record marks calls of `iam-probe-...` sessions; a role a test made for the
    purpose (named `iam-probe-...`) is a probe whatever its session."""
    principal = str(call.get("principal") or "")
    role_name = principal.rsplit("/", 1)[-1] if ":role/" in principal else ""
    return bool(call.get("probe")) or role_name.startswith(PROBE_SESSION_PREFIX)


def analyse(
    record: dict,
    policies: list[Policy],
    sites: list[SidSite],
    *,
    endpoint: str = "",
    denied_only: bool = False,
    expected: list[dict] | None = None,
) -> Analysis:
    calls = list(record.get("calls") or [])
    declared = [e for e in expected or [] if e.get("boot_id") == record.get("boot_id")]
    grants = [g for p in policies for g in grants_of(p)]
    by_statement: dict[tuple[str, int], list[Grant]] = defaultdict(list)
    by_sid: dict[tuple[str, str], list[Grant]] = defaultdict(list)
    for grant in grants:
        by_statement[(grant.source, grant.index)].append(grant)
        if grant.sid:
            by_sid[(grant.source, grant.sid)].append(grant)
    analysis = Analysis(
        endpoint=endpoint,
        boot_id=record.get("boot_id"),
        record_size=len(calls),
        grants=grants,
        denied=[],
        expected=[],
        allowed=0,
        probes=[c for c in calls if is_probe(c)],
        policies=len(policies),
        denied_only=denied_only,
    )
    for call in calls:
        if is_probe(call):
            continue
        if call.get("decision") != "allow":
            why = next((e["why"] for e in declared if _declared_matches(e, call)), None)
            if why is not None:
                analysis.expected.append({**call, "why": why})
            else:
                analysis.denied.append(call)
            continue
        analysis.allowed += 1
        for ref in call.get("allowed_by") or []:
            if str(ref.get("source", "")).startswith(TRUST_SOURCE):
                continue  # trust policies are not grants the report weighs (see NOT_COVERED)
            statement_grants = _statement_of(by_statement, by_sid, ref)
            if statement_grants is None:
                analysis.orphans.append({**call, "statement": ref})
                continue
            matching = [g for g in statement_grants if _grant_matches(g, call)]
            if not matching:
                analysis.unmatched.append({**call, "statement": ref})
            for grant in matching:
                grant.calls += int(call.get("count") or 1)
    justify(grants, policies, sites)
    return analysis


def _statement_of(
    by_statement: dict[tuple[str, int], list[Grant]], by_sid: dict[tuple[str, str], list[Grant]], ref: dict
) -> list[Grant] | None:
    """The grants of the statement a StatementRef names: by position, unless the policy changed since the call
    (a test's PutRolePolicy) and the Sid now sits elsewhere in it."""
    found = by_statement.get((ref.get("source"), ref.get("index")))
    sid = ref.get("sid")
    if sid and (not found or found[0].sid != sid):
        moved = by_sid.get((ref.get("source"), sid))
        if moved and len({g.index for g in moved}) == 1:
            return moved
    return found


def _declared_matches(entry: dict, call: dict) -> bool:
    return (
        entry.get("principal") == call.get("principal")
        and action_matches(entry.get("action", ""), call["action"])
        and resource_matches(entry.get("resource", ""), call["resource"])
    )


# ---- Markdown ---------------------------------------------------------------------------------------------


def _code(text: Any) -> str:
    return "`" + str(text).replace("`", "'") + "`" if text not in (None, "") else ""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def short_principal(arn: str) -> str:
    """`role/farm-batch-job` for a role ARN; service principals and anything else as they are."""
    if arn.startswith("arn:") and ":iam::" in arn:
        return arn.split(":", 5)[5]
    return arn


def _table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


CALL_COLUMNS = ["principal", "action", "resource"]
GRANT_COLUMNS = ["policy", "statement", "action", "resource"]
NOT_COVERED = [
    "## Not covered here",
    "",
    "- Deny statements (they grant nothing; the negative tests exercise them) and trust policies (a service "
    "refused a role shows in section 1 as a denied `sts:AssumeRole`).",
    "- `aws:SecureTransport`: the local endpoint is plain HTTP, so the TLS-only statements are never "
    "exercised locally (a difference from AWS, localcloud/README.md).",
    "- Policies the local cloud does not evaluate (EFS file system, ECR repository policies).",
    "",
]


def _call_row(call: dict, *extra: Any) -> list[Any]:
    return [_code(short_principal(call["principal"])), _code(call["action"]), _code(call["resource"]), *extra]


def _grant_row(grant: Grant, *extra: Any) -> list[Any]:
    return [grant.owner, _code(grant.statement), _code(grant.action), _code(grant.resource), *extra]


def _by_call(calls: Iterable[dict]) -> list[dict]:
    return sorted(calls, key=lambda c: (c["principal"], c["action"], c["resource"]))


def _header(a: Analysis, generated: str) -> list[str]:
    unused_note = " (not failing: `--denied-only`, a partial run)" if a.denied_only and a.unused else ""
    return [
        "# IAM report: least privilege, proven by the recorded calls",
        "",
        f"Record of the local cloud at {_code(a.endpoint)} (boot {_code(a.boot_id)}), read {generated}: "
        f"{a.record_size} aggregated calls ({a.allowed} allowed and {len(a.denied)} denied for the stack's "
        f"workloads, {len(a.probes)} probe calls, {len(a.expected)} declared denials); {a.policies} policies "
        f"holding {len(a.grants)} grants (action pattern x resource pattern of an Allow statement).",
        "",
        f"**{'FAIL' if a.failed else 'PASS'}**: {len(a.denied)} denied calls, {len(a.unused)} unused grants "
        f"without a justification{unused_note}, {len(a.justified_unused)} unused but justified, "
        f"{len(a.aws_only)} exercised only by AWS.",
        "",
    ]


def _denied_section(a: Analysis) -> list[str]:
    out = ["## 1. Calls denied to the stack's workloads", ""]
    if not a.denied:
        return [*out, "None.", ""]
    rows = [_call_row(c, c.get("count", 1), c.get("reason", "")) for c in _by_call(a.denied)]
    return out + _table([*CALL_COLUMNS, "count", "reason"], rows) + [""]


def _unused_section(a: Analysis) -> list[str]:
    out = [
        "## 2. Unused grants",
        "",
        "No allowed call of a stack workload used these. Remove each, or justify it in the Terraform with a "
        "comment line `# iam-report: <why>` directly above its statement's `sid` "
        "(`# iam-report: aws <caller>: <why>` when only AWS itself exercises it).",
        "",
    ]
    if not a.unused:
        out += ["None.", ""]
    else:
        rows = [_grant_row(g, g.justification_problem or "") for g in _sorted(a.unused)]
        out += _table([*GRANT_COLUMNS, "note"], rows) + [""]
    if a.justified_unused:
        rows = [
            _grant_row(g, g.justification.why, g.justification.where) for g in _sorted(a.justified_unused)
        ]
        out += ["### Unused, justified in the Terraform", ""]
        out += _table([*GRANT_COLUMNS, "why", "where"], rows) + [""]
    return out


def _aws_section(a: Analysis) -> list[str]:
    out = [
        "## 3. Grants only AWS itself exercises",
        "",
        "Used by AWS's own agents on the stack's behalf, which the local cloud does not run as the role; the "
        "count is what the local cloud saw anyway.",
        "",
    ]
    if not a.aws_only:
        return [*out, "None.", ""]
    ordered = sorted(a.aws_only, key=lambda g: (g.justification.aws_caller, g.owner, g.index, g.action))
    rows = [
        [g.justification.aws_caller, *_grant_row(g, g.justification.why, g.calls, g.justification.where)]
        for g in ordered
    ]
    return out + _table(["AWS caller", *GRANT_COLUMNS, "why", "calls", "where"], rows) + [""]


def _probe_section(a: Analysis) -> list[str]:
    out = [
        "## 4. Probe calls (negative tests)",
        "",
        f"Calls of STS sessions named `{PROBE_SESSION_PREFIX}...`: the negative tests, denied on purpose. "
        "An `allow` here is a policy that lets a caller do what a test says it must not.",
        "",
    ]
    if not a.probes and not a.expected:
        return [*out, "None recorded.", ""]
    if a.probes:
        rows = [_call_row(c, c["decision"], c.get("count", 1)) for c in _by_call(a.probes)]
        out += _table([*CALL_COLUMNS, "decision", "count"], rows) + [""]
    if a.expected:
        rows = [_call_row(c, c.get("count", 1), c["why"]) for c in _by_call(a.expected)]
        out += ["Denied to a workload's own role on purpose, as the test that caused it declared:", ""]
        out += _table([*CALL_COLUMNS, "count", "why"], rows) + [""]
    return out


def _disagreement_section(a: Analysis) -> list[str]:
    if not a.orphans and not a.unmatched:
        return []
    out = ["## Record and policies disagree", ""]
    for calls, title in (
        (
            a.orphans,
            "Allowed by a statement that is not among the stack's policies (another stack's role, or "
            "a policy changed since the call):",
        ),
        (a.unmatched, "Allowed by a statement none of whose action x resource patterns matches the call:"),
    ):
        if calls:
            out += [title, ""]
            out += [
                f"- {' '.join(_call_row(c)[:2])} on {_call_row(c)[2]}: {_code(c['statement'].get('source'))} "
                f"#{c['statement'].get('index')}"
                for c in calls
            ]
            out.append("")
    return out


def _every_grant_section(a: Analysis) -> list[str]:
    def note(g: Grant) -> str:
        if g.justification and g.justification.aws_caller:
            return f"aws {g.justification.aws_caller}"
        return "justified" if g.justification else ""

    rows = [_grant_row(g, g.calls, note(g)) for g in _sorted(a.grants)]
    return ["## 5. Every grant", "", *_table([*GRANT_COLUMNS, "calls", "note"], rows), ""]


def render(analysis: Analysis, generated: str | None = None) -> str:
    generated = generated or datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    sections = [
        _header(analysis, generated),
        _denied_section(analysis),
        _unused_section(analysis),
        _aws_section(analysis),
        _probe_section(analysis),
        _disagreement_section(analysis),
        _every_grant_section(analysis),
        NOT_COVERED,
    ]
    return "\n".join(line for section in sections for line in section)


def _sorted(grants: Iterable[Grant]) -> list[Grant]:
    return sorted(grants, key=lambda g: (g.owner, g.source, g.index, g.action, g.resource))


def findings(analysis: Analysis) -> list[str]:
    """What makes the exit code non-zero, one line each."""
    lines = [
        f"denied: {short_principal(c['principal'])} {c['action']} on {c['resource']} (x{c.get('count', 1)}): "
        f"{c.get('reason', '')}"
        for c in analysis.denied
    ]
    if not analysis.denied_only:
        lines += [
            f"unused grant: {g.owner} {g.statement}: {g.action} on {g.resource}"
            + (f" ({g.justification_problem})" if g.justification_problem else "")
            for g in _sorted(analysis.unused)
        ]
    return lines


# ---- reading the live stack -------------------------------------------------------------------------------


def _http(method: str, url: str) -> dict:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - the local cloud's http URL
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local cloud's URL
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        raise ReportError(f"{method} {url}: HTTP {err.code} {err.read()[:200]!r}") from None
    except (urllib.error.URLError, OSError) as err:
        raise ReportError(f"{method} {url}: {err} (is the local cloud running?)") from None


def expect_denial(endpoint: str, principal: str, action: str, resource: str, why: str) -> None:
    """Declare, for this boot of the local cloud, a denial a test causes on purpose to a workload acting as
    its own role (so it cannot be a probe session): the report lists it apart instead of failing on it.
    `action` and `resource` are IAM patterns; keep them as narrow as the test allows (its run's own key)."""
    boot_id = _http("GET", endpoint.rstrip("/") + HEALTH_PATH)["boot_id"]
    entries = [e for e in read_expected() if e.get("boot_id") == boot_id]  # earlier boots' are stale
    entries.append(
        {"boot_id": boot_id, "principal": principal, "action": action, "resource": resource, "why": why}
    )
    path = expected_denials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(entries, indent=2) + "\n")
    temporary.replace(path)


def expected_denials_path() -> Path:
    from harness import terraform  # the harness's per-deployment state directory

    return terraform.state_dir() / EXPECTED_DENIALS_FILE


def read_expected() -> list[dict]:
    try:
        entries = json.loads(expected_denials_path().read_text())
    except (OSError, ValueError):
        return []
    return entries if isinstance(entries, list) else []


def fetch_record(endpoint: str) -> dict:
    """The aggregated calls (admin credentials not needed for this route)."""
    return _http("GET", endpoint.rstrip("/") + RECORD_PATH)


def clear_record(endpoint: str) -> dict:
    return _http("DELETE", endpoint.rstrip("/") + RECORD_PATH)


def _document(raw: Any) -> dict:
    """A policy as the APIs give it: a dict (boto3 decodes IAM's), or JSON text (S3, SQS, SNS, KMS)."""
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except ValueError:
        from urllib.parse import unquote

        document = json.loads(unquote(raw))
    return document if isinstance(document, dict) else {}


def name_prefix(stack) -> str:
    """The stack's name_prefix: its state machine is `<prefix>-render` (modules/workflow)."""
    name = stack["state_machine_arn"].rsplit(":", 1)[-1]
    return name.removesuffix("-render")


def role_policies(iam, prefix: str) -> list[Policy]:
    """Inline and attached policies of the roles named `<prefix>-...` (each managed policy once)."""
    policies: list[Policy] = []
    seen_managed: set[str] = set()
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            if not name.startswith(f"{prefix}-"):
                continue
            for policy_name in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
                document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                policies.append(
                    Policy(
                        f"identity:{role['Arn']}:{policy_name}",
                        f"role {name} / {policy_name}",
                        _document(document),
                    )
                )
            attached = iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", [])
            for entry in attached:
                arn = entry["PolicyArn"]
                if arn in seen_managed:
                    continue
                seen_managed.add(arn)
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                    "Document"
                ]
                policies.append(
                    Policy(f"identity:{arn}", f"managed {entry['PolicyName']}", _document(document))
                )
    return policies


def resource_policies(stack) -> list[Policy]:
    """The resource policies of the stack's buckets, queues, topics, KMS keys and functions."""
    from botocore.exceptions import ClientError

    policies: list[Policy] = []
    s3 = stack.client("s3")
    for output in ("specs_bucket", "renders_bucket", "artifacts_bucket"):
        bucket = stack.outputs.get(output)
        if not bucket:
            continue
        try:
            text = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        except ClientError:
            continue
        policies.append(Policy(f"resource:arn:aws:s3:::{bucket}", f"bucket {bucket}", _document(text)))
    sqs = stack.client("sqs")
    for output, url in sorted(stack.outputs.items()):
        if not (output.endswith("_queue_url") or output.endswith("_dlq_url")) or not url:
            continue
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "Policy"])[
            "Attributes"
        ]
        if attributes.get("Policy"):
            arn = attributes["QueueArn"]
            policies.append(
                Policy(f"resource:{arn}", f"queue {arn.rsplit(':', 1)[-1]}", _document(attributes["Policy"]))
            )
    sns = stack.client("sns")
    for output in ("completion_topic_arn", "failure_topic_arn"):
        arn = stack.outputs.get(output)
        if arn:
            text = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
            if text:
                policies.append(Policy(f"resource:{arn}", f"topic {arn.rsplit(':', 1)[-1]}", _document(text)))
    kms = stack.client("kms")
    for family, arn in sorted((stack.outputs.get("kms_key_arns") or {}).items()):
        text = kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
        policies.append(Policy(f"key:{arn}", f"key {family}", _document(text)))
    policies += _logs_resource_policy(stack)
    lam = stack.client("lambda")
    for name in sorted((stack.outputs.get("lambda_function_names") or {}).values()):
        try:
            response = lam.get_policy(FunctionName=name)
        except ClientError:
            continue  # no function policy
        arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"].split(":$")[0]
        policies.append(Policy(f"resource:{arn}", f"function {name}", _document(response["Policy"])))
    return policies


def _logs_resource_policy(stack) -> list[Policy]:
    """The region's CloudWatch Logs resource policies as one document, in their order: AWS evaluates them
    together, and the local cloud names them so (`resource:logs:<region>`, localcloud/iam/resources.py)."""
    found = stack.client("logs").describe_resource_policies().get("resourcePolicies", [])
    statements: list[dict] = []
    for policy in found:
        statements += _as_list(_document(policy.get("policyDocument")).get("Statement"))
    if not statements:
        return []
    names = ", ".join(p["policyName"] for p in found)
    region = stack["region"]
    return [Policy(f"resource:logs:{region}", f"logs resource policies ({names})", {"Statement": statements})]


def stack_policies(stack, prefix: str | None = None) -> list[Policy]:
    prefix = prefix or name_prefix(stack)
    return role_policies(stack.client("iam"), prefix) + resource_policies(stack)


# ---- the command ------------------------------------------------------------------------------------------


def write(out_dir: Path, record: dict, policies: list[Policy], report: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calls.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    (out_dir / "policies.json").write_text(json.dumps([asdict(p) for p in policies], indent=2) + "\n")
    path = out_dir / "report.md"
    path.write_text(report)
    return path


def run(
    out_dir: Path = OUT_DIR, env: str = "local", prefix: str | None = None, denied_only: bool = False
) -> tuple[int, Path]:
    from farm import stack as stack_module

    stack = stack_module.load(env)
    if not stack.is_local:
        raise ReportError(f"envs/{env} is not the local cloud: only the local cloud records IAM decisions")
    endpoint = stack["endpoint_url"]
    record = fetch_record(endpoint)
    policies = stack_policies(stack, prefix)
    record = {"endpoint": endpoint, **record}
    analysis = analyse(
        record,
        policies,
        read_sites(),
        endpoint=endpoint,
        denied_only=denied_only,
        expected=read_expected(),
    )
    path = write(out_dir, record, policies, render(analysis))
    problems = findings(analysis)
    print(f"IAM report: {path} ({'FAIL' if analysis.failed else 'PASS'})")
    print(
        f"  {len(analysis.denied)} denied calls, {len(analysis.unused)} unused grants without a justification"
        f"{' (not failing: --denied-only)' if denied_only and analysis.unused else ''}, "
        f"{len(analysis.justified_unused)} justified, {len(analysis.aws_only)} only AWS exercises, "
        f"{len(analysis.probes)} probe calls, {len(analysis.expected)} declared denials"
    )
    for line in problems[:PRINTED_FINDINGS]:
        print(f"  {line}")
    if len(problems) > PRINTED_FINDINGS:
        print(f"  ... and {len(problems) - PRINTED_FINDINGS} more: {path}")
    return (EXIT_FINDINGS if analysis.failed else EXIT_OK), path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.iam_report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory (default build/iam)")
    parser.add_argument("--env", default="local", help="the env whose outputs name the stack (default local)")
    parser.add_argument("--prefix", help="the stack's name_prefix (default: from the state machine's name)")
    parser.add_argument(
        "--denied-only", action="store_true", help="fail on denied calls only (unused grants are listed)"
    )
    parser.add_argument("--clear", action="store_true", help="clear the record of the local cloud and exit")
    args = parser.parse_args(argv)
    try:
        if args.clear:
            from farm import stack as stack_module

            endpoint = stack_module.load(args.env)["endpoint_url"]
            clear_record(endpoint)
            print(f"IAM record of {endpoint} cleared")
            return EXIT_OK
        code, _ = run(args.out, args.env, args.prefix, args.denied_only)
        return code
    except ReportError as err:
        print(f"iam-report: {err}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:  # the stack cannot be read: not deployed, cloud down
        print(f"iam-report: cannot read the stack: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
