"""A team stack's pack config with its platform's permissions boundary and allowed model licences filled in.

Kept apart from policies/pack.py, which imports every policy and the policy SDK: `mlops check --from` fills a
team document's config in the client, where the pack itself runs in its own process.
"""

from __future__ import annotations

from typing import Any

BOUNDARY_POLICY = "iam-role-permissions-boundary"
BOUNDARY_PROPERTY = "permissionsBoundaryArn"
# What policies/config/team-*.json hold until the platform stack's identity.permissionsBoundaryArn replaces it
# (the live job, `mlops check`); left in place, the policy reports it as not an ARN.
BOUNDARY_PLACEHOLDER = "PLATFORM_PERMISSIONS_BOUNDARY_ARN"


def with_permissions_boundary(
    config: dict[str, dict[str, Any]], boundary_arn: str | None
) -> dict[str, dict[str, Any]]:
    """A team config with the platform's boundary filled in where the file holds the placeholder; without a
    boundary (a platform without identity) the property is dropped, so only a stack's own boundary counts."""
    entry = dict(config[BOUNDARY_POLICY])
    if entry.get(BOUNDARY_PROPERTY) == BOUNDARY_PLACEHOLDER:
        if boundary_arn:
            entry[BOUNDARY_PROPERTY] = boundary_arn
        else:
            entry.pop(BOUNDARY_PROPERTY)
    return {**config, BOUNDARY_POLICY: entry}


LICENSES_POLICY = "model-license-allowed"
LICENSES_PROPERTY = "allowedLicenses"
# What policies/config/team-*.json hold until the platform stack's allowedLicenses output replaces it (the live job,
# `mlops check`); left in place, the policy reports it.
LICENSES_PLACEHOLDER = "PLATFORM_ALLOWED_LICENSES"


def with_allowed_licenses(
    config: dict[str, dict[str, Any]], licenses: list[str] | None
) -> dict[str, dict[str, Any]]:
    """A team config with the platform's allowed licences filled in where the file holds the placeholder; a
    platform that allows any licence (no model-licenses section) drops the property."""
    if LICENSES_POLICY not in config:
        return config
    entry = dict(config[LICENSES_POLICY])
    if entry.get(LICENSES_PROPERTY) == LICENSES_PLACEHOLDER:
        if licenses is not None:
            entry[LICENSES_PROPERTY] = list(licenses)
        else:
            entry.pop(LICENSES_PROPERTY)
    return {**config, LICENSES_POLICY: entry}


CANARY_POLICY = "model-canary-first-step"
BASE_TRAFFIC_PROPERTY = "baseTraffic"
# What policies/config/team-*.json hold until the base revision's traffic of the stack replaces it (`mlops
# pack-config --base REF` in the live jobs, `mlops check`); left in place, the policy reports it.
BASE_TRAFFIC_PLACEHOLDER = "BASE_REVISION_TRAFFIC"

#: The base revision's traffic of a team stack: model -> version -> weight (a model absent there is new).
Traffic = dict[str, dict[str, int]]


def with_base_traffic(config: dict[str, Any], traffic: Traffic | None) -> dict[str, Any]:
    """A team config with the base revision's traffic filled in where the file holds the placeholder; without a
    base (``None``: none was given, or there is no git history to read it from) the placeholder stays."""
    if CANARY_POLICY not in config or traffic is None:
        return config
    entry = dict(config[CANARY_POLICY])
    if entry.get(BASE_TRAFFIC_PROPERTY) == BASE_TRAFFIC_PLACEHOLDER:
        entry[BASE_TRAFFIC_PROPERTY] = {model: dict(versions) for model, versions in traffic.items()}
    return {**config, CANARY_POLICY: entry}
