"""The API fixes the Terraform provider needs, checked on the wire with boto3 (no Terraform here)."""

from __future__ import annotations

import json

from tests.unit.localcloud.conftest import raw_body, unique


def test_state_machine_validation_and_versions(cloud):
    sfn = cloud.client("stepfunctions")
    good = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
    assert sfn.validate_state_machine_definition(definition=good)["result"] == "OK"
    bad = sfn.validate_state_machine_definition(definition='{"StartAt": "Nowhere"}')
    assert bad["result"] == "FAIL" and bad["diagnostics"]
    role = cloud.client("iam").create_role(RoleName=unique("sfn"), AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    arn = sfn.create_state_machine(name=unique("sm"), definition=good, roleArn=role, publish=True)[
        "stateMachineArn"
    ]
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:1"]


def test_code_services_send_epoch_timestamps(cloud):
    codecommit = cloud.client("codecommit")
    name = unique("repo")
    codecommit.create_repository(repositoryName=name, tags={"team": "render"})
    body = raw_body(codecommit, "GetRepository", repositoryName=name)
    assert isinstance(body["repositoryMetadata"]["creationDate"], float)
    arn = body["repositoryMetadata"]["Arn"]
    assert codecommit.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "render"}

    codedeploy = cloud.client("codedeploy")
    app = unique("app")
    codedeploy.create_application(applicationName=app, computePlatform="Lambda")
    assert isinstance(
        raw_body(codedeploy, "GetApplication", applicationName=app)["application"]["createTime"], float
    )
    codedeploy.delete_application(applicationName=app)
    assert app not in codedeploy.list_applications()["applications"]


def test_sqs_redrive_policy_is_compact_json(cloud):
    sqs = cloud.client("sqs")
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}, separators=(",", ":"))
    url = sqs.create_queue(QueueName=unique("main"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert attributes["RedrivePolicy"] == policy


def test_codecommit_keeps_its_kms_key_and_lists_no_branches(cloud):
    codecommit = cloud.client("codecommit")
    name = unique("repo")
    created = codecommit.create_repository(repositoryName=name, kmsKeyId="alias/storage")[
        "repositoryMetadata"
    ]
    assert created["kmsKeyId"] == "alias/storage"
    codecommit.update_repository_encryption_key(repositoryName=name, kmsKeyId="alias/other")
    assert codecommit.get_repository(repositoryName=name)["repositoryMetadata"]["kmsKeyId"] == "alias/other"
    assert codecommit.list_branches(repositoryName=name)["branches"] == []


def test_codebuild_delete_project_by_arn(cloud):
    """The provider deletes by ARN; the project must go, so the same name can be created again."""
    role = cloud.client("iam").create_role(RoleName=unique("cb"), AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    codebuild = cloud.client("codebuild")
    name = unique("build")
    project = {
        "name": name,
        "source": {"type": "CODEPIPELINE"},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        "serviceRole": role,
    }
    arn = codebuild.create_project(**project)["project"]["arn"]
    codebuild.delete_project(name=arn)
    assert codebuild.batch_get_projects(names=[name])["projects"] == []
    codebuild.create_project(**project)  # no ResourceAlreadyExistsException


def test_codebuild_update_project(cloud):
    role = cloud.client("iam").create_role(RoleName=unique("cb"), AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    codebuild = cloud.client("codebuild")
    name = unique("build")
    codebuild.create_project(
        name=name,
        source={"type": "CODECOMMIT", "location": "https://example.invalid/repo"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=role,
    )
    codebuild.update_project(name=name, description="lint and unit", timeoutInMinutes=20)
    project = codebuild.batch_get_projects(names=[name])["projects"][0]
    assert project["description"] == "lint and unit" and project["timeoutInMinutes"] == 20


def test_security_group_rules_revoke_as_aws(cloud):
    """A revoke of a rule id that is gone answers AWS's code (the provider then treats it as deleted), and
    rules of one group revoked in parallel (Terraform's destroy) are all gone, none brought back."""
    from concurrent.futures import ThreadPoolExecutor

    import botocore.exceptions
    import pytest

    ec2 = cloud.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName=unique("sg"), Description="rules", VpcId=vpc)["GroupId"]
    ports = range(1000, 1012)
    rules = [
        ec2.authorize_security_group_egress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "10.40.0.0/16"}]}
            ],
        )["SecurityGroupRules"][0]
        for p in ports
    ]

    def revoke(rule_id: str) -> None:
        ec2.revoke_security_group_egress(GroupId=group, SecurityGroupRuleIds=[rule_id])

    with ThreadPoolExecutor(max_workers=len(rules)) as pool:
        list(pool.map(revoke, [rule["SecurityGroupRuleId"] for rule in rules]))
    left = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    assert [r for r in left["SecurityGroupRules"] if r["IsEgress"] and r.get("FromPort") in ports] == []

    with pytest.raises(botocore.exceptions.ClientError) as gone:
        revoke(rules[0]["SecurityGroupRuleId"])
    assert gone.value.response["Error"]["Code"] == "InvalidSecurityGroupRuleId.NotFound"
    assert rules[0]["SecurityGroupRuleId"] in gone.value.response["Error"]["Message"]
