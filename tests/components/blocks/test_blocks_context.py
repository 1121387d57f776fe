"""The platform context: its derived facts and the ARNs it builds, in every partition the stack files allow."""

from __future__ import annotations

import pytest

from components.blocks import Arns, PlatformContext, service_principal
from components.config import load_platform, parse_team
from components.stackfile import TEAM_KEY, read_stack_config
from stacks.context import platform_context, team_context
from tests.conftest import STACKS


def ctx(partition: str = "aws", environment: str = "prod", region: str = "eu-west-1") -> PlatformContext:
    return PlatformContext(environment, partition, "123456789012", region, tags={"team": "platform"})


def test_prefix_defaults_to_the_environment_and_can_be_given():
    assert ctx().prefix == "mlops-prod"
    assert PlatformContext("dev", "aws", "123456789012", "eu-west-1", prefix="lab").prefix == "lab"


@pytest.mark.parametrize(
    ("environment", "is_prod", "keeps_data"),
    [("dev", False, False), ("staging", False, True), ("prod", True, True)],
)
def test_environment_facts(environment, is_prod, keeps_data):
    context = ctx(environment=environment)
    assert (context.is_prod, context.keeps_data) == (is_prod, keeps_data)


def test_in_region_changes_only_the_region():
    moved = ctx().in_region("us-east-1")
    assert (moved.region, moved.environment, moved.account_id, dict(moved.tags)) == (
        "us-east-1",
        "prod",
        "123456789012",
        {"team": "platform"},
    )
    assert moved.arn.cluster("c") == "arn:aws:eks:us-east-1:123456789012:cluster/c"


def test_tagged_adds_extras_and_an_extra_wins():
    assert ctx().tagged(Name="x", team="other") == {"team": "other", "Name": "x"}
    assert dict(ctx().tags) == {"team": "platform"}


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_arns_of_each_partition(partition):
    """The ARN formats of the AWS General Reference ("Amazon Resource Names (ARNs)") and the IAM user guide
    ("IAM identifiers"): global services have an empty region, S3 buckets no account, AWS managed policies the
    account ``aws``."""
    arn = ctx(partition).arn
    p = partition
    assert arn.root() == f"arn:{p}:iam::123456789012:root"
    assert arn.role("mlops-prod-mlflow") == f"arn:{p}:iam::123456789012:role/mlops-prod-mlflow"
    assert arn.role("r", path="/teams/") == f"arn:{p}:iam::123456789012:role/teams/r"
    assert arn.policy("boundary") == f"arn:{p}:iam::123456789012:policy/boundary"
    assert arn.managed_policy("service-role/AmazonEBSCSIDriverPolicy") == (
        f"arn:{p}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    )
    assert arn.service_linked_role("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling") == (
        f"arn:{p}:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    assert arn.bucket("b") == f"arn:{p}:s3:::b"
    assert arn.objects("b") == f"arn:{p}:s3:::b/*"
    assert arn.log_group("/aws/x") == f"arn:{p}:logs:eu-west-1:123456789012:log-group:/aws/x"
    assert arn.log_streams("/aws/x") == f"arn:{p}:logs:eu-west-1:123456789012:log-group:/aws/x:log-stream:*"
    assert arn.key("k-1") == f"arn:{p}:kms:eu-west-1:123456789012:key/k-1"
    assert arn.alias("mlops-prod-logs") == f"arn:{p}:kms:eu-west-1:123456789012:alias/mlops-prod-logs"
    assert arn.alias("alias/mlops-prod-logs") == f"arn:{p}:kms:eu-west-1:123456789012:alias/mlops-prod-logs"
    assert (
        arn.cluster("mlops-prod-eu-west-1")
        == f"arn:{p}:eks:eu-west-1:123456789012:cluster/mlops-prod-eu-west-1"
    )
    assert arn.sns_topic("alerts") == f"arn:{p}:sns:eu-west-1:123456789012:alerts"
    assert arn.sqs_queue("q") == f"arn:{p}:sqs:eu-west-1:123456789012:q"
    assert arn.repository("models/*") == f"arn:{p}:ecr:eu-west-1:123456789012:repository/models/*"


def test_of_names_region_and_account_explicitly():
    arn = Arns("aws", "123456789012", "eu-west-1")
    assert arn.of("ssm", "parameter/aws/service/*", region="eu-west-1", account="") == (
        "arn:aws:ssm:eu-west-1::parameter/aws/service/*"
    )
    assert arn.of("cloudtrail", "trail/*", region="*") == "arn:aws:cloudtrail:*:123456789012:trail/*"
    assert arn.of("eks", "cluster-access-policy/AmazonEKSClusterAdminPolicy", account="aws") == (
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    )


def test_service_principal():
    assert service_principal("s3") == "s3.amazonaws.com"
    assert PlatformContext.service_principal("pods.eks") == "pods.eks.amazonaws.com"


def test_platform_context_reads_the_stack_file():
    cfg = load_platform(STACKS, "prod")
    context = platform_context(cfg)
    assert (context.environment, context.partition, context.account_id, context.region) == (
        "prod",
        cfg.partition,
        cfg.account_id,
        cfg.regions[0].name,
    )
    assert context.tags["environment"] == "prod"
    assert context.tags["managed-by"] == "pulumi-mlops-platform"
    assert platform_context(cfg, cfg.regions[-1].name).region == cfg.regions[-1].name


def test_team_context_carries_the_team_tags():
    path, config = read_stack_config(STACKS, "team-fraud-prod")
    team = parse_team(config[TEAM_KEY], path)
    context = team_context(team, "123456789012", "aws", "eu-west-1")
    assert context.tags["team"] == "fraud"
    assert context.tags["stack"] == "team-fraud-prod"
    assert (context.environment, context.region) == ("prod", "eu-west-1")
