"""The loopholes closed in the pack, each named after the AWS rule that makes it one."""

from __future__ import annotations

import pytest

from policies.aws_network import trivially_true
from policies.pack import all_policies, environment_config
from tests.policies.cases import (
    ACCOUNT,
    EAST,
    KSK,
    PUBLIC_ZONE,
    QUERY_LOG,
    SIGNING_KEY,
    WEST,
    ZONE_SIGNING,
    Res,
    document,
)
from tests.policies.validate import analyze_in_process

all_policies()

REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-southeast-2"]


def findings(resources, policy, environment="prod"):
    found = analyze_in_process(document(resources, environment), environment_config(environment))
    return [v.message.split("\n", 1)[1] for v in found if v.policy == policy]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (None, True),
        ({"StringLike": {"aws:PrincipalAccount": "*"}}, True),
        ({"StringLike": {"aws:PrincipalAccount": "**"}}, True),
        ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-1/*", "*"]}}, True),
        ({"ArnLike": {"aws:PrincipalArn": "arn:*:*:*:*:*"}}, True),
        ({"StringLikeIfExists": {"aws:SourceVpc": "*"}}, True),
        # A wildcard that still names something narrows the key.
        ({"StringLike": {"aws:PrincipalAccount": f"{ACCOUNT}*"}}, False),
        ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:*"}}, False),
        # StringEquals compares literally: "*" is only the string "*".
        ({"StringEquals": {"aws:PrincipalAccount": "*"}}, False),
        # Keys are ANDed: one narrowing key narrows the statement.
        ({"StringLike": {"aws:PrincipalAccount": "*"}, "StringEquals": {"aws:SourceVpc": "vpc-1"}}, False),
        ("not a condition", False),
    ],
)
def test_stringlike_star_matches_every_value_so_the_condition_narrows_nothing(condition, expected):
    """IAM User Guide, "IAM JSON policy elements: Condition operators": StringLike (and ArnLike) values may carry
    the multi-character wildcard ``*`` anywhere, keys of one condition are ANDed and the values of one key ORed
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
    .../reference_policies_condition-logic-multiple-context-keys-or-values.html). A key matched by ``*`` matches
    every value, so an endpoint policy under that condition is full access for every account."""
    assert trivially_true(condition) is expected


@pytest.mark.parametrize("region", REGIONS)
def test_query_log_group_must_be_in_us_east_1(region):
    """Route 53 API Reference, CreateQueryLoggingConfig: "You must create the log group in the us-east-1 region"
    (https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateQueryLoggingConfig.html). The region is the
    linked log group's provider's, or the literal ARN's."""
    providers = [EAST, WEST, Res("pulumi:providers:aws", f"aws-{region}", {"region": region})]
    providers = list({p.name: p for p in providers}.values())
    group = Res(
        "aws:cloudwatch/logGroup:LogGroup", "query-logs", {"name": "/aws/route53/z"}, provider=f"aws-{region}"
    )
    linked = Res(
        QUERY_LOG.type,
        "queries",
        {
            "zoneId": "Z1",
            "cloudwatchLogGroupArn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/route53/z",
        },
        prop_deps={"zoneId": ["zone"], "cloudwatchLogGroupArn": ["query-logs"]},
    )
    literal = Res(linked.type, "queries", linked.inputs, prop_deps={"zoneId": ["zone"]})
    zone = [*providers, SIGNING_KEY, PUBLIC_ZONE, KSK, ZONE_SIGNING]
    for resources in ([*zone, group, linked], [*zone, literal]):
        found = findings(resources, "route53-public-zone-signed-and-logged")
        if region == "us-east-1":
            assert found == []
        else:
            assert len(found) == 1 and found[0].endswith(f" in {region}; Route 53 logs only to us-east-1")
