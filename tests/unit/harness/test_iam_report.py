"""harness.iam_report: grants matched against recorded calls, justifications read from the Terraform, the exit
code, and the policies read from a stack (in-process moto) named as the local cloud's record names them."""

from __future__ import annotations

import json

import pytest

from harness import iam_report as r

ACCOUNT = "123456789012"
WORKER = f"arn:aws:iam::{ACCOUNT}:role/farm-batch-job"
WORKFLOW = f"arn:aws:iam::{ACCOUNT}:role/farm-render-workflow"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1111"
WORKER_POLICY = f"identity:{WORKER}:render-worker"
WORKFLOW_POLICY = f"identity:{WORKFLOW}:render-workflow"


def policies() -> list[r.Policy]:
    worker = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteRenders",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject"],
                "Resource": "arn:aws:s3:::renders/*",
            },
            {"Sid": "UseStorageKey", "Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": KEY},
            {"Sid": "NoWrites", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        ],
    }
    workflow = {
        "Statement": [
            {
                "Sid": "BatchSyncEventsRule",
                "Effect": "Allow",
                "Action": ["events:PutRule", "events:PutTargets"],
                "Resource": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/StepFunctionsGetEventsForBatchJobsRule",
            },
            {"Effect": "Allow", "Action": "batch:DescribeJobs", "Resource": "*"},
        ]
    }
    return [
        r.Policy(WORKER_POLICY, "role farm-batch-job / render-worker", worker),
        r.Policy(WORKFLOW_POLICY, "role farm-render-workflow / render-workflow", workflow),
    ]


def call(principal, action, resource, *refs, decision="allow", count=1, probe=False, reason=""):
    by = [{"source": s, "index": i, "sid": None} for s, i in refs]
    return {
        "principal": principal,
        "principal_kind": "role",
        "action": action,
        "resource": resource,
        "decision": decision,
        "count": count,
        "allowed_by": by if decision == "allow" else [],
        "denied_by": by if decision == "deny" else [],
        "reason": reason,
        "probe": probe,
    }


def every_grant_used() -> list[dict]:
    return [
        call(WORKER, "s3:PutObject", "arn:aws:s3:::renders/run/p/a.svg", (WORKER_POLICY, 0), count=8),
        call(WORKER, "s3:GetObject", "arn:aws:s3:::renders/run/_parts/plain.json", (WORKER_POLICY, 0)),
        call(WORKER, "kms:GenerateDataKey", KEY, (WORKER_POLICY, 1)),
        call(WORKFLOW, "batch:DescribeJobs", "*", (WORKFLOW_POLICY, 1), count=40),
    ]


def sites(why: str | None = None, caller: str | None = None) -> list[r.SidSite]:
    return [
        r.SidSite(
            "BatchSyncEventsRule",
            "modules/workflow/iam.tf",
            51,
            frozenset({"events:putrule", "events:puttargets"}),
            why,
            caller,
        )
    ]


