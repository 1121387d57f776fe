"""Model versions: a licence the platform allows, and in prod a full provenance.

A model version's Deployment carries the label `mlops.platform/purpose: model-version` and its provenance as
annotations (`mlops.platform/source`, `commit`, `license`, `run`); the licences the platform allows come from the
pack config (`allowedLicenses`: in team stacks filled from the platform stack's `allowedLicenses` output, as the
permissions boundary is, see policies/team_config.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyConfigSchema, Severity, StackValidationArgs

from policies.base import as_strings, environment, get, mapping, shown, stack_policy

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
PURPOSE_LABEL = "mlops.platform/purpose"
MODEL_VERSION = "model-version"
SOURCE = "mlops.platform/source"
COMMIT = "mlops.platform/commit"
LICENSE = "mlops.platform/license"
RUN = "mlops.platform/run"
REQUIRED_IN_PROD = (SOURCE, COMMIT, LICENSE, RUN)
LICENSES_PROPERTY = "allowedLicenses"

LICENSES_SCHEMA = PolicyConfigSchema(
    properties={
        LICENSES_PROPERTY: {
            "type": ["array", "string"],
            "items": {"type": "string"},
            "description": "The SPDX licence identifiers model versions may carry (team stacks: the platform "
            "stack's allowedLicenses output); absent: any.",
        }
    }
)


def model_versions(args: StackValidationArgs) -> list[Any]:
    """The stack's model version Deployments (by their purpose label, never by name)."""
    return [
        resource
        for resource in args.resources
        if resource.resource_type == DEPLOYMENT
        and get(resource.props, "metadata", "labels", PURPOSE_LABEL) == MODEL_VERSION
    ]


def _name(resource: Any) -> str:
    metadata = mapping(get(resource.props, "metadata"))
    return f"{metadata.get('namespace', '?')}/{metadata.get('name', resource.name)}"


def _licenses(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    configured = get(mapping(args.get_config()), LICENSES_PROPERTY)
    if configured is None:
        return
    if isinstance(configured, str):
        yield (
            f"pack config {LICENSES_PROPERTY} is {configured!r}, not a list of licences; fill it from the platform "
            "stack's allowedLicenses output",
            "",
        )
        return
    allowed = as_strings(configured)
    for resource in model_versions(args):
        found = get(resource.props, "metadata", "annotations", LICENSE)
        if found is not None and found not in allowed:
            yield (
                f"model version {_name(resource)} has license {shown(found)}, which the platform does not allow; "
                f"allowed: {', '.join(allowed) or 'none'}",
                resource.urn,
            )


def _provenance(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    if environment(args) != "prod":
        return
    for resource in model_versions(args):
        annotations = mapping(get(resource.props, "metadata", "annotations"))
        missing = [
            key
            for key in REQUIRED_IN_PROD
            if not isinstance(annotations.get(key), str) or not annotations[key]
        ]
        if missing:
            yield (
                f"model version {_name(resource)} has no {', '.join(missing)} annotation; prod requires its "
                "provenance (source, commit, license, run)",
                resource.urn,
            )


POLICIES = [
    stack_policy(
        "model-license-allowed",
        area="kubernetes",
        severity=Severity.HIGH,
        description="A model version carries a licence its platform allows (model-licenses.allowed).",
        check=_licenses,
        config_schema=LICENSES_SCHEMA,
        remediation="Serve a model version under a licence of the platform stack's model-licenses.allowed, or "
        "have the platform allow its licence.",
    ),
    stack_policy(
        "model-provenance-prod",
        area="kubernetes",
        severity=Severity.HIGH,
        description="In prod every model version says where it came from: source, commit, license and run.",
        check=_provenance,
        environment_aware=True,
        remediation="Set source (repository, commit), license and run on the model version in the team stack file.",
    ),
]
