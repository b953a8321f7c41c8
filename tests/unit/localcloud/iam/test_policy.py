"""The decision logic of localcloud.iam.policy: statement matching, principals, who may allow, reasons, the
statements reported, KMS key policies, trust policies and malformed documents."""

from __future__ import annotations

import pytest

from localcloud.iam.model import ADMIN, Call, PolicySource, Principal, StatementRef
from localcloud.iam.policy import evaluate, trust_allows

from .support import ACCOUNT, OTHER_ACCOUNT, allow, deny, identity, resource, role, service, sids, user

BUCKET = "arn:aws:s3:::artifacts"
OBJECT = f"{BUCKET}/runs/r1/out.exr"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:notifications"
GET = Call("s3:GetObject", OBJECT)


# --- Action / Resource -------------------------------------------------------------------------------------


def test_actions_match_case_insensitively_with_wildcards():
    for pattern in ("s3:GetObject", "S3:getobject", "s3:Get*", "s3:*", "*", "s3:GetObj?ct"):
        assert evaluate(role("r", identity(allow(pattern))), GET).allowed, pattern
    for pattern in ("s3:Put*", "s3:GetObjectAcl", "sqs:*", "s3:GetObj?"):
        assert not evaluate(role("r", identity(allow(pattern))), GET).allowed, pattern


def test_not_action_matches_every_other_action():
    principal = role(
        "r", identity({"Effect": "Allow", "NotAction": ["s3:Delete*", "iam:*"], "Resource": "*"})
    )
    assert evaluate(principal, GET).allowed
    assert not evaluate(principal, Call("s3:DeleteObject", OBJECT)).allowed


def test_resources_match_case_sensitively_with_wildcards():
    for pattern in (OBJECT, f"{BUCKET}/*", "arn:aws:s3:::art*/runs/*", "*", [QUEUE, f"{BUCKET}/runs/r?/*"]):
        assert evaluate(role("r", identity(allow("s3:GetObject", pattern))), GET).allowed, pattern
    for pattern in (BUCKET, "arn:aws:s3:::Artifacts/*", f"{BUCKET}/other/*", [QUEUE]):
        assert not evaluate(role("r", identity(allow("s3:GetObject", pattern))), GET).allowed, pattern


def test_not_resource_matches_every_other_resource():
    statement = {"Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/runs/*"}
    principal = role("r", identity(allow("s3:*"), statement))
    assert evaluate(principal, GET).allowed
    assert not evaluate(principal, Call("s3:GetObject", f"{BUCKET}/secrets/key")).allowed