# ---- patterns --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("s3:GetObject", "s3:GetObject", True),
        ("s3:getobject", "S3:GetObject", True),  # actions ignore case
        ("s3:GetObject", "s3:GetObjectVersion", False),  # no implicit prefix match
        ("kms:GenerateDataKey*", "kms:GenerateDataKey", True),
        ("kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext", True),
        ("kms:ReEncrypt*", "kms:Decrypt", False),
        ("s3:*", "s3:PutObject", True),
        ("s3:*", "sqs:SendMessage", False),
        ("*", "sns:Publish", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetObjject", False),
    ],
)
def test_action_patterns(pattern, action, matches):
    assert r.action_matches(pattern, action) is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        ("arn:aws:s3:::renders/*", "arn:aws:s3:::renders/run/p/a.svg", True),  # `*` crosses `/`
        ("arn:aws:s3:::renders/*", "arn:aws:s3:::renders", False),  # the bucket is not its objects
        ("arn:aws:s3:::renders/*", "arn:aws:s3:::renders-old/a", False),
        ("arn:aws:s3:::renders", "arn:aws:s3:::renders/a", False),
        ("arn:aws:s3:::Renders/*", "arn:aws:s3:::renders/a", False),  # ARNs keep their case
        ("*", KEY, True),  # a key policy's "*": the key itself
        ("*", "*", True),
        (KEY, "*", False),  # an action without resource-level permissions needs the pattern "*"
        (
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*",
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:log-stream:x",
            True,
        ),
        (
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*",
            "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/fg:x",
            False,
        ),
        ("arn:aws:batch:us-east-1:1:job/*", "arn:aws:batch:us-east-1:1:job/abc:3", True),
        ("arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b/alice/x", True),  # a variable may be anything
        ("arn:aws:s3:::b/a.b", "arn:aws:s3:::b/aXb", False),  # regex characters are literal
    ],
)
def test_resource_patterns(pattern, resource, matches):
    assert r.resource_matches(pattern, resource) is matches


def test_grants_are_every_action_times_resource_of_allow_statements_only():
    grants = r.grants_of(policies()[0])
    pairs = [(g.sid, g.action, g.resource) for g in grants]
    assert pairs == [
        ("WriteRenders", "s3:PutObject", "arn:aws:s3:::renders/*"),
        ("WriteRenders", "s3:GetObject", "arn:aws:s3:::renders/*"),
        ("UseStorageKey", "kms:GenerateDataKey*", KEY),
    ]
    assert [g.index for g in grants] == [0, 0, 1]


# ---- the analysis ----------------------------------------------------------------------------------------


def test_clean_record_passes():
    record = {"boot_id": "b", "calls": every_grant_used()}
    analysis = r.analyse(record, policies(), sites("used by AWS", "Step Functions"))
    assert analysis.denied == [] and analysis.unused == []
    assert not analysis.failed
    assert r.findings(analysis) == []


def test_unused_grant_is_found_per_action_and_resource():
    calls = [c for c in every_grant_used() if c["action"] != "s3:GetObject"]  # WriteRenders' GetObject unused
    analysis = r.analyse({"calls": calls}, policies(), sites())
    rule = r.grants_of(policies()[1])[0].resource
    unused = {(g.statement, g.action, g.resource) for g in analysis.unused}
    assert unused == {
        ("WriteRenders", "s3:GetObject", "arn:aws:s3:::renders/*"),  # the statement's other action was used
        ("BatchSyncEventsRule", "events:PutRule", rule),
        ("BatchSyncEventsRule", "events:PutTargets", rule),
    }
    assert analysis.failed
    assert (
        "unused grant: role farm-batch-job / render-worker WriteRenders: s3:GetObject on "
        "arn:aws:s3:::renders/*" in r.findings(analysis)
    )


def test_a_call_counts_only_for_the_statement_that_allowed_it():
    """A call the record credits to statement 0 does not use statement 1, even when its patterns match."""
    document = {
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "B", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
        ]
    }
    policy = r.Policy("identity:role:p", "role p", document)
    record = {"calls": [call(WORKER, "s3:GetObject", "arn:aws:s3:::b/k", ("identity:role:p", 0))]}
    analysis = r.analyse(record, [policy], [])
    assert [(g.sid, g.calls) for g in analysis.grants] == [("A", 1), ("B", 0)]
    assert [g.sid for g in analysis.unused] == ["B"]


