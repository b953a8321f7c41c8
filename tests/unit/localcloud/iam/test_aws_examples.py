"""AWS's documented policy-evaluation examples: each one's policies, requests and the outcome AWS states, with
the page it comes from. Policies are copied as AWS prints them (account ids and names included)."""

from __future__ import annotations

from localcloud.iam.model import Call, PolicySource
from localcloud.iam.policy import evaluate, trust_allows

from .support import identity, resource, role, sids, user

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policies_evaluation_example
# Carlos's own policy allows his bucket and denies every bucket with "log" in its name; his bucket's policy
# names him. AWS: the put to carlossalazar-logs is denied by the identity-based Deny; the put to carlossalazar
# is allowed (both policies allow); "if one of the policy types allows the request and the other doesn't, the
# request is still allowed".
CARLOS_POLICY = identity(
    {
        "Sid": "AllowS3ListRead",
        "Effect": "Allow",
        "Action": [
            "s3:GetBucketLocation",
            "s3:GetAccountPublicAccessBlock",
            "s3:ListAccessPoints",
            "s3:ListAllMyBuckets",
        ],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Sid": "AllowS3Self",
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    },
    {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"},
    name="identity:arn:aws:iam::123456789012:user/carlossalazar:carlos",
)
CARLOS_BUCKET_POLICY = resource(
    {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
    },
    name="resource:arn:aws:s3:::carlossalazar",
)


def test_carlos_is_denied_the_logs_bucket_by_his_identity_policy():
    carlos = user("carlossalazar", CARLOS_POLICY)
    decision = evaluate(carlos, Call("s3:PutObject", "arn:aws:s3:::carlossalazar-logs/report.txt"))
    assert not decision.allowed
    assert decision.reason == "with an explicit deny in an identity-based policy"
    assert sids(decision.denied_by) == {"DenyS3Logs"}


def test_carlos_may_save_to_his_bucket_allowed_by_either_policy():
    put = Call("s3:PutObject", "arn:aws:s3:::carlossalazar/report.txt")
    both = evaluate(user("carlossalazar", CARLOS_POLICY), put, CARLOS_BUCKET_POLICY)
    assert both.allowed
    assert {ref.source for ref in both.allowed_by} == {CARLOS_POLICY.name, CARLOS_BUCKET_POLICY.name}
    assert evaluate(user("carlossalazar"), put, CARLOS_BUCKET_POLICY).allowed  # resource policy alone
    assert evaluate(user("carlossalazar", CARLOS_POLICY), put).allowed  # identity policy alone
    assert not evaluate(user("carlossalazar"), put).allowed  # neither


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html
# AllowGetList allows iam:Get* and iam:List*; DenyReports denies iam:*Report. AWS: iam:CreatePolicy is
# implicitly denied; report actions are explicitly denied even when another policy allows them.
INTERPLAY = identity(
    {"Sid": "AllowGetList", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
    {"Sid": "DenyReports", "Effect": "Deny", "Action": "iam:*Report", "Resource": "*"},
)


def test_explicit_and_implicit_denies():
    principal = user("reader", INTERPLAY)
    assert evaluate(principal, Call("iam:GetUser", "arn:aws:iam::123456789012:user/x")).allowed
    implicit = evaluate(principal, Call("iam:CreatePolicy", "*"))
    assert implicit.reason == "because no identity-based policy allows the iam:CreatePolicy action"
    explicit = evaluate(principal, Call("iam:GetOrganizationsAccessReport", "*"))
    assert explicit.reason == "with an explicit deny in an identity-based policy"
    also_allowed = user(
        "reader", INTERPLAY, identity({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    )
    assert not evaluate(also_allowed, Call("iam:GenerateCredentialReport", "*")).allowed
    assert evaluate(also_allowed, Call("iam:CreatePolicy", "*")).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
# StringEquals on aws:PrincipalTag/job-category: "If a user without the tag attempts to view or edit an access
# key, the condition returns false and the request is implicitly denied by this statement."
def test_string_equals_on_a_principal_tag():
    principal = user(
        "admin",
        identity(
            {
                "Effect": "Allow",
                "Action": "iam:*AccessKey*",
                "Resource": "arn:aws:iam::123456789012:user/*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
            }
        ),
    )
    call = Call("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/bob")
    assert evaluate(principal, call, context={"aws:PrincipalTag/job-category": ["iamuser-admin"]}).allowed
    assert not evaluate(principal, call).allowed
    assert not evaluate(principal, call, context={"aws:principaltag/job-category": ["auditor"]}).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String
# The home-directory policy: StringLike on s3:prefix with ${aws:username}, and resources under
# home/${aws:username}.
HOME = identity(
    {
        "Effect": "Allow",
        "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"],
        "Resource": "arn:aws:s3:::*",
    },
    {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::BUCKET-NAME",
        "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}},
    },
    {
        "Effect": "Allow",
        "Action": "s3:*",
        "Resource": [
            "arn:aws:s3:::BUCKET-NAME/home/${aws:username}",
            "arn:aws:s3:::BUCKET-NAME/home/${aws:username}/*",
        ],
    },
)


def test_home_directory_policy_with_policy_variables():
    david = user("David", HOME)
    me = {"aws:username": ["David"]}
    listing = Call("s3:ListBucket", "arn:aws:s3:::BUCKET-NAME")
    assert evaluate(david, listing, context={**me, "s3:prefix": ["home/David/"]}).allowed
    assert evaluate(david, listing, context={**me, "s3:prefix": ["home/"]}).allowed
    assert not evaluate(david, listing, context={**me, "s3:prefix": ["home/Juan/"]}).allowed
    assert evaluate(
        david, Call("s3:GetObject", "arn:aws:s3:::BUCKET-NAME/home/David/a.txt"), context=me
    ).allowed
    assert not evaluate(
        david, Call("s3:GetObject", "arn:aws:s3:::BUCKET-NAME/home/Juan/a.txt"), context=me
    ).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Numeric
# NumericLessThanEquals s3:max-keys 10: "only the operations that include the max-keys context key with a
# value of less than or equal to 10 would be allowed".
def test_numeric_condition_on_max_keys():
    lister = user(
        "lister",
        identity(
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::example_bucket",
                "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}},
            }
        ),
    )
    call = Call("s3:ListBucket", "arn:aws:s3:::example_bucket")
    assert evaluate(lister, call, context={"s3:max-keys": ["10"]}).allowed
    assert not evaluate(lister, call, context={"s3:max-keys": ["11"]}).allowed
    assert not evaluate(lister, call).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Date
# DateGreaterThan aws:TokenIssueTime 2020-01-01T00:00:01Z: the key exists only for temporary credentials, so
# "if an IAM user attempts to view or edit an access key, the request is denied".
def test_date_condition_on_token_issue_time():
    statement = {
        "Effect": "Allow",
        "Action": "iam:*AccessKey*",
        "Resource": "arn:aws:iam::123456789012:user/*",
        "Condition": {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
    }
    call = Call("iam:ListAccessKeys", "arn:aws:iam::123456789012:user/bob")
    assert not evaluate(user("bob", identity(statement)), call).allowed
    session = role("admin", identity(statement))
    assert evaluate(session, call, context={"aws:tokenissuetime": ["2024-05-01T10:00:00Z"]}).allowed
    assert not evaluate(session, call, context={"aws:tokenissuetime": ["2019-12-31T23:00:00Z"]}).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Boolean
# BooleanExample denies all S3 actions on the bucket if the request is not over SSL; it allows nothing.
def test_bool_condition_denies_plain_http():
    boolean_example = {
        "Sid": "BooleanExample",
        "Action": "s3:*",
        "Effect": "Deny",
        "Resource": ["arn:aws:s3:::DOC-EXAMPLE-BUCKET", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    call = Call("s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a")
    alone = user("u", identity(boolean_example))
    assert not evaluate(alone, call, context={"aws:securetransport": ["true"]}).allowed  # allows nothing
    granted = user("u", identity(boolean_example, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    assert evaluate(granted, call, context={"aws:securetransport": ["true"]}).allowed
    plain = evaluate(granted, call, context={"aws:securetransport": ["false"]})
    assert not plain.allowed and sids(plain.denied_by) == {"BooleanExample"}


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress
# IpAddress aws:SourceIp 203.0.113.0/24 ("the request must come from the IP range 203.0.113.0 to
# 203.0.113.255"), and the mixed IPv4/IPv6 example.
def test_ip_address_condition():
    principal = user(
        "u",
        identity(
            {
                "Effect": "Allow",
                "Action": "someservice:*",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
            }
        ),
    )
    call = Call("someservice:Do", "*")
    assert evaluate(principal, call, context={"aws:sourceip": ["203.0.113.255"]}).allowed
    assert evaluate(principal, call, context={"aws:sourceip": ["2001:db8:1234:5678:abcd::1"]}).allowed
    assert not evaluate(principal, call, context={"aws:sourceip": ["203.0.114.0"]}).allowed
    assert not evaluate(principal, call).allowed  # no aws:SourceIp (a VPC endpoint request): false


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
# The SQS queue policy with ArnEquals aws:SourceArn naming the SNS topic: "If an IAM user attempts to perform
# this operation directly, the condition returns false and the request is implicitly denied by this
# statement."
def test_arn_condition_on_source_arn():
    queue_policy = resource(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "123456789012"},
            "Action": "SQS:SendMessage",
            "Resource": "arn:aws:sqs:REGION:123456789012:QUEUE-ID",
            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:REGION:123456789012:TOPIC-ID"}},
        }
    )
    send = Call("sqs:SendMessage", "arn:aws:sqs:REGION:123456789012:QUEUE-ID")
    direct = evaluate(user("u", identity()), send, queue_policy)
    assert not direct.allowed and direct.allowed_by == ()
    # The account principal delegates: with aws:SourceArn set, an identity grant completes it.
    granted = user("u", identity({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}))
    on_behalf = {"aws:sourcearn": ["arn:aws:sns:REGION:123456789012:TOPIC-ID"]}
    decision = evaluate(granted, send, queue_policy, context=on_behalf)
    assert decision.allowed and len(decision.allowed_by) == 2


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists
# THISPOLICYDOESNOTWORK: StringLike on ec2:InstanceType fails for the other resources RunInstances touches
# (they have no such key); StringLikeIfExists only tests the key where it exists.
def test_if_exists_lets_resources_without_the_key_through():
    def run_instances(operator: str) -> PolicySource:
        condition = {operator: {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}
        return identity(
            {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*", "Condition": condition}
        )

    image = Call("ec2:RunInstances", "arn:aws:ec2:us-east-1::image/ami-12345678")
    small = Call(
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:123456789012:instance/*",
        {"ec2:instancetype": ["t2.micro"]},
    )
    large = Call(
        "ec2:RunInstances",
        "arn:aws:ec2:us-east-1:123456789012:instance/*",
        {"ec2:instancetype": ["m5.large"]},
    )
    broken = user("u", run_instances("StringLike"))
    assert not evaluate(broken, image).allowed
    assert evaluate(broken, small).allowed
    working = user("u", run_instances("StringLikeIfExists"))
    assert evaluate(working, image).allowed
    assert evaluate(working, small).allowed
    assert not evaluate(working, large).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_Null
# Null aws:TokenIssueTime "true": the user must not be using temporary credentials to use the EC2 API.
def test_null_condition_refuses_temporary_credentials():
    statement = {
        "Action": "ec2:*",
        "Effect": "Allow",
        "Resource": "*",
        "Condition": {"Null": {"aws:TokenIssueTime": "true"}},
    }
    call = Call("ec2:DescribeInstances", "*")
    assert evaluate(user("u", identity(statement)), call).allowed
    temporary = evaluate(
        role("r", identity(statement)), call, context={"aws:tokenissuetime": ["2024-01-01T00:00:00Z"]}
    )
    assert not temporary.allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
# ForAllValues:StringEquals on dynamodb:Attributes [ID, Message, Tags]: a request for Message and Tags (and
# the ID key) is allowed; "if the user's request includes the UserName attribute, the request fails". And the
# evaluation-logic table: PostDateTime and UserName against [PostDateTime, Message, Tags] -> false.
def test_for_all_values_on_requested_attributes():
    def get_item(*allowed: str):
        condition = {"ForAllValues:StringEquals": {"dynamodb:Attributes": list(allowed)}}
        return user(
            "u",
            identity(
                {
                    "Effect": "Allow",
                    "Action": "dynamodb:GetItem",
                    "Resource": "arn:aws:dynamodb:*:*:table/Thread",
                    "Condition": condition,
                }
            ),
        )

    table = "arn:aws:dynamodb:us-east-1:123456789012:table/Thread"
    principal = get_item("ID", "Message", "Tags")
    assert evaluate(
        principal, Call("dynamodb:GetItem", table, {"dynamodb:attributes": ["ID", "Message", "Tags"]})
    ).allowed
    assert not evaluate(
        principal, Call("dynamodb:GetItem", table, {"dynamodb:attributes": ["ID", "UserName"]})
    ).allowed
    table_example = get_item("PostDateTime", "Message", "Tags")
    attributes = {"dynamodb:attributes": ["PostDateTime", "UserName"]}
    assert not evaluate(table_example, Call("dynamodb:GetItem", table, attributes)).allowed
    # The warning: ForAllValues "returns true if there are no keys in the request".
    assert evaluate(principal, Call("dynamodb:GetItem", table)).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
# ForAnyValue:StringEquals Deny on PutItem for [ID, PostDateTime]: a PutItem of PostDateTime and Message is
# denied; "a request to perform PutItem with just the UserName attribute ... is not denied by this policy".
def test_for_any_value_deny_on_written_attributes():
    policies = (
        identity({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}),
        identity(
            {
                "Effect": "Deny",
                "Action": "dynamodb:PutItem",
                "Resource": "arn:aws:dynamodb:*:*:table/Thread",
                "Condition": {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["ID", "PostDateTime"]}},
            },
            name="identity:guard",
        ),
    )
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/Thread"
    principal = user("u", *policies)
    denied = evaluate(
        principal, Call("dynamodb:PutItem", table, {"dynamodb:attributes": ["PostDateTime", "Message"]})
    )
    assert denied.reason == "with an explicit deny in an identity-based policy"
    three = {"dynamodb:attributes": ["UserName", "Message", "PostDateTime"]}
    assert not evaluate(principal, Call("dynamodb:PutItem", table, three)).allowed
    assert evaluate(principal, Call("dynamodb:PutItem", table, {"dynamodb:attributes": ["UserName"]})).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html#reference_policies_multiple-conditions-eval
# Several operators and keys are AND-ed, several values of one key OR-ed: the user needs both principal tags,
# each with one of the listed values, and must belong to account 123456789012. For negated operators with
# several values, "the string cannot match any of the aws:PrincipalAccount values listed to resolve the
# condition to true".
def test_multiple_keys_and_values():
    condition = {
        "StringEqualsIgnoreCase": {
            "aws:PrincipalTag/department": ["finance", "hr", "legal"],
            "aws:PrincipalTag/role": ["audit", "security"],
        },
        "StringEquals": {"aws:PrincipalAccount": "123456789012"},
    }
    principal = user(
        "u", identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition})
    )
    call = Call("s3:GetObject", "arn:aws:s3:::b/k")
    ok = {
        "aws:principaltag/department": ["HR"],
        "aws:principaltag/role": ["audit"],
        "aws:principalaccount": ["123456789012"],
    }
    assert evaluate(principal, call, context=ok).allowed
    assert not evaluate(principal, call, context={**ok, "aws:principaltag/role": ["developer"]}).allowed
    assert not evaluate(
        principal, call, context={k: v for k, v in ok.items() if k != "aws:principaltag/role"}
    ).allowed
    assert not evaluate(principal, call, context={**ok, "aws:principalaccount": ["111122223333"]}).allowed

    negated = {"StringNotEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}
    outsider_deny = user(
        "u",
        identity(
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": negated},
        ),
    )
    assert evaluate(outsider_deny, call, context={"aws:principalaccount": ["444455556666"]}).allowed
    assert not evaluate(outsider_deny, call, context={"aws:principalaccount": ["123456789012"]}).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
# Allow NotAction s3:DeleteBucket on arn:aws:s3:::*: every S3 action on S3 resources except deleting a bucket;
# "This does not allow users to use the ListAllMyBuckets S3 API operation, because that action requires the
# '*' resource", nor actions of other services. Allow NotAction iam:* on *: everything except IAM.
def test_not_action_with_allow():
    s3_but_delete = user(
        "u", identity({"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::*"})
    )
    assert evaluate(s3_but_delete, Call("s3:GetObject", "arn:aws:s3:::b/k")).allowed
    assert not evaluate(s3_but_delete, Call("s3:DeleteBucket", "arn:aws:s3:::b")).allowed
    assert not evaluate(s3_but_delete, Call("s3:ListAllMyBuckets", "*")).allowed
    assert not evaluate(
        s3_but_delete, Call("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1")
    ).allowed
    all_but_iam = user("u", identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
    assert evaluate(all_but_iam, Call("ec2:RunInstances", "*")).allowed
    assert not evaluate(all_but_iam, Call("iam:CreateUser", "arn:aws:iam::123456789012:user/x")).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
# DenyAllUsersNotUsingMFA: Deny NotAction iam:* with BoolIfExists aws:MultiFactorAuthPresent false. Without
# MFA, every non-IAM action is denied; with MFA the Deny has no effect; it grants nothing itself.
def test_not_action_with_deny_unless_mfa():
    guard = {
        "Sid": "DenyAllUsersNotUsingMFA",
        "Effect": "Deny",
        "NotAction": "iam:*",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
    principal = user("u", identity(guard, {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    ec2 = Call("ec2:DescribeInstances", "*")
    no_mfa = evaluate(principal, ec2)  # long-term keys: the key is missing, IfExists makes the Deny apply
    assert not no_mfa.allowed and sids(no_mfa.denied_by) == {"DenyAllUsersNotUsingMFA"}
    assert not evaluate(principal, ec2, context={"aws:multifactorauthpresent": ["false"]}).allowed
    assert evaluate(principal, ec2, context={"aws:multifactorauthpresent": ["true"]}).allowed
    assert evaluate(principal, Call("iam:ChangePassword", "arn:aws:iam::123456789012:user/u")).allowed
    assert not evaluate(
        user("u", identity(guard)), ec2, context={"aws:multifactorauthpresent": ["true"]}
    ).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
# HRPayroll: Deny s3:* NotResource HRBucket/Payroll: every S3 resource but the Payroll folder is denied; the
# policy grants nothing, and it does not deny EC2 resources.
def test_not_resource_with_deny():
    guard = {
        "Effect": "Deny",
        "Action": "s3:*",
        "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
    }
    principal = user(
        "payroll", identity(guard, {"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"})
    )
    assert evaluate(principal, Call("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/2024.csv")).allowed
    assert not evaluate(principal, Call("s3:GetObject", "arn:aws:s3:::HRBucket/Reviews/2024.csv")).allowed
    assert evaluate(
        principal, Call("ec2:StartInstances", "arn:aws:ec2:us-east-1:123456789012:instance/i-1")
    ).allowed
    assert not evaluate(
        user("payroll", identity(guard)), Call("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/x")
    ).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
# Deny with NotPrincipal [Bob, arn:aws:iam::444455556666:root]: everyone but Bob is denied; the statement "by
# itself does not grant access to Bob". Likewise for the role example, which lists the session, role and
# account.
def test_not_principal_with_deny():
    bucket = ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"]
    spare_bob = resource(
        {
            "Effect": "Deny",
            "NotPrincipal": {"AWS": ["arn:aws:iam::444455556666:user/Bob", "arn:aws:iam::444455556666:root"]},
            "Action": "s3:*",
            "Resource": bucket,
        },
        {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "s3:*", "Resource": bucket},
    )
    get = Call("s3:GetObject", "arn:aws:s3:::BUCKETNAME/k", {"aws:resourceaccount": ["123456789012"]})
    anything = identity({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    assert evaluate(user("Bob", anything, account="444455556666"), get, spare_bob).allowed
    alice = evaluate(user("Alice", anything, account="444455556666"), get, spare_bob)
    assert alice.reason == "with an explicit deny in a resource-based policy"
    assert not evaluate(user("Bob", account="444455556666"), get, spare_bob).allowed  # not granted by it

    audit_bucket = ["arn:aws:s3:::Bucket_AccountAudit", "arn:aws:s3:::Bucket_AccountAudit/*"]
    spare_auditor = resource(
        {
            "Effect": "Deny",
            "NotPrincipal": {
                "AWS": [
                    "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
                    "arn:aws:iam::444455556666:role/cross-account-read-only-role",
                    "arn:aws:iam::444455556666:root",
                ]
            },
            "Action": "s3:*",
            "Resource": audit_bucket,
        }
    )
    audit = Call("s3:GetObject", "arn:aws:s3:::Bucket_AccountAudit/k")
    auditor = role(
        "cross-account-read-only-role", anything, account="444455556666", session="cross-account-audit-app"
    )
    assert not evaluate(auditor, audit, spare_auditor).denied_by
    other_session = role(
        "cross-account-read-only-role", anything, account="444455556666", session="someone-else"
    )
    assert evaluate(other_session, audit, spare_auditor).denied_by


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts
# An account id and the account's root ARN "behave the same way. Both delegate permissions to the account": an
# identity in the account still needs an identity policy.
def test_account_principals_delegate():
    for named in ("arn:aws:iam::123456789012:root", "123456789012"):
        policy = resource(
            {"Effect": "Allow", "Principal": {"AWS": named}, "Action": "s3:GetObject", "Resource": "*"}
        )
        call = Call("s3:GetObject", "arn:aws:s3:::b/k")
        assert not evaluate(user("u"), call, policy).allowed
        granted = user("u", identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))
        assert evaluate(granted, call, policy).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-denyallow
# Within the same account, a resource-based policy that grants permissions to a role session ARN or an IAM
# user ARN grants them directly: an implicit deny in the identity-based policies does not matter.
def test_resource_policy_granting_a_session_or_user_directly():
    call = Call("s3:GetObject", "arn:aws:s3:::b/k")
    session = role("examplerole", session="examplerolesessionname")
    to_session = resource(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:sts::123456789012:assumed-role/examplerole/examplerolesessionname"},
            "Action": "s3:GetObject",
            "Resource": "*",
        }
    )
    assert evaluate(session, call, to_session).allowed
    assert not evaluate(role("examplerole", session="another"), call, to_session).allowed
    to_user = resource(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/exampleuser"},
            "Action": "s3:*",
            "Resource": "*",
        }
    )
    assert evaluate(user("exampleuser"), call, to_user).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-default-values
# "If a variable that has no value ... is used as part of the Resource ... the resource that includes a policy
# variable with no value will not match any resource." A default value ('company-wide') applies instead when
# given.
def test_policy_variables_without_a_value_and_defaults():
    team = identity(
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team}",
        }
    )
    yellow = Call("s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-yellow")
    assert evaluate(user("u", team), yellow, context={"aws:principaltag/team": ["yellow"]}).allowed
    assert not evaluate(user("u", team), yellow).allowed
    assert not evaluate(user("u", team), Call("s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-")).allowed
    defaulted = identity(
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET-${aws:PrincipalTag/team, 'company-wide'}",
        }
    )
    assert evaluate(
        user("u", defaulted), Call("s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET-company-wide")
    ).allowed
    assert not evaluate(user("u", defaulted), yellow).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-specialchars
# ${*}, ${?} and ${$} stand for the literal characters, which would otherwise be wildcards.
def test_special_character_variables():
    literal = identity(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/price${?}${*}"}
    )
    assert evaluate(user("u", literal), Call("s3:GetObject", "arn:aws:s3:::b/price?*")).allowed
    assert not evaluate(user("u", literal), Call("s3:GetObject", "arn:aws:s3:::b/prices!")).allowed


# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html
# The default key policy allows the account root kms:*, which lets IAM policies grant use of the key. "Unless
# the key policy explicitly allows it, you cannot use IAM policies to allow access to a KMS key ... (You can
# use an IAM policy to deny a permission to a KMS key without permission from a key policy.)"
def test_kms_default_key_policy_enables_iam_policies():
    key_arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    default = PolicySource(
        f"key:{key_arn}",
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
    )
    decrypt = Call("kms:Decrypt", key_arn)
    can_decrypt = identity({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn})
    assert evaluate(
        role("app", can_decrypt, account="111122223333"), decrypt, default, key_policy=True
    ).allowed
    without_iam = evaluate(role("app", account="111122223333"), decrypt, default, key_policy=True)
    assert without_iam.reason == "because no identity-based policy allows the kms:Decrypt action"
    no_key_policy = evaluate(role("app", can_decrypt, account="111122223333"), decrypt, None, key_policy=True)
    assert no_key_policy.reason == "because no resource-based policy allows the kms:Decrypt action"
    deny = identity({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"})
    everyone = PolicySource(
        default.name,
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]},
    )
    assert not evaluate(role("app", deny, account="111122223333"), decrypt, everyone, key_policy=True).allowed


# https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
# kms:ViaService: the key policy lets ExampleRole use the key only in requests that come through Amazon EC2 or
# Amazon RDS in us-west-2.
def test_kms_via_service():
    key_arn = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    key = PolicySource(
        f"key:{key_arn}",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:role/ExampleRole"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:CreateGrant",
                        "kms:ListGrants",
                        "kms:DescribeKey",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]
                        }
                    },
                }
            ],
        },
    )
    example = role("ExampleRole", account="111122223333")
    call = Call("kms:GenerateDataKeyWithoutPlaintext", key_arn, via="ec2")
    assert evaluate(
        example, call, key, key_policy=True, context={"kms:viaservice": ["ec2.us-west-2.amazonaws.com"]}
    ).allowed
    assert not evaluate(
        example, call, key, key_policy=True, context={"kms:viaservice": ["s3.us-west-2.amazonaws.com"]}
    ).allowed
    assert not evaluate(example, Call("kms:Decrypt", key_arn), key, key_policy=True).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html#cross-service-confused-deputy-prevention-sts
# The Incident Manager role trust policy: ssm-incidents.amazonaws.com may assume the role only for incident
# records of the response plan myresponseplan (ArnLike aws:SourceArn).
PLAN_RECORDS = "arn:aws:ssm-incidents:*:111122223333:incident-record/myresponseplan/*"


def test_trust_policy_with_source_arn():
    trust = PolicySource(
        "trust:arn:aws:iam::111122223333:role/IncidentManagerRole",
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Principal": {"Service": "ssm-incidents.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"ArnLike": {"aws:SourceArn": PLAN_RECORDS}},
            },
        },
    )
    record = "arn:aws:ssm-incidents:us-east-1:111122223333:incident-record/myresponseplan/abc"
    assert trust_allows(trust, "ssm-incidents.amazonaws.com", {"aws:SourceArn": [record]}).allowed
    other_plan = "arn:aws:ssm-incidents:us-east-1:111122223333:incident-record/otherplan/abc"
    refused = trust_allows(trust, "ssm-incidents.amazonaws.com", {"aws:SourceArn": [other_plan]})
    assert refused.reason == "because no role trust policy allows the sts:AssumeRole action"
    assert not trust_allows(trust, "ssm.amazonaws.com", {"aws:SourceArn": [record]}).allowed


# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
# The phrases AWS appends to "User: <arn> is not authorized to perform: <action> on resource: <resource>":
# "because no identity-based policy allows the <action> action", "with an explicit deny in a resource-based
# policy", "because no resource-based policy allows the <action> action", "with an explicit deny in an
# identity-based policy".
def test_access_denied_phrases():
    call = Call("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:s")
    assert evaluate(user("u"), call).reason == (
        "because no identity-based policy allows the secretsmanager:GetSecretValue action"
    )
    deny_all = resource({"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"})
    assert evaluate(user("u"), call, deny_all).reason == "with an explicit deny in a resource-based policy"
    deny_mine = identity({"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert evaluate(user("u", deny_mine), call).reason == "with an explicit deny in an identity-based policy"
    decrypt = Call("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k")
    assert evaluate(user("u"), decrypt, key_policy=True).reason == (
        "because no resource-based policy allows the kms:Decrypt action"
    )
