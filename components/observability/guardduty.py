"""GuardDuty in one region: a detector (or the account's existing one) with EKS protection, and its findings
sent to the region's alert topic.

EKS protection is two detector features (GuardDuty API reference, "DetectorFeatureConfiguration"): EKS audit-log
monitoring (``EKS_AUDIT_LOGS``) and Runtime Monitoring (``RUNTIME_MONITORING``) with GuardDuty managing the
security agent add-on on the clusters (``EKS_ADDON_MANAGEMENT``). ``RUNTIME_MONITORING`` already covers EKS;
the older ``EKS_RUNTIME_MONITORING`` must not be set beside it (the API rejects both together).

The managed agent sends runtime events to the ``guardduty-data`` interface endpoint. With automated agent
management GuardDuty creates that endpoint itself in each VPC with a monitored cluster, with a security group
of its own (``GuardDutyManagedSecurityGroup-<vpc>``, HTTPS from the VPC) and an endpoint policy limited to the
account: that path needs no internet, so internet-free stacks need nothing more. The platform does not create a
``guardduty-data`` endpoint of its own (a second endpoint with private DNS for the same service in one VPC
conflicts with GuardDuty's). Neither is in the stack's state, and they keep a destroy from deleting the subnets
and VPCs. No ordering of these resources removes them: deleting a ``DetectorFeature`` resource only drops it from
the state (pulumi-aws, guardduty.DetectorFeature), and GuardDuty keeps the endpoint when automated agent
management is turned off; it deletes it only when Runtime Monitoring itself is turned off (GuardDuty User Guide,
"Disabling, uninstalling, and cleaning up resources in Runtime Monitoring"), account- and region-wide. So a
teardown destroys the clusters, then runs ``mlops purge-guardduty-endpoints`` (mlops/guardduty_endpoints.py),
then destroys the rest (README, "Teardown").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.observability.config import GuardDutyConfig

# Feature -> its additional configurations. Runtime Monitoring lists all three agent kinds: GuardDuty reports
# every one of them back, so naming the two the platform leaves off keeps the feature without drift.
FEATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "EKS_AUDIT_LOGS": (),
    "RUNTIME_MONITORING": (
        ("EKS_ADDON_MANAGEMENT", "ENABLED"),
        ("ECS_FARGATE_AGENT_MANAGEMENT", "DISABLED"),
        ("EC2_AGENT_MANAGEMENT", "DISABLED"),
    ),
}
FINDING_SOURCE = "aws.guardduty"
FINDING_DETAIL_TYPE = "GuardDuty Finding"


def findings_rule_name(prefix: str) -> str:
    """The EventBridge rule of a region's findings (``<prefix>-guardduty-findings``): the topic policy names it."""
    return f"{prefix}-guardduty-findings"


def finding_pattern(min_severity: float) -> dict[str, Any]:
    """The event pattern of GuardDuty findings of ``min_severity`` or more (EventBridge numeric matching on the
    finding's ``detail.severity``)."""
    return {
        "source": [FINDING_SOURCE],
        "detail-type": [FINDING_DETAIL_TYPE],
        "detail": {"severity": [{"numeric": [">=", min_severity]}]},
    }


@dataclass(frozen=True)
class RegionalGuardDuty:
    """One region's GuardDuty: the detector (None where the account's existing one is used), its features, and
    the rule and target that send findings to the alert topic."""

    detector: aws.guardduty.Detector | None
    detector_id: pulumi.Input[str]
    features: dict[str, aws.guardduty.DetectorFeature]
    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget


def regional_guardduty(
    parent: pulumi.Resource,
    name: str,
    ctx: PlatformContext,
    *,
    config: GuardDutyConfig,
    prefix: str,
    topic_arn: pulumi.Input[str],
    topic_ready: Sequence[pulumi.Resource],
) -> RegionalGuardDuty:
    """The detector ``<name>-guardduty`` (or ``existing-detectors[region]``), its features, and the findings rule
    and target; ``topic_ready`` is what lets EventBridge publish (the topic policy)."""
    detector = None
    detector_id: pulumi.Input[str] | None = config.existing_detectors.get(ctx.region)
    if detector_id is None:
        detector = aws.guardduty.Detector(
            f"{name}-guardduty",
            aws.guardduty.DetectorArgs(
                enable=True,
                # Updates of an active finding reach the topic within 15 minutes instead of the default 6 hours.
                finding_publishing_frequency="FIFTEEN_MINUTES",
                tags=ctx.tagged(Name=f"{prefix}-guardduty"),
            ),
            opts=child_opts(parent),
        )
        detector_id = detector.id
    features = {
        feature: aws.guardduty.DetectorFeature(
            f"{name}-guardduty-{feature.lower().replace('_', '-')}",
            aws.guardduty.DetectorFeatureArgs(
                detector_id=detector_id,
                name=feature,
                status="ENABLED",
                additional_configurations=[
                    aws.guardduty.DetectorFeatureAdditionalConfigurationArgs(name=extra, status=status)
                    for extra, status in extras
                ]
                or None,
            ),
            opts=child_opts(parent),
        )
        for feature, extras in FEATURES.items()
    }
    rule = aws.cloudwatch.EventRule(
        f"{name}-guardduty-findings",
        aws.cloudwatch.EventRuleArgs(
            name=findings_rule_name(prefix),
            description=f"GuardDuty findings of severity {config.min_severity:g} or more to the alert topic",
            event_pattern=pulumi.Output.json_dumps(finding_pattern(config.min_severity)),
            tags=ctx.tagged(Name=findings_rule_name(prefix)),
        ),
        opts=child_opts(parent),
    )
    # No role_arn: EventBridge publishes to SNS under the topic's resource policy (EventBridge User Guide,
    # "Using resource-based policies for Amazon EventBridge": a role on an SNS target can make delivery fail).
    target = aws.cloudwatch.EventTarget(
        f"{name}-guardduty-findings-target",
        aws.cloudwatch.EventTargetArgs(rule=rule.name, arn=topic_arn, target_id="alert-topic"),
        opts=child_opts(parent, depends_on=list(topic_ready)),
    )
    return RegionalGuardDuty(detector, detector_id, features, rule, target)
