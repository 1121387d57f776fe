"""A team's monthly AWS budget: cost filtered by the team's cost allocation tag, notifying at forecasted and
actual thresholds the platform's alert topic and the team owners' e-mail addresses.

A budget's tag filter is ``TagKeyValue`` with values ``user:<key>$<value>`` (AWS Budgets, CreateBudget example,
https://docs.aws.amazon.com/code-library/latest/ug/budgets_example_budgets_CreateBudget_section.html); the
platform's `team` tag key is a user-defined cost allocation tag, activated by the platform stack's `cost`
section (components/cost/reporting.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.cost.config import TeamBudget


def budget_name(environment: str, team: str) -> str:
    return f"mlops-{environment}-team-{team}"


def tag_filter(key: str, value: str) -> str:
    """A user-defined cost allocation tag as Budgets' TagKeyValue filter names it: ``user:<key>$<value>``."""
    return f"user:{key}${value}"


def notifications(
    budget: TeamBudget, topic_arn: pulumi.Input[str] | None
) -> list[aws.budgets.BudgetNotificationArgs]:
    """One notification per threshold (FORECASTED first, then ACTUAL), each to the topic (a notification has at
    most one SNS subscriber) and to the owners' e-mail addresses (at most ten)."""
    thresholds = [("FORECASTED", p) for p in sorted(set(budget.thresholds.forecasted))] + [
        ("ACTUAL", p) for p in sorted(set(budget.thresholds.actual))
    ]
    return [
        aws.budgets.BudgetNotificationArgs(
            notification_type=kind,
            comparison_operator="GREATER_THAN",
            threshold=float(percent),
            threshold_type="PERCENTAGE",
            subscriber_sns_topic_arns=[topic_arn] if topic_arn is not None else None,
            subscriber_email_addresses=list(budget.emails) or None,
        )
        for kind, percent in thresholds
    ]


def team_budget(
    name: str,
    *,
    team: str,
    environment: str,
    budget: TeamBudget,
    account_id: pulumi.Input[str],
    topic_arn: pulumi.Input[str] | None,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions | None = None,
) -> aws.budgets.Budget:
    """The team's monthly COST budget in USD, limited to resources tagged ``team=<team>``."""
    return aws.budgets.Budget(
        name,
        aws.budgets.BudgetArgs(
            name=budget_name(environment, team),
            account_id=account_id,
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=f"{budget.monthly_usd:.2f}",
            limit_unit="USD",
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[tag_filter("team", team)])
            ],
            notifications=notifications(budget, topic_arn),
            tags=dict(tags),
        ),
        opts=opts,
    )
