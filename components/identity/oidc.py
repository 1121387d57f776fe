"""OIDC sign-in for web UIs behind the AWS Load Balancer Controller: the client credentials Secret and the
Ingress annotations that make the load balancer authenticate users before forwarding."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.identity.config import OidcConfig
from components.loader import ConfigError
from components.stackfile import CONFIG_NAMESPACE, OIDC_SECRET_KEY


def oidc_ingress_annotations(oidc: OidcConfig, secret_name: str) -> dict[str, str]:
    """ALB Ingress annotations that make the load balancer authenticate users with OIDC before forwarding.

    ``secret_name`` is a Secret in the Ingress's namespace holding ``clientID`` and ``clientSecret``.
    """
    return {
        "alb.ingress.kubernetes.io/auth-type": "oidc",
        "alb.ingress.kubernetes.io/auth-idp-oidc": json.dumps(
            {
                "issuer": oidc.issuer,
                "authorizationEndpoint": oidc.authorization_endpoint,
                "tokenEndpoint": oidc.token_endpoint,
                "userInfoEndpoint": oidc.user_info_endpoint,
                "secretName": secret_name,
            },
            separators=(",", ":"),
        ),
        "alb.ingress.kubernetes.io/auth-scope": oidc.scope,
        "alb.ingress.kubernetes.io/auth-session-timeout": str(oidc.session_timeout_seconds),
        "alb.ingress.kubernetes.io/auth-session-cookie": "AWSELBAuthSessionCookie",
        "alb.ingress.kubernetes.io/auth-on-unauthenticated-request": "authenticate",
    }


def oidc_client_secret(file: str | Path | None) -> pulumi.Output[str]:
    """The OIDC client secret from ``mlops:oidc-client-secret``, as a Pulumi secret; a clear error if unset."""
    secret = pulumi.Config(CONFIG_NAMESPACE).get_secret(OIDC_SECRET_KEY.split(":", 1)[1])
    if secret is None:
        raise ConfigError(
            file,
            OIDC_SECRET_KEY,
            f"missing; identity.oidc needs the client secret (pulumi config set --secret {OIDC_SECRET_KEY} ...)",
        )
    return secret


@dataclass(frozen=True)
class OidcSignInArgs:
    namespace: pulumi.Input[str]
    oidc: OidcConfig
    client_secret: pulumi.Input[str]
    secret_name: str = "oidc-client"
    labels: Mapping[str, str] = field(default_factory=dict)


class OidcSignIn(pulumi.ComponentResource):
    """The Kubernetes Secret with the OIDC client credentials, and the Ingress annotations that use it.

    Pass the cluster's Kubernetes provider in ``opts``. ``annotations`` go on the web UI's Ingress (merged with
    its own ALB annotations); the client secret stays a Pulumi secret end to end.
    """

    def __init__(self, name: str, args: OidcSignInArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:OidcSignIn", name, None, opts)
        self.secret = k8s.core.v1.Secret(
            f"{name}-client",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.secret_name,
                namespace=args.namespace,
                labels={"app.kubernetes.io/managed-by": "pulumi", **args.labels},
            ),
            type="Opaque",
            string_data={
                "clientID": args.oidc.client_id,
                "clientSecret": pulumi.Output.secret(args.client_secret),
            },
            opts=child_opts(self),
        )
        self.annotations = oidc_ingress_annotations(args.oidc, args.secret_name)
        self.register_outputs({"secretName": args.secret_name, "annotations": self.annotations})
