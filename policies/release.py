"""Model releases: where a model version's image comes from, and how a new version enters traffic.

The team stack marks each model version's Deployment with annotations (components/serving/deployment.py):
its traffic weight, the team's first canary step, whether it is the model's first listed version, the account
whose ECR holds the team's images, and how the version got above the first step (``stepped-from``, written by
`mlops promote`) or why it starts there (``canary-override``). Policies read those, never the stack file.
"""

from __future__ import annotations

import re

from pulumi_policy import Severity

from policies.base import environment, get, items, mapping, resource_policy

PREFIX = "mlops.platform/"
WEIGHT = f"{PREFIX}traffic-weight"
FIRST_STEP = f"{PREFIX}canary-first-step"
POSITION = f"{PREFIX}version-position"  # "first" for the model's first listed version, else "later"
ACCOUNT = f"{PREFIX}image-account"
STEPPED_FROM = f"{PREFIX}stepped-from"
OVERRIDE = f"{PREFIX}canary-override"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


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


def _canary_start(props, _args):
    annotations = _annotations(props)
    weight, first = _number(annotations.get(WEIGHT)), _number(annotations.get(FIRST_STEP))
    if weight is None or first is None or annotations.get(POSITION) == "first" or weight <= first:
        return None
    if _number(annotations.get(STEPPED_FROM)) is not None or str(annotations.get(OVERRIDE, "")).strip():
        return None
    return (
        f"version {get(props, 'metadata', 'name')!r} takes {weight}% of traffic, above the first canary step "
        f"{first}%, with no record of how: promote it step by step (`mlops promote --step`), or state why in "
        "canary-override"
    )


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
    resource_policy(
        "model-canary-first-step",
        area="release",
        severity=Severity.MEDIUM,
        description="A new model version enters traffic at the team's first canary step unless the file records "
        "how it got higher (stepped-from) or why it starts there (canary-override).",
        types=[DEPLOYMENT],
        check=_canary_start,
        remediation="Start the version at the first canary step and run `mlops promote STACK MODEL VERSION "
        "--step`, or give --override REASON.",
    ),
]
