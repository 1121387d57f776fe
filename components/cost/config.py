"""The `cost` section of `mlops:platform` and the `budget` of a team stack (`mlops:team.budget`).

Built by components/cost (reporting.py: tags and the export; budgets.py: a team's budget; opencost.py: the
in-cluster view).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from components.configbase import KeyedValueError, Model

# The platform's tag keys that attribute cost (components/configbase.py tags_for writes them on every taggable
# resource): activated as cost allocation tags, so Cost Explorer, Budgets and the CUR can group by them.
COST_ALLOCATION_TAG_KEYS = ("team", "cost-center", "environment")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_Percent = Annotated[int, Field(strict=True, ge=1, le=1000)]

# CreateBudget: "A budget can have up to five notifications, and each notification can have one SNS subscriber
# and up to 10 email subscribers" (AWS Budgets API Reference, CreateBudget, NotificationsWithSubscribers).
MAX_NOTIFICATIONS = 5
MAX_EMAILS = 10


class CostConfig(Model):
    """Cost reporting of a platform stack (`cost:`).

    `activate-tags`: activate COST_ALLOCATION_TAG_KEYS as cost allocation tags. Only the management account of an
    organization or a standalone account manages them: set false in a member account (the management account
    activates them for the organization). `export`: a daily (or hourly) CUR 2.0 export with split cost
    allocation data for EKS into a bucket of the primary region, kept `export-retention-months` months.
    `opencost`: the pinned OpenCost chart version (None: off), installed on each EKS cluster and reading the
    region's managed Prometheus workspace (check_opencost says what it needs of the rest of the platform).
    """

    activate_tags: Annotated[bool, Field(alias="activate-tags")] = True
    export: bool = True
    export_granularity: Annotated[Literal["HOURLY", "DAILY"], Field(alias="export-granularity")] = "DAILY"
    # Billing data is kept for years: months, not days (13 months is the least that compares a month with the
    # same month a year before).
    export_retention_months: Annotated[
        int, Field(alias="export-retention-months", strict=True, ge=13, le=120)
    ] = 36
    opencost: Annotated[str | None, Field(pattern=r"^\d+\.\d+\.\d+$")] = None


class BudgetThresholds(Model):
    """Percentages of the monthly amount that notify: `forecasted` when the month's forecast crosses one,
    `actual` when the month's spend does."""

    forecasted: Annotated[list[_Percent], Field(max_length=MAX_NOTIFICATIONS)] = [80, 100]
    actual: Annotated[list[_Percent], Field(max_length=MAX_NOTIFICATIONS)] = [100]


class TeamBudget(Model):
    """A team stack's monthly AWS budget (`budget:`), filtered by the team's cost allocation tag; notifications
    go to the platform's alert topic and to `emails` (the team's owners)."""

    monthly_usd: Annotated[float, Field(alias="monthly-usd", strict=False, gt=0, le=10_000_000)]
    thresholds: BudgetThresholds = BudgetThresholds()
    emails: Annotated[list[str], Field(max_length=MAX_EMAILS)] = []

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL_RE.match(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _notification_count(self) -> TeamBudget:
        count = len(set(self.thresholds.forecasted)) + len(set(self.thresholds.actual))
        if count == 0:
            raise KeyedValueError(
                ("thresholds",), "no threshold; allowed: at least one forecasted or actual %"
            )
        if count > MAX_NOTIFICATIONS:
            raise KeyedValueError(
                ("thresholds",),
                f"{count} notifications; allowed: at most {MAX_NOTIFICATIONS} forecasted and actual thresholds "
                "together (AWS Budgets' limit per budget)",
            )
        return self


def check_opencost(cfg: Any) -> None:
    """What `cost.opencost` needs of a platform (a PlatformConfig): an `eks` cluster to run on, and observability
    with the managed collector, which fills the workspace OpenCost reads (only with `prometheus-encryption:
    aws-owned`); and internet access: its images (ghcr.io, public.ecr.aws) are not mirrored for internet-free
    stacks, and it prices nodes from AWS's public price list."""
    if cfg.cost is None or cfg.cost.opencost is None:
        return
    key = ("cost", "opencost")
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        raise KeyedValueError(key, "needs an `eks` cluster (cluster.mode: eks) to run on")
    if cfg.observability is None or cfg.observability.prometheus_encryption != "aws-owned":
        raise KeyedValueError(
            key,
            "needs observability with prometheus-encryption: aws-owned (the managed collector that fills the "
            "workspace OpenCost reads)",
        )
    if cfg.internet_free:
        raise KeyedValueError(
            key,
            "not available with internet-free: true (its images are not mirrored and it prices nodes from AWS's "
            "public price list)",
        )
