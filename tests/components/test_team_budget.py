"""A team stack's AWS budget (components/cost/budgets.py) and what lets it notify the platform's alert topic:
the topic policy and the topic key's policy in the platform stack."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from components.config import parse_team
from components.cost.budgets import tag_filter
from components.loader import ConfigError
from components.outputs import ContractError
from tests.conftest import by_name, states

STACKS = Path(__file__).resolve().parents[2] / "stacks"
ACCOUNT = "333333333333"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:mlops-prod-us-east-1-alerts"


def _raw_team() -> dict:
    return copy.deepcopy(
        yaml.safe_load((STACKS / "Pulumi.team-fraud-prod.yaml").read_text())["config"]["mlops:team"]
    )


def _error(budget) -> str:
    raw = _raw_team()
    raw["budget"] = budget
    with pytest.raises(ConfigError) as caught:
        parse_team(raw, "stacks/Pulumi.team-fraud-prod.yaml")
    return str(caught.value)


@pytest.fixture(scope="module")
def team(synth):
    return synth("team-fraud-prod")


def test_budget_tag_filter_is_the_user_defined_tag_as_budgets_writes_it():
    """CreateBudget's CostFilters: "TagKeyValue": ["user:Key$value1", ...] (AWS CLI create-budget example,
    https://docs.aws.amazon.com/code-library/latest/ug/budgets_example_budgets_CreateBudget_section.html)."""
    assert tag_filter("team", "fraud") == "user:team$fraud"


def test_team_budget_is_monthly_cost_on_its_tag_notifying_the_alert_topic_and_owners(team):
    budgets = states(team, "aws:budgets/budget:Budget")
    assert len(budgets) == 1
    budget = budgets[0]
    assert budget["urn"].endswith("::fraud-budget")
    inputs = budget["inputs"]
    assert {
        k: inputs[k] for k in ("name", "accountId", "budgetType", "timeUnit", "limitAmount", "limitUnit")
    } == {
        "name": "mlops-prod-team-fraud",
        "accountId": ACCOUNT,
        "budgetType": "COST",
        "timeUnit": "MONTHLY",
        "limitAmount": "25000.00",
        "limitUnit": "USD",
    }
    assert inputs["costFilters"] == [{"name": "TagKeyValue", "values": ["user:team$fraud"]}]
    assert [(n["notificationType"], n["threshold"]) for n in inputs["notifications"]] == [
        ("FORECASTED", 80),
        ("FORECASTED", 100),
        ("ACTUAL", 100),
    ]
    for notification in inputs["notifications"]:
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert notification["thresholdType"] == "PERCENTAGE"
        # one SNS subscriber per notification (the most AWS Budgets allows), and the owners by e-mail
        assert notification["subscriberSnsTopicArns"] == [TOPIC]
        assert notification["subscriberEmailAddresses"] == ["fraud-ml-owners@example.com"]
    assert inputs["tags"]["team"] == "fraud"


def test_alert_topic_lets_budgets_of_this_account_publish(synth):
    """The statement of "Creating an Amazon SNS topic for budget notifications": budgets.amazonaws.com may
    SNS:Publish, StringEquals aws:SourceAccount and ArnLike aws:SourceArn arn:aws:budgets::<account>:*
    (https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html)."""
    prod = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        policy = json.loads(by_name(prod, f"observability-{region}-alerts-policy")["inputs"]["policy"])
        statement = next(
            s for s in policy["Statement"] if s.get("Sid") == "AWSBudgetsSNSPublishingPermissions"
        )
        assert statement == {
            "Sid": "AWSBudgetsSNSPublishingPermissions",
            "Effect": "Allow",
            "Principal": {"Service": "budgets.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": f"arn:aws:sns:{region}:{ACCOUNT}:mlops-prod-{region}-alerts",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
            },
        }


def test_alert_topics_key_lets_budgets_encrypt_what_it_publishes(synth):
    """A service publishing to an SSE-KMS topic needs kms:GenerateDataKey* and kms:Decrypt on the topic's key
    (Amazon SNS Developer Guide, "Key management", https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    prod = synth("prod")
    topic = by_name(prod, "observability-us-east-1-alerts")
    logs_key = by_name(prod, "keys-us-east-1-logs")
    # the topic is encrypted with the region's logs key
    assert topic["propertyDependencies"]["kmsMasterKeyId"] == [logs_key["urn"]]
    statements = {s["Sid"]: s for s in json.loads(logs_key["inputs"]["policy"])["Statement"]}
    assert statements["BudgetsPublishToEncryptedTopics"] == {
        "Sid": "BudgetsPublishToEncryptedTopics",
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": f"arn:aws:budgets::{ACCOUNT}:*"},
        },
    }


def test_a_budget_needs_the_platforms_alert_topic(synth):
    from stacks.team import validate_platform_outputs

    team = parse_team(_raw_team(), "stacks/Pulumi.team-fraud-prod.yaml")
    outputs = json.loads(json.dumps(synth("prod")["outputs"]))
    outputs["observability"] = None
    with pytest.raises(ContractError) as caught:
        validate_platform_outputs(outputs, "prod", team)
    assert str(caught.value) == (
        "platform stack 'prod' has no alert topic (its `observability:` section), which mlops:team.budget notifies; "
        "add observability to the platform stack, or remove budget"
    )


def test_no_budget_no_budget_resource(synth):
    assert states(synth("team-fraud-dev"), "aws:budgets/budget:Budget") == []


def test_budget_errors_are_one_line():
    file = "stacks/Pulumi.team-fraud-prod.yaml: mlops:team.budget"
    assert _error({"monthly-usd": 0}) == f"{file}.monthly-usd: must be greater than 0, got 0"
    assert _error({"monthly-usd": 10, "limit": 5}).startswith(f"{file}.limit: unknown key; allowed: ")
    assert (
        _error({"monthly-usd": 10, "emails": ["owners"]})
        == f"{file}.emails: 'owners' is not an e-mail address"
    )
    assert _error(
        {"monthly-usd": 10, "thresholds": {"forecasted": [50, 80, 90, 100], "actual": [100, 120]}}
    ) == (
        f"{file}.thresholds: 6 notifications; allowed: at most 5 forecasted and actual thresholds together "
        "(AWS Budgets' limit per budget)"
    )
    assert _error({"monthly-usd": 10, "thresholds": {"forecasted": [], "actual": []}}) == (
        f"{file}.thresholds: no threshold; allowed: at least one forecasted or actual %"
    )
