"""The `observability` section of `mlops:platform`: alert subscribers, alarm thresholds, the trail's retention
and the managed Prometheus/Grafana switches. Built by components/observability.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from components.configbase import KeyedValueError, Model, https_url

_KeyedValueError = KeyedValueError  # the name check_guardduty raises

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Subscription(Model):
    """An alert subscriber: an e-mail address or an HTTPS endpoint (paging tools, chat webhooks)."""

    protocol: Literal["email", "https"]
    endpoint: str

    @model_validator(mode="after")
    def _endpoint_matches_protocol(self) -> Subscription:
        if self.protocol == "email" and not _EMAIL_RE.match(self.endpoint):
            raise KeyedValueError(("endpoint",), f"{self.endpoint!r} is not an e-mail address")
        if self.protocol == "https":
            try:
                https_url(self.endpoint)
            except ValueError as exc:
                raise KeyedValueError(("endpoint",), str(exc)) from None
        return self


_Percent = Annotated[float, Field(strict=True, gt=0, le=100)]
_Positive = Annotated[float, Field(strict=True, gt=0)]


class AlarmThresholds(Model):
    """Alarm thresholds; every alarm evaluates `datapoints-to-alarm` of `evaluation-periods` periods."""

    load_balancer_5xx_percent: Annotated[_Percent, Field(alias="load-balancer-5xx-percent")] = 5.0
    p99_latency_seconds: Annotated[_Positive, Field(alias="p99-latency-seconds")] = 2.0
    node_cpu_percent: Annotated[_Percent, Field(alias="node-cpu-percent")] = 80.0
    node_memory_percent: Annotated[_Percent, Field(alias="node-memory-percent")] = 85.0
    rds_cpu_percent: Annotated[_Percent, Field(alias="rds-cpu-percent")] = 80.0
    rds_free_storage_gib: Annotated[_Positive, Field(alias="rds-free-storage-gib")] = 10.0
    rds_connections: Annotated[int, Field(alias="rds-connections", strict=True, gt=0)] = 200
    interruption_queue_age_seconds: Annotated[
        int, Field(alias="interruption-queue-age-seconds", strict=True, gt=0)
    ] = 300
    period_seconds: Annotated[Literal[60, 300, 900, 3600], Field(alias="period-seconds")] = 60
    evaluation_periods: Annotated[int, Field(alias="evaluation-periods", strict=True, ge=1, le=60)] = 5
    datapoints_to_alarm: Annotated[int, Field(alias="datapoints-to-alarm", strict=True, ge=1, le=60)] = 3

    @model_validator(mode="after")
    def _datapoints(self) -> AlarmThresholds:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise KeyedValueError(
                ("datapoints-to-alarm",),
                f"{self.datapoints_to_alarm} exceeds evaluation-periods ({self.evaluation_periods}); "
                f"allowed: 1 to {self.evaluation_periods}",
            )
        return self


class TrailConfig(Model):
    """Retention of the CloudTrail bucket: Glacier after `glacier-after-days`, expiry after `retention-days`;
    in prod, every log file (and its replica in the secondary region) is locked in GOVERNANCE mode for
    `lock-days` after it is written."""

    retention_days: Annotated[int, Field(alias="retention-days", strict=True, ge=365, le=3653)] = 2557
    glacier_after_days: Annotated[int, Field(alias="glacier-after-days", strict=True, ge=30)] = 90
    lock_days: Annotated[int, Field(alias="lock-days", strict=True, ge=1, le=3653)] = 365

    @model_validator(mode="after")
    def _order(self) -> TrailConfig:
        if self.glacier_after_days >= self.retention_days:
            raise KeyedValueError(
                ("glacier-after-days",),
                f"{self.glacier_after_days} is not before retention-days ({self.retention_days})",
            )
        if self.lock_days > self.retention_days:
            # Lifecycle cannot remove a locked version: a lock longer than the retention keeps logs past it.
            raise KeyedValueError(
                ("lock-days",),
                f"{self.lock_days} exceeds retention-days ({self.retention_days}); allowed: 1 to "
                f"{self.retention_days}",
            )
        return self


# GuardDuty detector ids are 32 lower-case letters and digits (GuardDuty API reference, Detector: detectorId).
_DETECTOR_ID = r"^[a-z0-9]{32}$"


class GuardDutyConfig(Model):
    """GuardDuty with EKS protection in every region of the platform (`guardduty:`, or `guardduty: true|false`).

    `enabled` unset: on in prod, off elsewhere (prod refuses false). A region has one detector per account: where
    the account already has one (another tool, an organization's delegated administrator), name it under
    `existing-detectors` (region -> detector id) and the platform configures that one instead of creating one.
    Findings of `min-severity` or more (1.0-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical) are sent
    to the region's alert topic.
    """

    enabled: bool | None = None
    existing_detectors: Annotated[
        dict[str, Annotated[str, Field(pattern=_DETECTOR_ID)]], Field(alias="existing-detectors")
    ] = {}
    min_severity: Annotated[float, Field(alias="min-severity", strict=True, ge=1, le=10)] = 4.0

    def active(self, is_prod: bool) -> bool:
        """Whether the stack runs GuardDuty: as configured, else in prod only."""
        return is_prod if self.enabled is None else self.enabled


class ObservabilityConfig(Model):
    """Governance trail, alert topics and alarms, the dashboard, and managed Prometheus/Grafana."""

    subscriptions: list[Subscription] = []
    thresholds: AlarmThresholds = AlarmThresholds()
    trail: TrailConfig = TrailConfig()
    grafana: bool = True
    container_insights: Annotated[bool, Field(alias="container-insights")] = True
    # How the Prometheus workspaces are encrypted. `aws-owned` (default): AWS owned keys (no KMS charges), and
    # the AWS managed collector scrapes each region's cluster into its workspace with its service-linked role.
    # `customer-key`: the region's logs key (KMS request charges, key policy and rotation under your control).
    # AWS managed collectors reach such a workspace only through a scraper role configuration, a source and a
    # target role that trust the scraper by its ARN (AMP User Guide, "Using an AWS managed collector",
    # "Creating scraper for workspaces enabled with customer managed keys"); the platform does not build one, so
    # with `customer-key` no collector is created and metrics arrive only from a collector you run with remote
    # write. A workspace's encryption cannot be changed after creation: switching replaces the workspace and
    # its data.
    prometheus_encryption: Annotated[
        Literal["aws-owned", "customer-key"], Field(alias="prometheus-encryption")
    ] = "aws-owned"
    guardduty: GuardDutyConfig = GuardDutyConfig()

    @field_validator("guardduty", mode="before")
    @classmethod
    def _guardduty_switch(cls, value: object) -> object:
        # `guardduty: true|false` is the short form of `guardduty: {enabled: true|false}`.
        return {"enabled": value} if isinstance(value, bool) else value


def check_guardduty(cfg: Any) -> None:
    """GuardDuty runs in every prod region; existing detectors are named for regions of the platform."""
    if cfg.observability is None:
        return
    guardduty, names = cfg.observability.guardduty, [region.name for region in cfg.regions]
    if cfg.is_prod and guardduty.enabled is False:
        raise _KeyedValueError(
            ("observability", "guardduty", "enabled"),
            "false leaves prod without threat detection; allowed in prod: true (or unset); where the account "
            "already has a detector, name it under observability.guardduty.existing-detectors",
        )
    for region in guardduty.existing_detectors:
        if region not in names:
            raise _KeyedValueError(
                ("observability", "guardduty", "existing-detectors", region),
                f"{region!r} is not a region of this platform; allowed: {', '.join(names)}",
            )
