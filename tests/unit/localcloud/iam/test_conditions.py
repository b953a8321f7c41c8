"""Condition operators, missing keys, set qualifiers, policy variables and ARN wildcards
(localcloud.iam.conditions).

Each case states the AWS rule it checks; the opposite request or operator is checked beside it, so a wrong
implementation fails one of the two."""

from __future__ import annotations

import pytest

from localcloud.iam.conditions import Pattern, arn_matches, conditions_hold, expand, parse_operator, validate


def holds(block: dict, context: dict | None = None, *, variables: bool = True) -> bool:
    validate(block)
    return conditions_hold(block, context or {}, variables=variables)


# --- strings -----------------------------------------------------------------------------------------------


def test_string_equals_is_case_sensitive_and_ignore_case_is_not():
    ctx = {"aws:principaltag/team": ["Render"]}
    assert holds({"StringEquals": {"aws:PrincipalTag/team": "Render"}}, ctx)
    assert not holds({"StringEquals": {"aws:PrincipalTag/team": "render"}}, ctx)
    assert holds({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "render"}}, ctx)
    assert not holds({"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/team": "RENDER"}}, ctx)


def test_condition_key_names_compare_case_insensitively():
    assert holds(
        {"StringEquals": {"AWS:SourceAccount": "123456789012"}}, {"aws:sourceaccount": ["123456789012"]}
    )


def test_string_like_wildcards_and_case():
    ctx = {"s3:prefix": ["home/David/photos"]}
    assert holds({"StringLike": {"s3:prefix": "home/*/photos"}}, ctx)
    assert holds({"StringLike": {"s3:prefix": "home/Davi?/*"}}, ctx)
    assert not holds({"StringLike": {"s3:prefix": "home/davi?/*"}}, ctx)
    assert not holds({"StringLike": {"s3:prefix": "home/"}}, ctx)
    assert holds({"StringNotLike": {"s3:prefix": "work/*"}}, ctx)
    assert not holds({"StringNotLike": {"s3:prefix": "home/*"}}, ctx)


def test_values_of_one_key_are_ored_and_keys_and_operators_anded():
    ctx = {"aws:principaltag/department": ["hr"], "aws:principalaccount": ["123456789012"]}
    one_of = {"StringEquals": {"aws:PrincipalTag/department": ["finance", "hr", "legal"]}}
    assert holds(one_of, ctx)
    both_keys = {
        "StringEquals": {"aws:PrincipalTag/department": "hr", "aws:PrincipalAccount": "999999999999"}
    }
    assert not holds(both_keys, ctx)
    two_operators = {**one_of, "StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}
    assert not holds(two_operators, ctx)
    assert holds({**one_of, "StringNotEquals": {"aws:PrincipalAccount": "999999999999"}}, ctx)


def test_negated_operator_with_several_values_needs_no_value_to_match():
    # AWS: "the string cannot match any of the aws:PrincipalAccount values listed to resolve to true".
    block = {"StringNotEquals": {"aws:PrincipalAccount": ["111111111111", "222222222222"]}}
    assert not holds(block, {"aws:principalaccount": ["222222222222"]})
    assert holds(block, {"aws:principalaccount": ["333333333333"]})


def test_a_negated_operator_is_the_negation_of_its_positive_one_on_several_request_values():
    # Without a set qualifier: the positive operator holds when any request value matches.
    ctx = {"aws:tagkeys": ["team", "owner"]}
    assert holds({"StringEquals": {"aws:TagKeys": "team"}}, ctx)
    assert not holds({"StringNotEquals": {"aws:TagKeys": "team"}}, ctx)
    assert holds({"StringNotEquals": {"aws:TagKeys": "cost"}}, ctx)


# --- missing keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("StringEquals", "x", False),
        ("StringLike", "*", False),
        ("ArnLike", "*", False),
        ("NumericLessThan", "10", False),
        ("DateGreaterThan", "2020-01-01T00:00:00Z", False),
        ("Bool", "false", False),
        ("IpAddress", "0.0.0.0/0", False),
        ("BinaryEquals", "QmluYXJ5", False),
        ("StringNotEquals", "x", True),
        ("StringNotLike", "*", True),
        ("StringNotEqualsIgnoreCase", "x", True),
        ("ArnNotLike", "arn:aws:sns:*:*:*", True),
        ("ArnNotEquals", "arn:aws:sns:*:*:*", True),
        ("NumericNotEquals", "1", True),
        ("DateNotEquals", "2020-01-01T00:00:00Z", True),
        ("NotIpAddress", "10.0.0.0/8", True),
        ("StringEqualsIfExists", "x", True),
        ("StringNotEqualsIfExists", "x", True),
        ("BoolIfExists", "false", True),
        ("ForAllValues:StringEquals", "x", True),
        ("ForAllValues:StringNotLike", "x*", True),
        ("ForAnyValue:StringEquals", "x", False),
        ("ForAnyValue:StringNotEquals", "x", False),
        ("ForAnyValue:StringEqualsIfExists", "x", True),
    ],
)
def test_a_missing_key(operator, value, expected):
    assert holds({operator: {"aws:missing": value}}, {"aws:other": ["x"]}) is expected


