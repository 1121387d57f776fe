"""Platform web UIs: an Application Load Balancer in front of one, internal or internet-facing, signs people in.

What is a platform UI is said by the platform, never guessed from names: an AWS listener or listener rule tagged
`mlops:purpose=platform-ui`, or a Kubernetes Ingress labelled `mlops.platform/purpose: platform-ui` (label keys
cannot hold a colon). Such a resource needs an authenticate action (OIDC or Cognito) before it forwards.

Rules encoded here, with their sources:
- Authenticate actions are supported only on HTTPS listeners (Elastic Load Balancing, "Authenticate users using
  an Application Load Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html;
  aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md "Authentication": "HTTPS only"). The
  controller adds the authenticate action only to the HTTPS listeners of an Ingress and forwards on the others
  (pkg/ingress/model_build_actions.go, buildActions), so a UI Ingress lists HTTPS ports only, explicitly
  (without listen-ports the controller picks HTTP:80 unless it finds a certificate).
- The IdP's issuer and endpoints are full HTTPS URLs (ELB API reference, AuthenticateOidcActionConfig,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AuthenticateOidcActionConfig.html).
- `allow` as the behaviour on unauthenticated requests forwards them (same page): it is no sign-in.
- The authenticate action comes before the forward: the action with the lowest order runs first (ELB API
  reference, Action.Order, https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Action.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from policies.base import PURPOSE_TAG, get, items, mapping, resource_policy, shown

PLATFORM_UI = "platform-ui"
PURPOSE_LABEL = "mlops.platform/purpose"
ALB = "alb.ingress.kubernetes.io"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
LISTENER_RULES = ("aws:lb/listenerRule:ListenerRule", "aws:alb/listenerRule:ListenerRule")
AUTHENTICATE = ("authenticate-oidc", "authenticate-cognito")
OIDC_URLS = ("issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint")
DESCRIPTION = (
    "A load balancer in front of a platform UI signs people in (authenticate action) before it forwards."
)


def _https(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) > len("https://")


def _oidc_problems(config: Mapping[str, Any], where: str) -> list[str]:
    problems = [
        f"{where} {key} {shown(config.get(key))} is not an HTTPS URL"
        for key in OIDC_URLS
        if not _https(config.get(key))
    ]
    if config.get("onUnauthenticatedRequest") == "allow":
        problems.append(f"{where} forwards unauthenticated requests (onUnauthenticatedRequest 'allow')")
    return problems


def _ingress(props: Mapping[str, Any], _args) -> list[str] | None:
    metadata = mapping(props.get("metadata"))
    if get(metadata, "labels", PURPOSE_LABEL) != PLATFORM_UI:
        return None
    annotations = mapping(metadata.get("annotations"))
    ingress_class = get(
        props, "spec", "ingressClassName", default=annotations.get("kubernetes.io/ingress.class")
    )
    if ingress_class != "alb":
        return [
            f"a platform UI Ingress of class {shown(ingress_class)}: only class alb (the ALB) signs people in"
        ]
    problems = []
    try:
        ports = json.loads(annotations.get(f"{ALB}/listen-ports", "null"))
    except (TypeError, ValueError):
        ports = None
    protocols = {key for entry in items(ports) for key in mapping(entry)}
    if not protocols or protocols != {"HTTPS"}:
        problems.append(
            f"{ALB}/listen-ports {shown(annotations.get(f'{ALB}/listen-ports'))} is not HTTPS only: the controller "
            "puts the authenticate action on HTTPS listeners only and forwards on the others"
        )
    auth_type = annotations.get(f"{ALB}/auth-type", "none")
    if auth_type not in ("oidc", "cognito"):
        return [
            *problems,
            f"{ALB}/auth-type is {shown(auth_type)}: no authenticate action; allowed: oidc, cognito",
        ]
    if annotations.get(f"{ALB}/auth-on-unauthenticated-request") == "allow":
        problems.append(f"{ALB}/auth-on-unauthenticated-request 'allow' forwards unauthenticated requests")
    if auth_type == "oidc":
        try:
            idp = json.loads(annotations.get(f"{ALB}/auth-idp-oidc", "null"))
        except (TypeError, ValueError):
            idp = None
        if not isinstance(idp, Mapping):
            return [*problems, f"{ALB}/auth-idp-oidc is missing or not a JSON object"]
        problems += _oidc_problems(idp, f"{ALB}/auth-idp-oidc")
        if not isinstance(idp.get("secretName"), str) or not idp.get("secretName"):
            problems.append(f"{ALB}/auth-idp-oidc names no secretName (the client credentials' Secret)")
    return problems


def _actions(actions: list[Any], where: str) -> list[str]:
    def order(index_action: tuple[int, Any]) -> float:
        value = get(index_action[1], "order")
        return float(value) if isinstance(value, (int, float)) else float(index_action[0] + 1)

    ranked = [action for _, action in sorted(enumerate(actions), key=order)]
    types = [get(action, "type") for action in ranked]
    if not types or types[0] not in AUTHENTICATE:
        return [f"{where} starts with {shown(types[0] if types else None)}, not an authenticate action"]
    oidc = mapping(get(ranked[0], "authenticateOidc"))
    return _oidc_problems(oidc, f"{where} authenticateOidc") if types[0] == "authenticate-oidc" else []


def _listener(props: Mapping[str, Any], _args) -> list[str] | None:
    if get(props, "tags", PURPOSE_TAG) != PLATFORM_UI:
        return None
    problems = []
    if props.get("protocol") != "HTTPS":
        problems.append(
            f"protocol {shown(props.get('protocol'))}: authenticate actions are supported on HTTPS listeners only"
        )
    return problems + _actions(items(props.get("defaultActions")), "defaultActions")


def _listener_rule(props: Mapping[str, Any], _args) -> list[str] | None:
    if get(props, "tags", PURPOSE_TAG) != PLATFORM_UI:
        return None
    return _actions(items(props.get("actions")), "actions")


def _check(props: Mapping[str, Any], args) -> list[str] | None:
    if args.resource_type == INGRESS:
        return _ingress(props, args)
    if args.resource_type in LISTENERS:
        return _listener(props, args)
    return _listener_rule(props, args)


POLICIES = [
    resource_policy(
        "alb-ui-authenticated",
        area="network",
        severity=Severity.CRITICAL,
        description=DESCRIPTION,
        types=(INGRESS, *LISTENERS, *LISTENER_RULES),
        check=_check,
        remediation="On an Ingress labelled mlops.platform/purpose=platform-ui: alb.ingress.kubernetes.io/auth-type "
        "oidc with auth-idp-oidc (HTTPS issuer and endpoints, secretName) and listen-ports HTTPS only (identity.oidc "
        "does this for MLflow). On a listener tagged mlops:purpose=platform-ui: HTTPS, and an authenticate-oidc or "
        "authenticate-cognito action ordered before the forward.",
    ),
]
