"""Model releases: where a model version's image comes from, and how a new version enters traffic.

The team stack marks each model version's Deployment with annotations (components/serving/deployment.py):
its model and version names, its traffic weight, the team's first canary step, whether it is the model's first
listed version, the account whose ECR holds the team's images, how the version got above the first step
(``stepped-from``, written by `mlops promote`) and why it may start there (``canary-override``). Policies read
those, never the stack file.

Whether a version is new is not the file's to say: the pack config's ``baseTraffic`` holds the stack's traffic at
the base revision (what was deployed, or the pull request's base; `mlops pack-config --base REF` and `mlops check`
fill it from git). A version the base does not serve, of a model the base serves, starts at the first canary
step unless ``canary-override`` says why not; ``stepped-from`` and the version's position are records only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyConfigSchema, Severity, StackValidationArgs

from policies.base import environment, get, items, mapping, resource_policy, stack_policy
from policies.team_config import BASE_TRAFFIC_PROPERTY

PREFIX = "mlops.platform/"
WEIGHT = f"{PREFIX}traffic-weight"
FIRST_STEP = f"{PREFIX}canary-first-step"
POSITION = f"{PREFIX}version-position"  # "first" for the model's first listed version, else "later"
MODEL = f"{PREFIX}model"
VERSION = f"{PREFIX}version"
ACCOUNT = f"{PREFIX}image-account"
STEPPED_FROM = f"{PREFIX}stepped-from"
OVERRIDE = f"{PREFIX}canary-override"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

BASE_TRAFFIC_SCHEMA = PolicyConfigSchema(
    properties={
        BASE_TRAFFIC_PROPERTY: {
            "type": ["object", "string"],
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
            "description": "The stack's traffic at the base revision (what was deployed, or the pull request's "
            "base): model -> version -> weight, `{}` for a new stack; `mlops pack-config --base REF` fills it.",
        }
    }
)


def _annotations(props) -> dict:
    return dict(mapping(get(props, "metadata", "annotations", default={})))


def _number(text) -> int | None:
    return int(text) if isinstance(text, str) and text.isdigit() else None


def models_image(account: str) -> re.Pattern[str]:
    """An image in the account's private ECR (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`, ECR User Guide,
    "Private registry concepts") under `models/`, pinned by digest."""
    return re.compile(
        rf"^{re.escape(account)}\.dkr\.ecr\.[a-z]{{2}}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?/models/[a-z0-9][a-z0-9._/-]*"
        r"@sha256:[0-9a-f]{64}$"
    )


def _image_source(props, args):
    annotations = _annotations(props)
    if WEIGHT not in annotations or environment(args) != "prod":
        return None
    account = annotations.get(ACCOUNT)
    if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
        return f"model version names no account whose ECR holds its image (annotation {ACCOUNT})"
    containers = items(get(props, "spec", "template", "spec", "containers", default=[]))
    pattern = models_image(account)
    return [
        f"image {get(c, 'image')!r} is not from the models/ repositories of account {account}'s ECR by digest"
        for c in containers
        if not (isinstance(get(c, "image"), str) and pattern.match(get(c, "image")))
    ]


def _release_versions(args: StackValidationArgs) -> list[Any]:
    """The stack's Deployments that carry release annotations (a traffic weight)."""
    return [
        resource
        for resource in args.resources
        if resource.resource_type == DEPLOYMENT and WEIGHT in _annotations(resource.props)
    ]


def _canary_start(args: StackValidationArgs) -> Iterator[tuple[str, str]]:
    base = get(mapping(args.get_config()), BASE_TRAFFIC_PROPERTY)
    if isinstance(base, str):
        yield (
            f"pack config {BASE_TRAFFIC_PROPERTY} is {base!r}, not the base revision's traffic; fill it with "
            "`mlops pack-config STACK --base REF` (what was deployed, or the pull request's base)",
            "",
        )
        return
    for resource in _release_versions(args):
        annotations = _annotations(resource.props)
        weight, first = _number(annotations.get(WEIGHT)), _number(annotations.get(FIRST_STEP))
        if weight is None or first is None or weight <= first or str(annotations.get(OVERRIDE, "")).strip():
            continue
        found = _new_version(resource, annotations, base)
        if found is not None:
            record = (
                f" (stepped-from {annotations[STEPPED_FROM]!r} is a record, not a reason)"
                if STEPPED_FROM in annotations
                else ""
            )
            yield (
                f"version {get(resource.props, 'metadata', 'name')!r} {found} and takes {weight}% of traffic, "
                f"above the first canary step {first}%{record}: start it at {first}% and promote it step by step "
                "(`mlops promote --step`), or state why in canary-override",
                resource.urn,
            )


def _new_version(resource: Any, annotations: dict, base: Any) -> str | None:
    """Why the version counts as new against ``base`` (model -> version -> weight), or None if it does not."""
    if not isinstance(base, Mapping):
        return f"cannot be compared with the base revision (the pack config has no {BASE_TRAFFIC_PROPERTY})"
    model, version = annotations.get(MODEL), annotations.get(VERSION)
    if not isinstance(model, str) or not isinstance(version, str):
        return (
            f"names no model and version (annotations {MODEL}, {VERSION}) to compare with the base revision"
        )
    served = [name for name in mapping(base.get(model)) if isinstance(name, str)]
    if not served or version in served:
        return None  # a model new at base (any weight), or a version the base already serves
    return f"(model {model!r}, version {version!r}) is not in the base revision, which serves {', '.join(served)},"


POLICIES = [
    resource_policy(
        "model-image-from-models-ecr",
        area="release",
        severity=Severity.HIGH,
        description="In prod, a model version's image comes from the account's ECR models/ repositories, by digest.",
        types=[DEPLOYMENT],
        check=_image_source,
        environment_aware=True,
        remediation="Push the image to <account>.dkr.ecr.<region>.amazonaws.com/models/<team>/<model> and "
        "reference it @sha256:<digest>.",
    ),
    stack_policy(
        "model-canary-first-step",
        area="release",
        severity=Severity.MEDIUM,
        description="A model version the base revision does not serve enters traffic at the team's first canary "
        "step, unless the file records why it starts higher (canary-override).",
        check=_canary_start,
        config_schema=BASE_TRAFFIC_SCHEMA,
        remediation="Start the version at the first canary step and run `mlops promote STACK MODEL VERSION "
        "--step`, or give --override REASON.",
    ),
]
