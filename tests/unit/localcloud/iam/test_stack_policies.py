"""The stack's own resource policies, written out as the JSON Terraform renders from modules/storage,
modules/notify and modules/kms (policies.tf), evaluated for the calls the stack makes. Each decision is
checked beside a policy with one guard removed or changed, which gives the other answer."""

from __future__ import annotations

from localcloud.iam.model import Call, PolicySource
from localcloud.iam.policy import evaluate

from .support import ACCOUNT, OTHER_ACCOUNT, allow, identity, role, service, sids

REGION = "us-east-1"
BUCKET = "arn:aws:s3:::farm-artifacts"
STORAGE_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/99999999-8888-7777-6666-555555555555"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:farm-completion"
OTHER_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:farm-failure"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:farm-notifications"
TLS = {"aws:securetransport": ["true"]}


def deny_insecure_transport(actions, resources) -> dict:
    """modules/policy_statements: the DenyInsecureTransport statement every resource policy carries."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def without(policy: PolicySource, sid: str) -> PolicySource:
    kept = [s for s in policy.document["Statement"] if s.get("Sid") != sid]
    return PolicySource(policy.name, {**policy.document, "Statement": kept})


def replaced(policy: PolicySource, sid: str, **changes) -> PolicySource:
    statements = [{**s, **changes} if s.get("Sid") == sid else s for s in policy.document["Statement"]]
    return PolicySource(policy.name, {**policy.document, "Statement": statements})


# --- modules/storage: the bucket policy --------------------------------------------------------------------

BUCKET_POLICY = PolicySource(
    f"resource:{BUCKET}",
    {
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport("s3:*", [BUCKET, f"{BUCKET}/*"]),
            {
                "Sid": "DenyNonKmsEncryption",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{BUCKET}/*",
                "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
            {
                "Sid": "DenyOtherKmsKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{BUCKET}/*",
                "Condition": {
                    "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": STORAGE_KEY}
                },
            },
        ],
    },
)
WORKER = role(
    "worker", identity(allow(["s3:GetObject", "s3:PutObject"], f"{BUCKET}/*"), name="identity:worker")
)


def put(**headers: str) -> Call:
    context = {f"s3:{name.replace('_', '-')}": [value] for name, value in headers.items()}
    return Call("s3:PutObject", f"{BUCKET}/runs/r1/frame-0001.exr", context=context)


def test_a_put_with_sse_kms_and_the_storage_key_is_allowed():
    call = put(
        x_amz_server_side_encryption="aws:kms", x_amz_server_side_encryption_aws_kms_key_id=STORAGE_KEY
    )
    decision = evaluate(WORKER, call, BUCKET_POLICY, context=TLS)
    assert decision.allowed and decision.denied_by == ()
    assert decision.reason == "allowed by an identity-based policy"
    # The bucket policy only denies: without the worker's own grant the put is refused.
    assert not evaluate(role("worker"), call, BUCKET_POLICY, context=TLS).allowed


def test_a_put_without_the_encryption_headers_is_denied():
    decision = evaluate(WORKER, put(), BUCKET_POLICY, context=TLS)
    assert not decision.allowed
    assert decision.reason == "with an explicit deny in a resource-based policy"
    assert sids(decision.denied_by) == {"DenyNonKmsEncryption", "DenyOtherKmsKeys"}
    # IfExists on a negated operator holds when the header is missing; without the two guards the put passes.
    unguarded = without(without(BUCKET_POLICY, "DenyNonKmsEncryption"), "DenyOtherKmsKeys")
    assert evaluate(WORKER, put(), unguarded, context=TLS).allowed


def test_a_put_with_sse_s3_is_denied_by_the_encryption_guard():
    call = put(x_amz_server_side_encryption="AES256")
    decision = evaluate(WORKER, call, BUCKET_POLICY, context=TLS)
    assert not decision.allowed and "DenyNonKmsEncryption" in sids(decision.denied_by)
    # A guard written with the positive operator would have let it through.
    lax = replaced(
        without(BUCKET_POLICY, "DenyOtherKmsKeys"),
        "DenyNonKmsEncryption",
        Condition={"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
    )
    assert evaluate(WORKER, call, lax, context=TLS).allowed


def test_a_put_with_another_key_is_denied():
    call = put(x_amz_server_side_encryption="aws:kms", x_amz_server_side_encryption_aws_kms_key_id=OTHER_KEY)
    decision = evaluate(WORKER, call, BUCKET_POLICY, context=TLS)
    assert not decision.allowed and sids(decision.denied_by) == {"DenyOtherKmsKeys"}
    assert evaluate(WORKER, call, without(BUCKET_POLICY, "DenyOtherKmsKeys"), context=TLS).allowed


def test_reads_are_not_touched_by_the_put_guards_but_need_tls():
    get = Call("s3:GetObject", f"{BUCKET}/runs/r1/frame-0001.exr")
    assert evaluate(WORKER, get, BUCKET_POLICY, context=TLS).allowed
    plain = evaluate(WORKER, get, BUCKET_POLICY, context={"aws:securetransport": ["false"]})
    assert not plain.allowed and sids(plain.denied_by) == {"DenyInsecureTransport"}
    assert evaluate(
        WORKER,
        get,
        without(BUCKET_POLICY, "DenyInsecureTransport"),
        context={"aws:securetransport": ["false"]},
    ).allowed


# --- modules/notify: queue and topic policies ---------------------------------------------------------------

QUEUE_POLICY = PolicySource(
    f"resource:{QUEUE}",
    {
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport("sqs:*", QUEUE),
            {
                "Sid": "TopicDelivers",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": QUEUE,
                "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}},
            },
        ],
    },
)
SEND = Call("sqs:SendMessage", QUEUE)
SNS = service("sns.amazonaws.com")


def test_the_queue_admits_its_topic():
    decision = evaluate(SNS, SEND, QUEUE_POLICY, context={**TLS, "aws:sourcearn": [TOPIC]})
    assert decision.allowed and sids(decision.allowed_by) == {"TopicDelivers"}
    assert decision.reason == "allowed by a resource-based policy"


def test_the_queue_refuses_another_topic_or_service():
    other = evaluate(SNS, SEND, QUEUE_POLICY, context={**TLS, "aws:sourcearn": [OTHER_TOPIC]})
    assert not other.allowed
    assert other.reason == "because no resource-based policy allows the sqs:SendMessage action"
    assert not evaluate(SNS, SEND, QUEUE_POLICY, context=TLS).allowed  # no aws:SourceArn at all
    events = service("events.amazonaws.com")
    assert not evaluate(events, SEND, QUEUE_POLICY, context={**TLS, "aws:sourcearn": [TOPIC]}).allowed
    # Listing the other topic admits it.
    assert evaluate(
        SNS,
        SEND,
        replaced(
            QUEUE_POLICY, "TopicDelivers", Condition={"ArnEquals": {"aws:SourceArn": [TOPIC, OTHER_TOPIC]}}
        ),
        context={**TLS, "aws:sourcearn": [OTHER_TOPIC]},
    ).allowed


def test_the_queue_refuses_plain_http_even_from_its_topic():
    decision = evaluate(
        SNS, SEND, QUEUE_POLICY, context={"aws:securetransport": ["false"], "aws:sourcearn": [TOPIC]}
    )
    assert decision.reason == "with an explicit deny in a resource-based policy"


def test_roles_of_the_account_send_by_their_own_policies():
    sender = role("workflow", identity(allow("sqs:SendMessage", QUEUE)))
    assert evaluate(sender, SEND, QUEUE_POLICY, context=TLS).allowed
    assert evaluate(role("workflow"), SEND, QUEUE_POLICY, context=TLS).reason == (
        "because no identity-based policy allows the sqs:SendMessage action"
    )


TOPIC_POLICY = PolicySource(
    f"resource:{TOPIC}",
    {
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport("sns:Publish", TOPIC),
            {
                "Sid": "AccountPublishes",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sns:Publish",
                "Resource": TOPIC,
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
            },
        ],
    },
)


def test_the_topic_admits_principals_of_the_account():
    publish = Call("sns:Publish", TOPIC)
    ours = evaluate(
        role("workflow"), publish, TOPIC_POLICY, context={**TLS, "aws:principalaccount": [ACCOUNT]}
    )
    assert ours.allowed and sids(ours.allowed_by) == {"AccountPublishes"}
    outsider = role("workflow", identity(allow("sns:Publish")), account=OTHER_ACCOUNT)
    theirs = evaluate(
        outsider, publish, TOPIC_POLICY, context={**TLS, "aws:principalaccount": [OTHER_ACCOUNT]}
    )
    assert theirs.reason == "because no resource-based policy allows the sns:Publish action"


# --- modules/kms: a family's key policy --------------------------------------------------------------------

KEY_POLICY = PolicySource(
    f"key:{STORAGE_KEY}",
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountRootAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AccountUsesThroughFamilyServices",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                    "kms:CreateGrant",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": ACCOUNT,
                        "kms:ViaService": [f"s3.{REGION}.amazonaws.com", f"sqs.{REGION}.amazonaws.com"],
                    }
                },
            },
            {
                "Sid": "ServicePrincipalsUse",
                "Effect": "Allow",
                "Principal": {"Service": ["sns.amazonaws.com", "events.amazonaws.com"]},
                "Action": [
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            },
        ],
    },
)
LOGS_KEY_STATEMENT = {
    "Sid": "ServicePrincipalsUse",
    "Effect": "Allow",
    "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"],
    "Resource": "*",
    "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:*"}},
}
GENERATE = Call("kms:GenerateDataKey", STORAGE_KEY, via="s3")
THROUGH_S3 = {"kms:viaservice": [f"s3.{REGION}.amazonaws.com"], "kms:calleraccount": [ACCOUNT]}


def test_a_role_uses_the_key_through_a_family_service_without_an_identity_grant():
    decision = evaluate(role("worker"), GENERATE, KEY_POLICY, key_policy=True, context=THROUGH_S3)
    assert decision.allowed and decision.reason == "allowed by the key policy"
    # Every matching Allow is reported: the root delegation matched too, though it was not needed.
    assert sids(decision.allowed_by) == {"AccountUsesThroughFamilyServices", "AccountRootAdministers"}
    rootless = without(KEY_POLICY, "AccountRootAdministers")
    assert evaluate(role("worker"), GENERATE, rootless, key_policy=True, context=THROUGH_S3).allowed


def test_a_direct_call_or_another_service_needs_an_identity_grant():
    direct = evaluate(
        role("worker"), GENERATE, KEY_POLICY, key_policy=True, context={"kms:calleraccount": [ACCOUNT]}
    )
    assert direct.reason == "because no identity-based policy allows the kms:GenerateDataKey action"
    assert sids(direct.allowed_by) == {"AccountRootAdministers"}  # matched, but only as a delegation
    via_sns = {"kms:viaservice": [f"sns.{REGION}.amazonaws.com"], "kms:calleraccount": [ACCOUNT]}
    assert not evaluate(role("worker"), GENERATE, KEY_POLICY, key_policy=True, context=via_sns).allowed
    granted = role("worker", identity(allow("kms:GenerateDataKey", STORAGE_KEY)))
    assert evaluate(
        granted, GENERATE, KEY_POLICY, key_policy=True, context={"kms:calleraccount": [ACCOUNT]}
    ).allowed
    # Without the root statement the identity grant is worthless.
    rootless = without(KEY_POLICY, "AccountRootAdministers")
    decision = evaluate(
        granted, GENERATE, rootless, key_policy=True, context={"kms:calleraccount": [ACCOUNT]}
    )
    assert decision.reason == "because no resource-based policy allows the kms:GenerateDataKey action"


def test_another_account_cannot_use_the_key_through_a_service():
    outsider = role("worker", identity(allow("kms:*")), account=OTHER_ACCOUNT)
    context = {**THROUGH_S3, "kms:calleraccount": [OTHER_ACCOUNT]}
    decision = evaluate(outsider, GENERATE, KEY_POLICY, key_policy=True, context=context)
    assert decision.reason == "because no resource-based policy allows the kms:GenerateDataKey action"


def test_service_principals_use_the_key_for_this_account_only():
    decrypt = Call("kms:Decrypt", STORAGE_KEY)
    sns = service("sns.amazonaws.com")
    ours = evaluate(sns, decrypt, KEY_POLICY, key_policy=True, context={"aws:sourceaccount": [ACCOUNT]})
    assert ours.allowed and sids(ours.allowed_by) == {"ServicePrincipalsUse"}
    theirs = evaluate(
        sns, decrypt, KEY_POLICY, key_policy=True, context={"aws:sourceaccount": [OTHER_ACCOUNT]}
    )
    assert theirs.reason == "because no resource-based policy allows the kms:Decrypt action"
    assert not evaluate(
        service("lambda.amazonaws.com"),
        decrypt,
        KEY_POLICY,
        key_policy=True,
        context={"aws:sourceaccount": [ACCOUNT]},
    ).allowed
    # The root delegation does not cover a service: it has no identity policies to delegate to.
    assert not evaluate(
        sns,
        decrypt,
        without(KEY_POLICY, "ServicePrincipalsUse"),
        key_policy=True,
        context={"aws:sourceaccount": [ACCOUNT]},
    ).allowed


def test_cloudwatch_logs_is_bound_by_the_log_group_in_the_encryption_context():
    key = PolicySource(KEY_POLICY.name, {"Version": "2012-10-17", "Statement": [LOGS_KEY_STATEMENT]})
    logs = service(f"logs.{REGION}.amazonaws.com")
    call = Call("kms:GenerateDataKey", STORAGE_KEY)
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/farm/worker"
    assert evaluate(
        logs, call, key, key_policy=True, context={"kms:encryptioncontext:aws:logs:arn": [group]}
    ).allowed
    elsewhere = f"arn:aws:logs:{REGION}:{OTHER_ACCOUNT}:log-group:/farm/worker"
    assert not evaluate(
        logs, call, key, key_policy=True, context={"kms:encryptioncontext:aws:logs:arn": [elsewhere]}
    ).allowed
