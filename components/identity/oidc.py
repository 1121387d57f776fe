"""OIDC sign-in for web UIs behind the AWS Load Balancer Controller: the client credentials Secret, the right of
the controller to read it, and the Ingress annotations that make the load balancer authenticate users before
forwarding.

Annotation names, values and the Secret's keys follow aws-load-balancer-controller v2.13.2
(docs/guide/ingress/annotations.md, "Authentication"; pkg/ingress/model_build_actions.go reads the keys
``clientID`` and ``clientSecret``). The controller adds the authenticate action only to HTTPS listeners
(model_build_actions.go ``buildActions``): an HTTP listener of the same Ingress would forward unauthenticated, so
a signed-in UI listens on HTTPS only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.identity.config import OidcConfig
from components.loader import ConfigError
from components.stackfile import OIDC_SECRET_KEY

# The label the platform puts on an Ingress that serves a platform web UI: the policy pack (policies/ui_auth.py)
# requires an authenticate action on such an Ingress and never guesses a UI from names.
PURPOSE_LABEL = "mlops.platform/purpose"
PLATFORM_UI = "platform-ui"

SECRET_VERBS = ("get", "list", "watch")


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
    namespace, key = OIDC_SECRET_KEY.split(":", 1)
    secret = pulumi.Config(namespace).get_secret(key)
    if secret is None:
        raise ConfigError(
            file,
            OIDC_SECRET_KEY,
            f"missing; identity.oidc needs the client secret (pulumi config set --secret {OIDC_SECRET_KEY} ...)",
        )
    return secret


@dataclass(frozen=True)
class OidcSignInArgs:
    namespace: str
    oidc: OidcConfig
    client_secret: pulumi.Input[str]
    secret_name: str = "oidc-client"
    labels: Mapping[str, str] = field(default_factory=dict)
    # The load balancer controller's service account (namespace, name): it reads the Secret. Chart 1.13.2
    # grants the controller no Secret access by default (values.yaml clusterSecretsPermissions.allowAllSecrets:
    # false, "we recommend configuring namespaced role/rolebinding"), so a Role in the Secret's namespace does.
    reader: tuple[str, str] | None = None
    # What the objects wait for (their namespace): a component's dependencies are not its children's.
    after: Sequence[pulumi.Resource] = ()


class OidcSignIn(pulumi.ComponentResource):
    """The Kubernetes Secret with the OIDC client credentials, and the Ingress annotations that use it; with
    ``reader``, a Role and RoleBinding that let the load balancer controller read that one Secret.

    Pass the cluster's Kubernetes provider in ``opts``. ``annotations`` go on the web UI's Ingress (merged with
    its own ALB annotations); the client secret stays a Pulumi secret end to end.

    Attributes: ``secret``, ``role`` and ``role_binding`` (None without ``reader``), ``annotations``.
    """

    def __init__(self, name: str, args: OidcSignInArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:identity:OidcSignIn", name, None, opts)
        self.secret = k8s.core.v1.Secret(
            f"{name}-client",
            k8s.core.v1.SecretInitArgs(
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
            ),
            opts=child_opts(self, depends_on=list(args.after)),
        )
        self.role, self.role_binding = None, None
        if args.reader is not None:
            self.role, self.role_binding = self._secret_reader(name, args, args.reader)
        self.annotations = oidc_ingress_annotations(args.oidc, args.secret_name)
        self.register_outputs({"secretName": args.secret_name, "annotations": self.annotations})

    def _secret_reader(
        self, name: str, args: OidcSignInArgs, reader: tuple[str, str]
    ) -> tuple[k8s.rbac.v1.Role, k8s.rbac.v1.RoleBinding]:
        """get, list and watch of this one Secret: the controller gets it directly (its cache is off for
        Secrets, pkg/config/runtime_config.go) and watches it with a metadata.name field selector
        (pkg/k8s/secrets_manager.go), which RBAC authorises against resourceNames."""
        metadata = k8s.meta.v1.ObjectMetaArgs(
            name=f"{args.secret_name}-reader",
            namespace=args.namespace,
            labels={"app.kubernetes.io/managed-by": "pulumi", **args.labels},
        )
        role = k8s.rbac.v1.Role(
            f"{name}-reader",
            k8s.rbac.v1.RoleInitArgs(
                metadata=metadata,
                rules=[
                    k8s.rbac.v1.PolicyRuleArgs(
                        api_groups=[""],
                        resources=["secrets"],
                        resource_names=[args.secret_name],
                        verbs=list(SECRET_VERBS),
                    )
                ],
            ),
            opts=child_opts(self, depends_on=list(args.after)),
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-reader-binding",
            k8s.rbac.v1.RoleBindingInitArgs(
                metadata=metadata,
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=f"{args.secret_name}-reader"
                ),
                subjects=[
                    k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", namespace=reader[0], name=reader[1])
                ],
            ),
            opts=child_opts(self, depends_on=[role, *args.after]),
        )
        return role, binding


def platform_ui_ingress_args(
    *,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    annotations: Mapping[str, pulumi.Input[str]],
    host: pulumi.Input[str],
    service: str,
    port: int,
) -> k8s.networking.v1.IngressInitArgs:
    """A platform UI's ALB Ingress (MLflow, Argo Workflows, JupyterHub): labelled a platform UI, so the pack
    checks its sign-in (policy alb-ui-authenticated), with every path of ``host`` going to ``service``:``port``."""
    backend = k8s.networking.v1.IngressBackendArgs(
        service=k8s.networking.v1.IngressServiceBackendArgs(
            name=service, port=k8s.networking.v1.ServiceBackendPortArgs(number=port)
        )
    )
    return k8s.networking.v1.IngressInitArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels={**labels, PURPOSE_LABEL: PLATFORM_UI},
            annotations=dict(annotations),
        ),
        spec=k8s.networking.v1.IngressSpecArgs(
            ingress_class_name="alb",
            rules=[
                k8s.networking.v1.IngressRuleArgs(
                    host=host,
                    http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                        paths=[
                            k8s.networking.v1.HTTPIngressPathArgs(
                                path="/", path_type="Prefix", backend=backend
                            )
                        ]
                    ),
                )
            ],
        ),
    )