def test_variables_in_resources():
    principal = user("david", identity(allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*")))
    own = Call("s3:GetObject", f"{BUCKET}/home/david/notes.txt")
    other = Call("s3:GetObject", f"{BUCKET}/home/juan/notes.txt")
    assert evaluate(principal, own, context={"aws:username": ["david"]}).allowed
    assert not evaluate(principal, other, context={"aws:username": ["david"]}).allowed
    # No value: the resource matches nothing (not even the literal text).
    assert not evaluate(principal, own).allowed


def test_variables_are_literal_text_in_documents_without_version_2012():
    statement = allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*")
    literal = Call("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/x")
    substituted = Call("s3:GetObject", f"{BUCKET}/home/david/x")
    old = user("david", identity(statement, version="2008-10-17"))
    assert evaluate(old, literal, context={"aws:username": ["david"]}).allowed
    assert not evaluate(old, substituted, context={"aws:username": ["david"]}).allowed
    assert evaluate(
        user("david", identity(statement)), substituted, context={"aws:username": ["david"]}
    ).allowed


def test_call_context_joins_the_global_context():
    principal = role(
        "r", identity(allow("s3:PutObject", Condition={"StringEquals": {"s3:x-amz-acl": "private"}}))
    )
    call = Call("s3:PutObject", OBJECT, context={"s3:x-amz-acl": ["private"]})
    assert evaluate(principal, call, context={"aws:securetransport": ["true"]}).allowed
    assert not evaluate(
        principal, Call("s3:PutObject", OBJECT), context={"s3:x-amz-acl": ["public-read"]}
    ).allowed


# --- who allows --------------------------------------------------------------------------------------------


def test_implicit_deny_names_identity_policies():
    decision = evaluate(role("r"), GET)
    assert not decision.allowed
    assert decision.reason == "because no identity-based policy allows the s3:GetObject action"
    assert decision.allowed_by == decision.denied_by == ()


def test_identity_or_resource_policy_allows_within_the_account():
    grant = resource(
        allow("s3:GetObject", OBJECT, Principal={"AWS": role("r").arn}), name=f"resource:{BUCKET}"
    )
    by_resource = evaluate(role("r"), GET, grant)
    assert by_resource.allowed and by_resource.allowed_by == (StatementRef(f"resource:{BUCKET}", 0, None),)
    by_identity = evaluate(
        role("r", identity(allow("s3:GetObject"))), GET, resource(allow("s3:Other", Principal="*"))
    )
    assert by_identity.allowed
    assert not evaluate(role("other"), GET, grant).allowed


@pytest.mark.parametrize(
    "named",
    [
        "*",
        {"AWS": "*"},
        {"AWS": f"arn:aws:iam::{ACCOUNT}:role/r"},
        {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/x", f"arn:aws:iam::{ACCOUNT}:role/r"]},
        {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/session"},
    ],
)
def test_a_statement_naming_the_principal_allows_on_its_own(named):
    assert evaluate(role("r"), GET, resource(allow("s3:GetObject", Principal=named))).allowed


@pytest.mark.parametrize("account", [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", [ACCOUNT]])
def test_a_statement_naming_only_the_account_delegates_to_identity_policies(account):
    policy = resource(allow("s3:GetObject", Principal={"AWS": account}), name="resource:bucket")
    alone = evaluate(role("r"), GET, policy)
    assert not alone.allowed
    assert alone.reason == "because no identity-based policy allows the s3:GetObject action"
    both = evaluate(role("r", identity(allow("s3:GetObject"), name="identity:p")), GET, policy)
    assert both.allowed and {ref.source for ref in both.allowed_by} == {"identity:p", "resource:bucket"}


def test_a_user_arn_names_that_user_only():
    policy = resource(allow("s3:GetObject", Principal={"AWS": user("alice").arn}))
    assert evaluate(user("alice"), GET, policy).allowed
    assert not evaluate(user("bob"), GET, policy).allowed
    assert not evaluate(role("alice"), GET, policy).allowed


def test_a_service_principal_is_allowed_by_its_service_entry_or_everyone_only():
    sns = service("sns.amazonaws.com")
    send = Call("sqs:SendMessage", QUEUE)
    for named in (
        {"Service": "sns.amazonaws.com"},
        {"Service": ["events.amazonaws.com", "sns.amazonaws.com"]},
        "*",
    ):
        assert evaluate(sns, send, resource(allow("sqs:SendMessage", Principal=named))).allowed, named
    for named in ({"Service": "events.amazonaws.com"}, {"AWS": ACCOUNT}, {"AWS": "sns.amazonaws.com"}):
        decision = evaluate(sns, send, resource(allow("sqs:SendMessage", Principal=named)))
        assert not decision.allowed, named
        assert decision.reason == "because no resource-based policy allows the sqs:SendMessage action"


def test_a_service_principal_has_no_identity_policies():
    # Any it is given are ignored: they neither allow nor deny.
    granted = Principal(kind="service", arn="sns.amazonaws.com", identity_policies=(identity(allow("*")),))
    assert not evaluate(granted, Call("sqs:SendMessage", QUEUE)).allowed
    denied = Principal(kind="service", arn="sns.amazonaws.com", identity_policies=(identity(deny("*")),))
    queue_policy = resource(allow("sqs:SendMessage", Principal={"Service": "sns.amazonaws.com"}))
    assert evaluate(denied, Call("sqs:SendMessage", QUEUE), queue_policy).allowed


def test_another_account_needs_both_identity_and_resource_policy():
    outsider = role("r", account=OTHER_ACCOUNT)
    granted = role("r", identity(allow("sqs:SendMessage")), account=OTHER_ACCOUNT)
    policy = resource(allow("sqs:SendMessage", Principal={"AWS": OTHER_ACCOUNT}))
    send = Call("sqs:SendMessage", QUEUE)
    assert evaluate(granted, send, policy).allowed
    only_resource = evaluate(outsider, send, policy)
    assert only_resource.reason == "because no identity-based policy allows the sqs:SendMessage action"
    only_identity = evaluate(granted, send)
    assert only_identity.reason == "because no resource-based policy allows the sqs:SendMessage action"
    assert not evaluate(granted, send, resource(allow("sqs:SendMessage", Principal={"AWS": ACCOUNT}))).allowed


def test_the_resource_account_may_come_from_the_context():
    # S3 ARNs carry no account: aws:ResourceAccount tells the evaluator the bucket is someone else's.
    granted = role("r", identity(allow("s3:GetObject")))
    assert evaluate(granted, GET).allowed
    assert not evaluate(granted, GET, context={"aws:ResourceAccount": [OTHER_ACCOUNT]}).allowed


def test_admin_is_not_evaluated():
    assert evaluate(Principal(kind=ADMIN, arn=""), GET, resource(deny("*", Principal="*"))).allowed


# --- denies ------------------------------------------------------------------------------------------------


def test_an_explicit_deny_wins_and_names_its_policy_type():
    everything = identity(allow("*"), name="identity:admin")
    resource_deny = resource(deny("s3:*", Principal="*", Sid="NoOne"), name=f"resource:{BUCKET}")
    decision = evaluate(role("r", everything), GET, resource_deny)
    assert not decision.allowed
    assert decision.reason == "with an explicit deny in a resource-based policy"
    assert decision.denied_by == (StatementRef(f"resource:{BUCKET}", 0, "NoOne"),)
    assert decision.allowed_by == (StatementRef("identity:admin", 0, None),)

    decision = evaluate(role("r", everything, identity(deny("s3:Get*"), name="identity:guard")), GET)
    assert decision.reason == "with an explicit deny in an identity-based policy"
    assert decision.denied_by == (StatementRef("identity:guard", 0, None),)


def test_a_deny_naming_the_account_denies_its_principals():
    policy = resource(allow("s3:*", Principal="*"), deny("s3:GetObject", Principal={"AWS": ACCOUNT}))
    assert not evaluate(role("r"), GET, policy).allowed
    assert evaluate(role("r", identity(allow("*")), account=OTHER_ACCOUNT), GET, policy).allowed


def test_every_matching_statement_is_reported():
    policy = identity(
        allow("s3:GetObject", Sid="One"),
        allow("s3:Get*", Sid="Two"),
        allow("s3:PutObject", Sid="Unrelated"),
        deny("s3:GetObject", Sid="Conditional", Condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    decision = evaluate(role("r", policy), GET, context={"aws:securetransport": ["true"]})
    assert decision.allowed and sids(decision.allowed_by) == {"One", "Two"} and decision.denied_by == ()
    decision = evaluate(role("r", policy), GET, context={"aws:securetransport": ["false"]})
    assert not decision.allowed and sids(decision.denied_by) == {"Conditional"}


# --- NotPrincipal ------------------------------------------------------------------------------------------


def test_not_principal_deny_spares_a_principal_only_when_its_whole_chain_is_listed():
    session = role("auditor", identity(allow("s3:*")))
    chain = [session.session_arn, session.arn, f"arn:aws:iam::{ACCOUNT}:root"]
    spared = resource({"Effect": "Deny", "NotPrincipal": {"AWS": chain}, "Action": "s3:*", "Resource": "*"})
    assert evaluate(session, GET, spared).allowed
    assert not evaluate(role("other", identity(allow("s3:*"))), GET, spared).allowed
    without_account = resource({"Effect": "Deny", "NotPrincipal": {"AWS": chain[:2]}, "Action": "s3:*"})
    assert not evaluate(session, GET, without_account).allowed


def test_not_principal_with_services():
    policy = resource(
        {"Effect": "Deny", "NotPrincipal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:*"},
        allow("sqs:*", Principal="*"),
    )
    send = Call("sqs:SendMessage", QUEUE)
    assert evaluate(service("sns.amazonaws.com"), send, policy).allowed
    assert not evaluate(service("events.amazonaws.com"), send, policy).allowed


# --- KMS key policies --------------------------------------------------------------------------------------

ROOT_DELEGATION = allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, Sid="Root")
DECRYPT = Call("kms:Decrypt", KEY)


def test_key_policy_delegating_to_the_account_needs_an_identity_policy():
    key = resource(ROOT_DELEGATION, name=f"key:{KEY}")
    alone = evaluate(role("r"), DECRYPT, key, key_policy=True)
    assert not alone.allowed
    assert alone.reason == "because no identity-based policy allows the kms:Decrypt action"
    granted = evaluate(role("r", identity(allow("kms:Decrypt", KEY))), DECRYPT, key, key_policy=True)
    assert granted.allowed and sids(granted.allowed_by) == {None, "Root"}


def test_identity_policies_alone_never_allow_a_key():
    granted = role("r", identity(allow("kms:*")))
    users_only = resource(allow("kms:Decrypt", Principal={"AWS": role("someone").arn}))
    for key in (None, users_only):
        decision = evaluate(granted, DECRYPT, key, key_policy=True)
        assert not decision.allowed
        assert decision.reason == "because no resource-based policy allows the kms:Decrypt action"
    # The same grants on an ordinary resource do allow: key_policy is what makes the difference.
    assert evaluate(granted, DECRYPT, users_only).allowed


def test_key_policy_naming_the_principal_allows_without_identity_policy():
    key = resource(allow(["kms:Decrypt", "kms:GenerateDataKey*"], Principal={"AWS": role("worker").arn}))
    assert evaluate(role("worker"), DECRYPT, key, key_policy=True).allowed
    assert evaluate(
        role("worker"), Call("kms:GenerateDataKeyWithoutPlaintext", KEY), key, key_policy=True
    ).allowed
    assert not evaluate(role("worker"), Call("kms:Encrypt", KEY), key, key_policy=True).allowed


def test_an_identity_deny_applies_to_keys_too():
    key = resource(ROOT_DELEGATION, allow("kms:*", Principal="*"))
    decision = evaluate(role("r", identity(deny("kms:Decrypt"))), DECRYPT, key, key_policy=True)
    assert decision.reason == "with an explicit deny in an identity-based policy"


# --- trust policies ----------------------------------------------------------------------------------------

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/batch-job"


def trust(*statements: dict) -> PolicySource:
    return PolicySource(f"trust:{ROLE_ARN}", {"Version": "2012-10-17", "Statement": list(statements)})


def test_trust_policy_admits_its_service_under_its_conditions():
    policy = trust(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    decision = trust_allows(policy, "ecs-tasks.amazonaws.com", {"aws:SourceAccount": [ACCOUNT]})
    assert decision.allowed and decision.allowed_by == (StatementRef(f"trust:{ROLE_ARN}", 0, None),)
    wrong_account = trust_allows(policy, "ecs-tasks.amazonaws.com", {"aws:sourceaccount": [OTHER_ACCOUNT]})
    assert wrong_account.reason == "because no role trust policy allows the sts:AssumeRole action"
    assert not trust_allows(policy, "ecs-tasks.amazonaws.com", {}).allowed
    assert not trust_allows(policy, "lambda.amazonaws.com", {"aws:sourceaccount": [ACCOUNT]}).allowed


def test_trust_policy_deny_and_other_actions():
    admits = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert trust_allows(trust(admits), "lambda.amazonaws.com").allowed
    tags_only = {**admits, "Action": "sts:TagSession"}
    assert not trust_allows(trust(tags_only), "lambda.amazonaws.com").allowed
    denied = trust_allows(trust(admits, {**admits, "Effect": "Deny"}), "lambda.amazonaws.com")
    assert denied.reason == "with an explicit deny in the role trust policy"


# --- malformed documents -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"Statement": "Allow everything"}, "Statement must be an object or a list of objects"),
        ({"Statement": [allow("*"), 3]}, "Statement must be an object or a list of objects"),
        ({}, "Statement must be"),
        (
            {"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]},
            "statement 0: unknown Effect 'allow'",
        ),
        ({"Statement": [allow("*"), {"Action": "*", "Resource": "*"}]}, "statement 1: unknown Effect None"),
        ({"Statement": {"Effect": "Allow", "Resource": "*"}}, "needs Action or NotAction"),
        ({"Statement": {**allow("*"), "NotAction": "s3:*"}}, "both Action and NotAction"),
        ({"Statement": {**allow("*"), "NotResource": "*"}}, "both Resource and NotResource"),
        ({"Statement": allow(["s3:*", 1])}, "Action must be a string or a list of strings"),
        ({"Statement": allow("*", Condition={"StringEqualz": {"k": "v"}})}, "unknown condition operator"),
        ({"Statement": allow("*", Principal="*")}, "an identity-based policy cannot name a Principal"),
        ("not a document", "not a JSON object"),
    ],
)
def test_malformed_identity_policies_raise_naming_the_policy(document, problem):
    principal = role("r", PolicySource("identity:broken", document))
    with pytest.raises(ValueError, match=problem) as raised:
        evaluate(principal, GET)
    assert str(raised.value).startswith("identity:broken: ")


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        (allow("s3:*"), "needs Principal or NotPrincipal"),
        (allow("s3:*", Principal="everyone"), "Principal must be"),
        (allow("s3:*", Principal={"AWS": 123}), "Principal AWS must be a string or a list of strings"),
        ({**allow("s3:*", Principal="*"), "NotPrincipal": "*"}, "both Principal and NotPrincipal"),
    ],
)
def test_malformed_resource_policies_raise(statement, problem):
    with pytest.raises(ValueError, match=problem):
        evaluate(role("r"), GET, resource(statement, name="resource:bucket"))


def test_a_malformed_statement_raises_even_when_another_one_decides():
    # Problems are found before evaluation, so the answer does not depend on statement order.
    policy = identity(deny("*"), {"Effect": "Maybe", "Action": "*", "Resource": "*"})
    with pytest.raises(ValueError, match="statement 1: unknown Effect 'Maybe'"):
        evaluate(role("r", policy), GET)


# --- operations requests.py does not model -----------------------------------------------------------------


def test_a_whole_service_grant_on_every_resource_decides_an_unmodelled_operation():
    from localcloud.iam.policy import service_wide_grant

    for action in ("ec2:*", "EC2:*", "*", ["s3:GetObject", "ec2:*"]):
        decision = service_wide_grant(role("deployer", identity(allow(action))), "ec2")
        assert decision is not None and decision.allowed, action
        assert "ec2:* on *" in decision.reason and decision.allowed_by
    # Anything narrower cannot decide an operation whose action and resource are unknown: refused as before.
    for statement in (
        allow("ec2:Describe*"),
        allow("ec2:*", "arn:aws:ec2:us-east-1:*:vpc/*"),
        allow("ec2:*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}),
        allow("s3:*"),
    ):
        assert service_wide_grant(role("r", identity(statement)), "ec2") is None, statement
    # A Deny that could apply to some action of the service, or a NotAction Deny, vetoes it.
    for veto in (deny("ec2:TerminateInstances"), deny("e*:*"), {"Effect": "Deny", "NotAction": "s3:*"}):
        assert service_wide_grant(role("r", identity(allow("*"), veto)), "ec2") is None, veto
    assert service_wide_grant(role("r", identity(allow("*"), deny("s3:*"))), "ec2") is not None
    assert service_wide_grant(service("events.amazonaws.com"), "ec2") is None