def test_justified_grants_are_not_unused_and_aws_ones_are_listed_apart():
    calls = every_grant_used()
    aws = r.analyse(
        {"calls": calls}, policies(), sites("the .sync integration's managed rule", "Step Functions")
    )
    assert aws.unused == [] and aws.justified_unused == []
    assert {g.action for g in aws.aws_only} == {"events:PutRule", "events:PutTargets"}
    assert not aws.failed
    report = r.render(aws, generated="now")
    section = report[report.index("## 3.") : report.index("## 4.")]
    assert (
        "| Step Functions | role farm-render-workflow / render-workflow | `BatchSyncEventsRule` | "
        "`events:PutRule`" in section
    )
    assert "modules/workflow/iam.tf:51" in section

    plain = r.analyse({"calls": calls}, policies(), sites("kept for the next release"))
    assert plain.unused == [] and plain.aws_only == []
    assert {g.action for g in plain.justified_unused} == {"events:PutRule", "events:PutTargets"}
    assert "kept for the next release" in r.render(plain)


def test_statement_without_sid_cannot_be_justified():
    calls = [c for c in every_grant_used() if c["action"] != "batch:DescribeJobs"]
    analysis = r.analyse({"calls": calls}, policies(), sites("x", "Step Functions"))
    assert [(g.statement, g.action) for g in analysis.unused] == [("#1 (no Sid)", "batch:DescribeJobs")]


def test_denied_call_fails_but_a_denied_probe_does_not():
    probe = call(
        WORKER, "sns:Publish", "arn:aws:sns:us-east-1:1:farm-completion", decision="deny", probe=True
    )
    passing = r.analyse({"calls": [*every_grant_used(), probe]}, policies(), sites("x", "Step Functions"))
    assert not passing.failed
    assert passing.probes == [probe]
    assert "`role/farm-batch-job` | `sns:Publish`" in r.render(passing)

    denied = call(
        WORKER,
        "s3:GetObjectVersion",
        "arn:aws:s3:::specs/run/catalog.json",
        decision="deny",
        reason="because no identity-based policy allows the s3:GetObjectVersion action",
    )
    failing = r.analyse({"calls": [*every_grant_used(), denied]}, policies(), sites("x", "Step Functions"))
    assert failing.failed and failing.denied == [denied]
    assert failing.unused == []
    assert r.findings(failing) == [
        "denied: role/farm-batch-job s3:GetObjectVersion on arn:aws:s3:::specs/run/catalog.json (x1): "
        "because no identity-based policy allows the s3:GetObjectVersion action"
    ]
    section = r.render(failing)
    assert section.index("## 1.") < section.index("s3:GetObjectVersion") < section.index("## 2.")


def test_a_declared_denial_of_this_boot_is_listed_apart(monkeypatch, tmp_path):
    spec_arn = "arn:aws:s3:::specs/t-iam-denied-1/catalog.json"
    denied = call(WORKER, "s3:GetObjectVersion", spec_arn, decision="deny")
    other = call(WORKER, "s3:GetObjectVersion", "arn:aws:s3:::specs/t-other/catalog.json", decision="deny")
    declared = {"principal": WORKER, "action": "s3:GetObject*", "resource": spec_arn, "why": "done-when test"}
    record = {"boot_id": "b2", "calls": [*every_grant_used(), denied, other]}
    stale = r.analyse(record, policies(), sites("x", "S"), expected=[{**declared, "boot_id": "b1"}])
    assert stale.denied == [denied, other]  # another boot's declaration counts for nothing
    analysis = r.analyse(record, policies(), sites("x", "S"), expected=[{**declared, "boot_id": "b2"}])
    assert analysis.denied == [other] and analysis.failed
    assert [c["why"] for c in analysis.expected] == ["done-when test"]
    assert "| `role/farm-batch-job` | `s3:GetObjectVersion` | `" + spec_arn in r.render(analysis)

    # expect_denial keeps this boot's declarations and drops earlier boots'.
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))  # per deployment, not the shared build/
    monkeypatch.setattr(r, "_http", lambda method, url: {"boot_id": "b2"})
    assert r.expected_denials_path() == tmp_path / "iam" / "expected-denials.json"
    r.expected_denials_path().parent.mkdir()
    r.expected_denials_path().write_text(json.dumps([{**declared, "boot_id": "b1"}]))
    r.expect_denial("http://127.0.0.1:1", WORKER, "s3:GetObject*", spec_arn, "done-when test")
    assert r.read_expected() == [{**declared, "boot_id": "b2"}]