def test_an_empty_value_list_counts_as_missing():
    assert holds({"ForAllValues:StringEquals": {"aws:tagkeys": "a"}}, {"aws:tagkeys": []})
    assert not holds({"ForAnyValue:StringEquals": {"aws:tagkeys": "a"}}, {"aws:tagkeys": []})
    assert holds({"Null": {"aws:tagkeys": "true"}}, {"aws:tagkeys": []})


def test_if_exists_checks_a_present_key_as_the_plain_operator():
    ctx = {"s3:x-amz-server-side-encryption": ["AES256"]}
    assert holds({"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}, ctx)
    assert not holds({"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}, ctx)
    assert not holds({"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}}, ctx)


def test_null_tests_presence():
    present = {"aws:tokenissuetime": ["2024-01-01T00:00:00Z"]}
    assert holds({"Null": {"aws:TokenIssueTime": "true"}}, {})
    assert not holds({"Null": {"aws:TokenIssueTime": "true"}}, present)
    assert holds({"Null": {"aws:TokenIssueTime": "false"}}, present)
    assert not holds({"Null": {"aws:TokenIssueTime": "false"}}, {})
    assert holds({"Null": {"aws:TokenIssueTime": True}}, {})  # JSON true


# --- set qualifiers ----------------------------------------------------------------------------------------


def test_for_all_values_needs_every_request_value_in_the_policy_set():
    block = {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}}
    assert holds(block, {"aws:tagkeys": ["team"]})
    assert holds(block, {"aws:tagkeys": ["team", "cost"]})
    assert not holds(block, {"aws:tagkeys": ["team", "owner"]})


def test_for_any_value_needs_one_request_value_in_the_policy_set():
    block = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "cost"]}}
    assert holds(block, {"aws:tagkeys": ["owner", "cost"]})
    assert not holds(block, {"aws:tagkeys": ["owner", "name"]})


def test_negated_set_operators():
    # ForAllValues:StringNotLike: no request value matches any policy value.
    all_not = {"ForAllValues:StringNotLike": {"aws:TagKeys": ["secret*"]}}
    assert holds(all_not, {"aws:tagkeys": ["team", "cost"]})
    assert not holds(all_not, {"aws:tagkeys": ["team", "secretkey"]})
    # ForAnyValue:StringNotEquals: some request value is outside the policy set.
    any_not = {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["team", "cost"]}}
    assert holds(any_not, {"aws:tagkeys": ["team", "owner"]})
    assert not holds(any_not, {"aws:tagkeys": ["team", "cost"]})


# --- other operator families -------------------------------------------------------------------------------


def test_numeric_operators():
    ctx = {"s3:max-keys": ["10"]}
    assert holds({"NumericLessThanEquals": {"s3:max-keys": "10"}}, ctx)
    assert not holds({"NumericLessThan": {"s3:max-keys": "10"}}, ctx)
    assert holds({"NumericGreaterThan": {"s3:max-keys": "9.5"}}, ctx)
    assert holds({"NumericGreaterThanEquals": {"s3:max-keys": 10}}, ctx)
    assert holds({"NumericEquals": {"s3:max-keys": "10.0"}}, ctx)
    assert not holds({"NumericNotEquals": {"s3:max-keys": "10"}}, ctx)
    assert not holds({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ["ten"]})


def test_date_operators_take_iso_8601_and_epoch_seconds():
    ctx = {"aws:currenttime": ["2024-06-01T12:00:00Z"]}
    assert holds({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}, ctx)
    assert not holds({"DateLessThan": {"aws:CurrentTime": "2024-01-01T00:00:00Z"}}, ctx)
    assert holds({"DateLessThanEquals": {"aws:CurrentTime": "2024-06-01T12:00:00+00:00"}}, ctx)
    assert holds({"DateEquals": {"aws:CurrentTime": "1717243200"}}, ctx)  # the same instant, epoch seconds
    assert holds(
        {"DateGreaterThanEquals": {"aws:EpochTime": "2024-06-01"}}, {"aws:epochtime": ["1717243200"]}
    )
    assert not holds({"DateNotEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, ctx)


def test_bool_accepts_json_booleans_and_any_case():
    assert holds({"Bool": {"aws:SecureTransport": False}}, {"aws:securetransport": ["false"]})
    assert holds({"Bool": {"aws:SecureTransport": "FALSE"}}, {"aws:securetransport": ["false"]})
    assert not holds({"Bool": {"aws:SecureTransport": "false"}}, {"aws:securetransport": ["true"]})


def test_ip_address_ranges_v4_and_v6():
    block = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}
    assert holds(block, {"aws:sourceip": ["203.0.113.7"]})
    assert holds(block, {"aws:sourceip": ["2001:db8:1234:5678::1"]})
    assert not holds(block, {"aws:sourceip": ["198.51.100.1"]})
    assert not holds(block, {"aws:sourceip": ["not-an-ip"]})
    assert holds({"IpAddress": {"aws:SourceIp": "203.0.113.7"}}, {"aws:sourceip": ["203.0.113.7"]})  # a /32
    assert holds({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:sourceip": ["203.0.113.7"]})


def test_binary_equals_compares_bytes_of_base64():
    assert holds({"BinaryEquals": {"k:blob": "QmluYXJ5VmFsdWU="}}, {"k:blob": ["QmluYXJ5VmFsdWU="]})
    assert holds({"BinaryEquals": {"k:blob": "QmluYXJ5VmFsdWU="}}, {"k:blob": ["BinaryValue"]})
    assert not holds({"BinaryEquals": {"k:blob": "QmluYXJ5VmFsdWU="}}, {"k:blob": ["Other"]})


def test_arn_operators_match_segment_by_segment():
    # AWS's example: StringLike matches across colons, ArnLike does not.
    ctx = {
        "aws:sourcearn": ["arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/doc.txt"]
    }
    pattern = "arn:aws:someservice:*:111122223333:finance/*"
    assert holds({"StringLike": {"aws:SourceArn": pattern}}, ctx)
    assert not holds({"ArnLike": {"aws:SourceArn": pattern}}, ctx)
    assert holds({"ArnNotLike": {"aws:SourceArn": pattern}}, ctx)
    topic = {"aws:sourcearn": ["arn:aws:sns:us-east-1:123456789012:completion"]}
    assert holds({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:completion"}}, topic)
    assert holds({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}}, topic)
    assert not holds({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:failure"}}, topic)


def test_arn_wildcards_stay_in_their_segment_except_the_resource_one():
    assert arn_matches(
        Pattern((("arn:aws:logs:*:123456789012:*", True),)), "arn:aws:logs:r:123456789012:a:b:c"
    )
    assert not arn_matches(
        Pattern((("arn:aws:logs:*:123456789012:*", True),)), "arn:aws:logs:r:1:2:123456789012:x"
    )
    assert arn_matches(Pattern((("*", True),)), "arn:aws:s3:::bucket/key")
    assert not arn_matches(Pattern((("arn:aws:s3:::bucket/*", True),)), "arn:aws:s3:::Bucket/key")


# --- policy variables --------------------------------------------------------------------------------------


def test_variables_are_substituted_from_the_context():
    ctx = {"aws:username": ["david"], "s3:prefix": ["home/david/"]}
    assert holds({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, ctx)
    assert not holds(
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}, {**ctx, "aws:username": ["juan"]}
    )


def test_variables_only_in_documents_that_allow_them():
    ctx = {"aws:username": ["david"], "s3:prefix": ["home/david/"]}
    assert not holds({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, ctx, variables=False)


def test_a_substituted_value_is_literal_not_a_wildcard():
    ctx = {"aws:principaltag/team": ["*"], "s3:prefix": ["anything"]}
    assert not holds({"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}"}}, ctx)
    assert holds({"StringLike": {"s3:prefix": "${aws:PrincipalTag/team}"}}, {**ctx, "s3:prefix": ["*"]})


def test_special_variables_are_literal_characters():
    assert expand("a${*}b${?}c${$}", {}, variables=True).text == "a*b?c$"
    assert holds({"StringLike": {"k:v": "a${*}"}}, {"k:v": ["a*"]})
    assert not holds({"StringLike": {"k:v": "a${*}"}}, {"k:v": ["ab"]})


def test_a_variable_without_a_value_matches_nothing():
    # Positive operators do not match; negated ones do (AWS: "Policy variables with no value").
    assert not holds({"StringEquals": {"k:team": "${aws:PrincipalTag/team}"}}, {"k:team": [""]})
    assert holds({"StringNotEquals": {"k:team": "${aws:PrincipalTag/team}"}}, {"k:team": ["red"]})
    assert expand("bucket-${aws:PrincipalTag/team}", {}, variables=True) is None


def test_a_multivalued_key_is_no_policy_variable():
    assert expand("${aws:TagKeys}", {"aws:tagkeys": ["a", "b"]}, variables=True) is None
    assert expand("${aws:TagKeys}", {"aws:tagkeys": ["a"]}, variables=True).text == "a"


def test_a_variable_default_applies_when_the_key_is_missing():
    assert expand("b-${aws:PrincipalTag/team, 'company-wide'}", {}, variables=True).text == "b-company-wide"
    assert (
        expand("b-${aws:PrincipalTag/team, 'x'}", {"aws:principaltag/team": ["red"]}, variables=True).text
        == "b-red"
    )


# --- malformed blocks --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"StringEqualz": {"k": "v"}}, "unknown condition operator 'StringEqualz'"),
        ({"ForSomeValues:StringEquals": {"k": "v"}}, "unknown condition operator"),
        ({"NullIfExists": {"k": "true"}}, "unknown condition operator 'NullIfExists'"),
        ({"NumericLessThan": {"k": "ten"}}, "not a number: 'ten'"),
        ({"DateLessThan": {"k": "yesterday"}}, "not a date"),
        ({"IpAddress": {"k": "300.1.1.1/8"}}, "not an IP address"),
        ({"Null": {"k": "maybe"}}, "must be true or false"),
        ({"StringEquals": "k"}, "must map condition keys to values"),
        ({"StringEquals": {"k": {"nested": 1}}}, "condition values must be"),
        (["StringEquals"], "Condition must be an object"),
    ],
)
def test_malformed_blocks_name_the_problem(block, problem):
    with pytest.raises(ValueError, match=problem):
        validate(block)


def test_operator_names_parse_into_their_parts():
    parsed = parse_operator("ForAnyValue:StringNotLikeIfExists")
    assert (parsed.qualifier, parsed.base, parsed.negated, parsed.if_exists) == (
        "ForAnyValue",
        "StringLike",
        True,
        True,
    )
    assert parse_operator("NotIpAddress").base == "IpAddress"
