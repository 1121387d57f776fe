"""Building blocks of the policy pack: tolerant property access and a compact way to declare policies.

Policies see whatever a program declared, including missing, unknown and wrongly typed properties; every
accessor here returns a default instead of raising, so a policy never crashes on odd input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

ENVIRONMENT_SCHEMA = PolicyConfigSchema(
    properties={"environment": {"type": "string", "enum": ["dev", "staging", "prod"], "default": "prod"}}
)


@dataclass(frozen=True)
class PolicyMeta:
    name: str
    area: str
    severity: str
    description: str
    remediation: str
    environment_aware: bool = False


REGISTRY: dict[str, PolicyMeta] = {}


def get(value: Any, *path: Any, default: Any = None) -> Any:
    """value[path[0]][path[1]]..., or default where any step is missing or of the wrong type."""
    for key in path:
        if isinstance(key, int):
            if (
                not isinstance(value, Sequence)
                or isinstance(value, (str, bytes))
                or not -len(value) <= key < len(value)
            ):
                return default
            value = value[key]
        else:
            if not isinstance(value, Mapping) or key not in value:
                return default
            value = value[key]
    return value


def items(value: Any) -> list[Any]:
    """A list property as a list (anything else as empty)."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in items(value) if isinstance(item, str)]


def document(value: Any) -> dict[str, Any] | None:
    """An IAM-style policy document given as JSON text or as a mapping; None if it is neither."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    raw = get(doc, "Statement", default=[])
    if isinstance(raw, Mapping):
        raw = [raw]
    return [statement for statement in items(raw) if isinstance(statement, Mapping)]


def shown(value: Any) -> str:
    """A property value for a message: the same text whichever path (JSON or protobuf) delivered it."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__


def environment(args: ResourceValidationArgs | StackValidationArgs) -> str:
    """The environment the pack was configured for; the strictest one when nothing says."""
    config = args.get_config() if hasattr(args, "get_config") else None
    value = get(config, "environment", default="prod")
    return value if value in ("dev", "staging", "prod") else "prod"


def _register(
    name: str,
    area: str,
    severity: Severity,
    description: str,
    remediation: str,
    environment_aware: bool = False,
) -> None:
    if name in REGISTRY:
        raise ValueError(f"policy {name} is declared twice")
    REGISTRY[name] = PolicyMeta(name, area, severity.value, description, remediation, environment_aware)


Check = Callable[[Mapping[str, Any], ResourceValidationArgs], "str | Iterable[str] | None"]


def resource_policy(
    name: str,
    *,
    area: str,
    severity: Severity,
    description: str,
    types: Iterable[str] | Callable[[str], bool],
    check: Check,
    remediation: str = "",
    remediate: Callable[[ResourceValidationArgs], Mapping[str, Any] | None] | None = None,
    environment_aware: bool = False,
) -> ResourceValidationPolicy:
    """A policy over resources of some types: `check` returns the violation message(s), or None."""
    applies = types if callable(types) else frozenset(types).__contains__

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not applies(args.resource_type):
            return
        props = args.props if isinstance(args.props, Mapping) else {}
        found = check(props, args)
        for message in [found] if isinstance(found, str) else list(found or []):
            report_violation(message)

    _register(name, area, severity, description, remediation, environment_aware)
    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
        remediate=remediate,
        config_schema=ENVIRONMENT_SCHEMA if environment_aware else None,
        remediation_steps=remediation or None,
    )
    return policy


StackCheck = Callable[[StackValidationArgs], Iterable[tuple[str, str]]]


def stack_policy(
    name: str,
    *,
    area: str,
    severity: Severity,
    description: str,
    check: StackCheck,
    remediation: str = "",
    environment_aware: bool = False,
    config_schema: PolicyConfigSchema | None = None,
) -> StackValidationPolicy:
    """A policy over the whole stack: `check` yields (message, urn) per violation.

    An environment-aware one reads the `environment` property like resource policies do; `config_schema`
    declares other properties the pack config may set (the engine validates the config file against it).
    """

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for message, urn in check(args):
            report_violation(message, urn)

    _register(name, area, severity, description, remediation, environment_aware)
    if environment_aware:
        config_schema = PolicyConfigSchema(
            properties={
                **ENVIRONMENT_SCHEMA.properties,
                **(config_schema.properties if config_schema is not None else {}),
            }
        )
    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
        config_schema=config_schema,
        remediation_steps=remediation or None,
    )


def linked(resource: Any, key: str) -> list[Any]:
    """Resources a stack resource's property `key` was computed from (its propertyDependencies)."""
    return list(get(getattr(resource, "property_dependencies", {}), key, default=[]) or [])


def referencing(resources: Iterable[Any], kinds: Iterable[str], key: str) -> set[str]:
    """URNs of resources that some resource of `kinds` points at through property `key`."""
    wanted = set(kinds)
    found: set[str] = set()
    for resource in resources:
        if resource.resource_type in wanted:
            found.update(dep.urn for dep in linked(resource, key))
            for dep in getattr(resource, "dependencies", []) or []:
                found.add(dep.urn)
    return found


PURPOSE_TAG = "mlops:purpose"


def purpose(resource: Any) -> str | None:
    """What the platform says a resource is for: its `mlops:purpose` tag (never guessed from its name)."""
    value = get(getattr(resource, "props", {}), "tags", PURPOSE_TAG)
    return value if isinstance(value, str) else None


def provider_region(resource: Any) -> str | None:
    """The region of the provider a resource is created with, where the engine sent it."""
    region = get(getattr(getattr(resource, "provider", None), "props", None), "region")
    return region if isinstance(region, str) else None


#: What the platform builds in every region it serves (networks, buckets, clusters, databases, load balancers); a
#: provider that only carries resources of a global service's home region (DNSSEC keys and query logs, Identity
#: Center in us-east-1) does not make a stack multi-region.
REGIONAL_TYPES = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:s3/bucket:Bucket",
    "aws:eks/cluster:Cluster",
    "aws:rds/instance:Instance",
    "aws:rds/cluster:Cluster",
    "aws:lb/loadBalancer:LoadBalancer",
)


def resource_region(resource: Any) -> str | None:
    """The region a resource is created in: its own `region` input (pulumi-aws 7 takes one per resource), else
    its provider's."""
    region = get(getattr(resource, "props", None), "region")
    return region if isinstance(region, str) else provider_region(resource)


def stack_regions(resources: Iterable[Any]) -> set[str]:
    """The distinct regions the stack holds regional infrastructure in (see REGIONAL_TYPES): two or more make a
    multi-region stack."""
    return {
        region
        for resource in resources
        if resource.resource_type in REGIONAL_TYPES and (region := resource_region(resource)) is not None
    }