def test_denied_only_lists_unused_grants_without_failing_on_them():
    analysis = r.analyse({"calls": []}, policies(), [], denied_only=True)
    assert analysis.unused and not analysis.failed
    assert "not failing" in r.render(analysis)
    analysis = r.analyse(
        {"calls": [call(WORKER, "s3:PutObject", "x", decision="deny")]}, policies(), [], denied_only=True
    )
    assert analysis.failed


def test_a_role_made_for_probing_is_a_probe_whatever_its_session():
    made = f"arn:aws:iam::{ACCOUNT}:role/iam-probe-no-grants-1234"
    denied = call(made, "sns:Publish", "arn:aws:sns:us-east-1:1:t", decision="deny")
    analysis = r.analyse({"calls": [denied]}, policies(), [])
    assert analysis.denied == [] and analysis.probes == [denied]
    assert not r.is_probe(call(f"arn:aws:iam::{ACCOUNT}:role/farm-iam-probe-x", "s3:GetObject", "x"))


def test_probe_calls_never_count_as_use():
    probe = call(WORKER, "kms:GenerateDataKey", KEY, (WORKER_POLICY, 1), probe=True)
    analysis = r.analyse({"calls": [probe]}, policies(), [])
    assert all(g.calls == 0 for g in analysis.grants)


def test_record_and_policies_disagreeing_is_reported():
    orphan = call(WORKER, "s3:GetObject", "arn:aws:s3:::x/y", ("identity:elsewhere:p", 0))
    unmatched = call(WORKER, "s3:DeleteObject", "arn:aws:s3:::renders/a", (WORKER_POLICY, 0))
    analysis = r.analyse({"calls": [orphan, unmatched]}, policies(), [])
    assert [c["action"] for c in analysis.orphans] == ["s3:GetObject"]
    assert [c["action"] for c in analysis.unmatched] == ["s3:DeleteObject"]
    assert "## Record and policies disagree" in r.render(analysis)


def test_a_statement_that_moved_since_the_call_is_found_by_its_sid():
    """A test removed statement 0 for a while: calls made then name UseStorageKey at index 0."""
    moved = call(WORKER, "kms:GenerateDataKey", KEY, (WORKER_POLICY, 0))
    moved["allowed_by"][0]["sid"] = "UseStorageKey"
    analysis = r.analyse({"calls": [moved]}, policies(), [])
    assert analysis.unmatched == []
    assert [(g.sid, g.calls) for g in analysis.grants if g.calls] == [("UseStorageKey", 1)]


def test_trust_policy_decisions_are_not_weighed_but_a_refused_role_is_denied():
    trust = call("ecs-tasks.amazonaws.com", "sts:AssumeRole", WORKER, (f"trust:{WORKER}", 0))
    refused = call("ecs-tasks.amazonaws.com", "sts:AssumeRole", WORKER, decision="deny")
    analysis = r.analyse({"calls": [trust]}, policies(), [])
    assert analysis.orphans == [] and analysis.denied == []
    assert r.analyse({"calls": [refused]}, policies(), []).denied == [refused]


# ---- justifications in the Terraform ----------------------------------------------------------------------

TF = """
data "aws_iam_policy_document" "this" {
  statement {
    # The managed rule of .sync Batch integrations.
    # iam-report: aws Step Functions: creates and reads its
    # managed rule for .sync jobs
    sid       = "BatchSyncEventsRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = [local.batch_sync_rule_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = ["${var.account}"]
    }
  }

  statement {
    # iam-report: read by the operators' runbook

    sid       = "NotDirectlyAbove"
    actions   = ["s3:ListBucket"]
    resources = ["*"]
  }

  statement {
    // iam-report: kept for the pipeline
    sid = "Slashes"
    actions = [
      "s3:GetObject",
    ]
    resources = ["*"]
  }
}
"""


def test_sites_read_the_comment_block_directly_above_the_sid():
    found = {s.sid: s for s in r.parse_sites(TF, "modules/x/iam.tf")}
    sync = found["BatchSyncEventsRule"]
    assert (sync.aws_caller, sync.why) == (
        "Step Functions",
        "creates and reads its managed rule for .sync jobs",
    )
    assert sync.actions == {"events:puttargets", "events:putrule", "events:describerule"}
    assert sync.where == "modules/x/iam.tf:7"
    assert found["NotDirectlyAbove"].why is None  # a blank line separates it
    assert (found["Slashes"].why, found["Slashes"].aws_caller) == ("kept for the pipeline", None)
    assert found["Slashes"].actions == {"s3:getobject"}


def test_same_sid_in_several_statements_is_told_apart_by_actions():
    policy = r.Policy(
        "identity:role/logs:p",
        "role logs",
        {
            "Statement": [
                {"Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}
            ]
        },
    )
    other = r.SidSite("WriteLogs", "modules/b/iam.tf", 3, frozenset({"s3:putobject"}))  # another statement
    ours = r.SidSite(
        "WriteLogs", "modules/a/iam.tf", 9, frozenset({"logs:putlogevents"}), "Lambda writes", "Lambda"
    )
    analysis = r.analyse({"calls": []}, [policy], [other, ours])
    assert analysis.aws_only[0].justification == ours

    twin = r.SidSite(
        "WriteLogs", "modules/c/iam.tf", 4, frozenset({"logs:putlogevents"})
    )  # same actions, bare
    analysis = r.analyse({"calls": []}, [policy], [ours, twin])
    (grant,) = analysis.unused
    assert (
        "modules/a/iam.tf:9" in grant.justification_problem
        and "modules/c/iam.tf:4" in grant.justification_problem
    )


def test_read_sites_walks_modules_and_the_real_tree_parses(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "iam.tf").write_text(TF)
    (tmp_path / "m" / ".terraform").mkdir()
    (tmp_path / "m" / ".terraform" / "x.tf").write_text('sid = "Ignored"\n')
    assert {s.sid for s in r.read_sites(tmp_path)} == {"BatchSyncEventsRule", "NotDirectlyAbove", "Slashes"}
    real = r.read_sites()
    assert any(s.sid == "PublishNotifications" and s.actions == {"sns:publish"} for s in real)


# ---- files and the exit code ------------------------------------------------------------------------------


def test_write_puts_report_calls_and_policies(tmp_path):
    record = {"boot_id": "b", "calls": every_grant_used()}
    analysis = r.analyse(record, policies(), sites("x", "Step Functions"), endpoint="http://127.0.0.1:1")
    path = r.write(tmp_path / "iam", record, policies(), r.render(analysis, generated="now"))
    assert path == tmp_path / "iam" / "report.md"
    assert json.loads((tmp_path / "iam" / "calls.json").read_text()) == record
    assert json.loads((tmp_path / "iam" / "policies.json").read_text())[0]["source"] == WORKER_POLICY
    text = path.read_text()
    assert "**PASS**: 0 denied calls, 0 unused grants" in text
    for title in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert title in text


def test_main_exit_codes(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(r, "run", lambda *a, **k: (r.EXIT_FINDINGS, tmp_path))
    assert r.main(["--out", str(tmp_path)]) == r.EXIT_FINDINGS

    def unreadable(*a, **k):
        raise r.ReportError("GET http://127.0.0.1:1/_localcloud/iam/calls: refused")

    monkeypatch.setattr(r, "run", unreadable)
    assert r.main([]) == r.EXIT_ERROR
    assert "refused" in capsys.readouterr().err


def test_plan_review_summary_links_the_report(tmp_path):
    from harness import plan_summary

    summary = plan_summary.summarize({"resource_changes": []}, "local")
    security = summary[summary.index("## Security-relevant changes") : summary.index("## Changes per module")]
    link = "[build/iam/report.md](../../iam/report.md)"
    assert link in security
    # The summary is written to build/plan/<env>/plan-summary.md: the relative link reaches build/iam/.
    plan_dir = r.REPO / "build" / "plan" / "local"
    assert (plan_dir / "../../iam/report.md").resolve() == (r.OUT_DIR / "report.md").resolve()


# ---- the stack's policies, read through the APIs (in-process moto) -----------------------------------------


@pytest.fixture
def moto_stack(monkeypatch):
    from moto import mock_aws

    from farm.stack import Stack

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        import boto3

        region = "us-east-1"
        iam = boto3.client("iam", region_name=region)
        trust = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
        role = iam.create_role(RoleName="farm-batch-job", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        iam.create_role(RoleName="other-role", AssumeRolePolicyDocument=json.dumps(trust))
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WriteRenders",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::renders/*",
                }
            ],
        }
        iam.put_role_policy(
            RoleName="farm-batch-job", PolicyName="render-worker", PolicyDocument=json.dumps(document)
        )
        iam.put_role_policy(RoleName="other-role", PolicyName="x", PolicyDocument=json.dumps(document))
        managed = iam.create_policy(PolicyName="deployer", PolicyDocument=json.dumps(document))["Policy"][
            "Arn"
        ]
        iam.attach_role_policy(RoleName="farm-batch-job", PolicyArn=managed)
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket="farm-specs")
        bucket_policy = {
            "Statement": [
                {
                    "Sid": "DenyNonKmsEncryption",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::farm-specs/*",
                }
            ]
        }
        s3.put_bucket_policy(Bucket="farm-specs", Policy=json.dumps(bucket_policy))
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.create_queue(QueueName="farm-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue_policy = {
            "Statement": [
                {
                    "Sid": "TopicDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                }
            ]
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(queue_policy)})
        topic = boto3.client("sns", region_name=region).create_topic(Name="farm-completion")["TopicArn"]
        key = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
        logs_policy = {
            "Statement": [
                {
                    "Sid": "EventBridgeWritesJobStates",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/events/x:*",
                }
            ]
        }
        boto3.client("logs", region_name=region).put_resource_policy(
            policyName="farm-events-to-logs", policyDocument=json.dumps(logs_policy)
        )
        outputs = {
            "region": region,
            "endpoint_url": None,
            "specs_bucket": "farm-specs",
            "notifications_queue_url": url,
            "completion_topic_arn": topic,
            "kms_key_arns": {"storage": key},
            "state_machine_arn": f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:farm-render",
            "lambda_function_names": {},
        }
        yield Stack(env="local", outputs=outputs), role["Arn"], managed, queue_arn, topic, key


def test_stack_policies_are_named_as_the_record_names_them(moto_stack):
    stack, role_arn, managed, queue_arn, topic, key = moto_stack
    assert r.name_prefix(stack) == "farm"
    found = {p.source: p for p in r.stack_policies(stack)}
    assert set(found) == {
        f"identity:{role_arn}:render-worker",
        f"identity:{managed}",
        "resource:arn:aws:s3:::farm-specs",
        f"resource:{queue_arn}",
        f"resource:{topic}",  # moto gives every topic a default policy
        f"key:{key}",
        "resource:logs:us-east-1",  # every Logs resource policy of the region, as one document
    }
    logs = found["resource:logs:us-east-1"]
    assert [st["Sid"] for st in logs.document["Statement"]] == ["EventBridgeWritesJobStates"]
    assert found[f"identity:{role_arn}:render-worker"].document["Statement"][0]["Sid"] == "WriteRenders"
    assert found[f"resource:{queue_arn}"].owner == "queue farm-notifications"
    assert found[f"key:{key}"].owner == "key storage"
