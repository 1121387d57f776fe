"""Argo Workflows on the platform's primary cluster: the pinned chart (controller and server hardened, on the
system nodes), the server behind an internal ALB that signs people in with the platform's OIDC provider, the
server's own SSO (the only auth mode) with RBAC delegated to team namespaces, and the workflow archive on the
registry's PostgreSQL with a database and user of its own.

Sources (argo-workflows v3.6.7 docs, chart argo-workflows 0.45.15 of argoproj/argo-helm):
- docs/argo-server-sso.md: SSO RBAC (`sso.rbac.enabled`, `scopes: [groups]`, service accounts annotated
  `workflows.argoproj.io/rbac-rule` and `-precedence`); "SSO RBAC Namespace Delegation" (`SSO_DELEGATE_RBAC_TO_
  NAMESPACE=true`; every user must first map to a service account in the installation namespace).
- docs/service-account-secrets.md: since Kubernetes 1.24, the token Secret `<sa>.service-account-token`.
- docs/argo-server-auth-mode.md: `server` mode uses the server's own service account for every user; it is
  never enabled here.
- docs/workflow-archive.md and the chart's values.yaml `controller.persistence.postgresql`: the database
  credentials are Secrets in the controller's namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import PlatformContext
from components.blocks.ingress import ALB, ingress_hostname, internal_alb_annotations
from components.blocks.netpol import dns_egress, ip_peer, role_policy, tcp_ports
from components.blocks.workload import POD_IDENTITY_AGENT, RESTRICTED_POD_SECURITY
from components.cluster.charts import SYSTEM_SCHEDULING, hardened_container, resources
from components.cluster.naming import LBC_NAMESPACE, LBC_SERVICE_ACCOUNT
from components.identity.config import OidcConfig
from components.identity.oidc import OidcSignIn, OidcSignInArgs, platform_ui_ingress_args
from components.network.transit import zone_name
from components.pipelines.archive import ARCHIVE_DATABASE, ARCHIVE_SECRET, ARCHIVE_TABLE, archive_database
from components.pipelines.config import PipelinesConfig

ARGO_NAMESPACE = "argo"
RELEASE = "argo-workflows"
CHART_REPOSITORY = "https://argoproj.github.io/argo-helm"
SERVER_PORT = 2746
SERVER_SERVICE = (
    f"{RELEASE}-server"  # the chart's "argo-workflows.server.fullname" for release argo-workflows
)
CONTROLLER_SERVICE_ACCOUNT = f"{RELEASE}-workflow-controller"
SSO_SECRET = "argo-oidc"  # keys clientID and clientSecret (components.identity.oidc.OidcSignIn)
LOGIN_SERVICE_ACCOUNT = "user-default-login"
RBAC_RULE = "workflows.argoproj.io/rbac-rule"
RBAC_PRECEDENCE = "workflows.argoproj.io/rbac-rule-precedence"
SERVER_SELECTOR = {"app.kubernetes.io/name": f"{RELEASE}-server"}
CONTROLLER_SELECTOR = {"app.kubernetes.io/name": f"{RELEASE}-workflow-controller"}


def argo_host(environment: str) -> str:
    """The Argo server's name in the platform's private hosted zone."""
    return f"argo.{zone_name(environment)}"


def argo_load_balancer_name(environment: str) -> str:
    return f"mlops-{environment}-argo"


def workflow_defaults(cfg: PipelinesConfig) -> dict[str, Any]:
    """What every workflow gets unless it says otherwise (docs/default-workflow-specs.md): finished workflows and
    their pods cleaned up, a deadline, a bound on parallel steps, and the pod-level baseline (non-root, seccomp)."""
    return {
        "spec": {
            "parallelism": cfg.step_parallelism,
            "activeDeadlineSeconds": cfg.active_deadline_seconds,
            "ttlStrategy": {
                "secondsAfterCompletion": cfg.ttl_seconds,
                "secondsAfterSuccess": cfg.ttl_seconds,
                "secondsAfterFailure": cfg.ttl_seconds,
            },
            "podGC": {"strategy": "OnPodCompletion", "deleteDelayDuration": "60s"},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        }
    }


def archive_persistence(host: pulumi.Input[str]) -> dict[str, Any]:
    """The controller's workflow archive on PostgreSQL over TLS (chart values.yaml controller.persistence)."""
    return {
        "archive": True,
        "archiveTTL": "180d",
        "postgresql": {
            "host": host,
            "port": 5432,
            "database": ARCHIVE_DATABASE,
            "tableName": ARCHIVE_TABLE,
            "userNameSecret": {"name": ARCHIVE_SECRET, "key": "username"},
            "passwordSecret": {"name": ARCHIVE_SECRET, "key": "password"},
            "ssl": True,
            "sslMode": "require",
        },
    }


def argo_values(
    cfg: PipelinesConfig, oidc: OidcConfig, environment: str, database_host: pulumi.Input[str] | None
) -> dict[str, Any]:
    """The chart's values: SSO the only auth mode, the server plain HTTP behind the ALB (TLS ends there), both
    deployments hardened and on the system nodes, the controller's limits and defaults, and the archive."""
    pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    controller: dict[str, Any] = {
        "replicas": 2,  # leader election: one works, one waits
        "pdb": {"enabled": True, "minAvailable": 1},
        "parallelism": cfg.parallelism,
        "namespaceParallelism": cfg.namespace_parallelism,
        "workflowDefaults": workflow_defaults(cfg),
        "resources": resources("100m", "256Mi", "1", "1Gi"),
        "securityContext": hardened_container(),
        "podSecurityContext": pod_security,
        **SYSTEM_SCHEDULING,
    }
    if database_host is not None:
        controller["persistence"] = archive_persistence(database_host)
    return {
        "crds": {"install": True, "keep": True},
        "singleNamespace": False,
        # Team stacks create each team's workflow service account and its executor Role.
        "workflow": {"serviceAccount": {"create": False}, "rbac": {"create": False}},
        # Keyless: artifacts are reached with the workflow pods' Pod Identity (useSDKCreds in each namespace's
        # artifact-repositories ConfigMap), never with keys from a Secret.
        "useStaticCredentials": False,
        "controller": controller,
        "executor": {
            "securityContext": hardened_container(),
            "resources": resources("50m", "64Mi", "500m", "256Mi"),
        },
        "mainContainer": {
            "securityContext": {**hardened_container(), "runAsUser": 10001, "runAsGroup": 10001}
        },
        "server": {
            "authModes": ["sso"],
            "secure": False,
            "serviceType": "ClusterIP",
            "ingress": {"enabled": False},  # the platform's own Ingress, with sign-in (below)
            "replicas": 2,
            "pdb": {"enabled": True, "minAvailable": 1},
            "resources": resources("100m", "128Mi", "1", "512Mi"),
            "securityContext": hardened_container(),
            "podSecurityContext": pod_security,
            "extraEnv": [{"name": "SSO_DELEGATE_RBAC_TO_NAMESPACE", "value": "true"}],
            "sso": {
                "enabled": True,
                "issuer": oidc.issuer,
                "clientId": {"name": SSO_SECRET, "key": "clientID"},
                "clientSecret": {"name": SSO_SECRET, "key": "clientSecret"},
                "redirectUrl": f"https://{argo_host(environment)}/oauth2/callback",
                "rbac": {"enabled": True},
                "scopes": ["groups", "email", "profile"],
                "sessionExpiry": "8h",
            },
            **SYSTEM_SCHEDULING,
        },
    }


@dataclass(frozen=True)
class ArgoWorkflowsArgs:
    context: PlatformContext
    config: PipelinesConfig
    oidc: OidcConfig
    oidc_client_secret: pulumi.Input[str]
    k8s_provider: k8s.Provider
    aws_provider: aws.Provider
    cluster_name: pulumi.Input[str]
    vpc_cidr: str
    # The lb tier's CIDRs and subnet ids: the ALB is placed there, and only those addresses reach the server.
    alb_subnet_cidrs: Sequence[str]
    alb_subnet_ids: Sequence[pulumi.Input[str]]
    private_zone_id: pulumi.Input[str]
    # The registry's database (the archive), its managed master secret and key, and the image with psycopg2 and
    # boto3 that bootstraps the archive's database (the platform's MLflow image).
    database_host: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    database_key_arn: pulumi.Input[str]
    bootstrap_image: str
    ready: Sequence[pulumi.Resource] = field(default_factory=list)  # node pools, load balancer controller


class ArgoWorkflows(pulumi.ComponentResource):
    """The `argo` namespace, its network policies, the SSO client Secret, the login service account, the
    archive's database and credentials, the chart release, and the server's signed-in internal Ingress."""

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    ingress: k8s.networking.v1.Ingress
    record: aws.route53.Record
    signin: OidcSignIn
    login: k8s.core.v1.ServiceAccount
    archive_job: k8s.batch.v1.Job | None

    def __init__(self, name: str, args: ArgoWorkflowsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:pipelines:ArgoWorkflows", name, None, opts)
        labels = {"app.kubernetes.io/part-of": "argo-workflows", "app.kubernetes.io/managed-by": "pulumi"}
        on_k8s = child_opts(self, provider=args.k8s_provider)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            k8s.core.v1.NamespaceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=ARGO_NAMESPACE, labels={**labels, **RESTRICTED_POD_SECURITY}
                )
            ),
            opts=child_opts(self, provider=args.k8s_provider, depends_on=list(args.ready)),
        )
        in_ns = child_opts(self, provider=args.k8s_provider, depends_on=[self.namespace])
        argo_network_policies(name, args, in_ns)
        self.signin = OidcSignIn(
            f"{name}-signin",
            OidcSignInArgs(
                namespace=ARGO_NAMESPACE,
                oidc=args.oidc,
                client_secret=args.oidc_client_secret,
                secret_name=SSO_SECRET,
                labels=labels,
                reader=(LBC_NAMESPACE, LBC_SERVICE_ACCOUNT),
                after=[self.namespace],
            ),
            opts=on_k8s,
        )
        # Every signed-in user maps to this account first (namespace delegation needs one in the installation
        # namespace); it is bound to no role, so it grants nothing: teams' accounts in their namespaces do.
        self.login = rbac_service_account(
            f"{name}-login", LOGIN_SERVICE_ACCOUNT, ARGO_NAMESPACE, "true", 0, labels, in_ns
        )
        self.archive_job = None
        ready: list[pulumi.Resource] = [self.namespace, self.signin.secret, *args.ready]
        if args.config.archive:
            archive = archive_database(self, name, args, labels, in_ns)
            self.archive_job = archive.job
            ready += [archive.secret, archive.job]
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                name=RELEASE,
                chart="argo-workflows",
                version=args.config.argo_workflows,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPOSITORY),
                namespace=ARGO_NAMESPACE,
                create_namespace=False,
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
                timeout=900,
                values=argo_values(
                    args.config,
                    args.oidc,
                    args.context.environment,
                    args.database_host if args.config.archive else None,
                ),
            ),
            opts=child_opts(self, provider=args.k8s_provider, depends_on=ready),
        )
        self.ingress, self.record = self._ingress(name, args, labels)
        self.url = f"https://{argo_host(args.context.environment)}"
        self.register_outputs({"url": self.url, "namespace": ARGO_NAMESPACE})

    def _ingress(
        self, name: str, args: ArgoWorkflowsArgs, labels: dict[str, str]
    ) -> tuple[k8s.networking.v1.Ingress, aws.route53.Record]:
        """The server's own internal ALB (lb tier, HTTPS only, sign-in before forwarding) and its private name."""
        host = argo_host(args.context.environment)
        annotations = internal_alb_annotations(
            certificate_arn=args.config.certificate_arn,
            health_path="/",
            load_balancer_name=argo_load_balancer_name(args.context.environment),
        )
        annotations.update(self.signin.annotations)
        annotations[f"{ALB}/subnets"] = pulumi.Output.all(*args.alb_subnet_ids).apply(",".join)
        ingress = k8s.networking.v1.Ingress(
            f"{name}-server-ingress",
            platform_ui_ingress_args(
                name=SERVER_SERVICE,
                namespace=ARGO_NAMESPACE,
                labels=labels,
                annotations=annotations,
                host=host,
                service=SERVER_SERVICE,
                port=SERVER_PORT,
            ),
            opts=child_opts(
                self,
                provider=args.k8s_provider,
                depends_on=[self.release, self.signin.secret, *filter(None, [self.signin.role_binding])],
            ),
        )
        record = aws.route53.Record(
            f"{name}-server-record",
            aws.route53.RecordArgs(
                zone_id=args.private_zone_id,
                name=host,
                type="CNAME",
                ttl=60,
                records=[ingress.status.apply(ingress_hostname)],
            ),
            opts=child_opts(self, provider=args.aws_provider),
        )
        return ingress, record


def rbac_service_account(
    resource: str,
    name: str,
    namespace: str,
    rule: str,
    precedence: int,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.ServiceAccount:
    """A service account the Argo server maps SSO users to (its rbac-rule annotations), with the token Secret
    the server reads its token from (`<name>.service-account-token`, docs/service-account-secrets.md)."""
    account = k8s.core.v1.ServiceAccount(
        resource,
        k8s.core.v1.ServiceAccountInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=namespace,
                labels=labels,
                annotations={RBAC_RULE: rule, RBAC_PRECEDENCE: str(precedence)},
            ),
            automount_service_account_token=False,
        ),
        opts=opts,
    )
    k8s.core.v1.Secret(
        f"{resource}-token",
        k8s.core.v1.SecretInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{name}.service-account-token",
                namespace=namespace,
                labels=labels,
                annotations={"kubernetes.io/service-account.name": name},
            ),
            type="kubernetes.io/service-account-token",
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[account])),
    )
    return account


def argo_network_policies(name: str, args: ArgoWorkflowsArgs, opts: pulumi.ResourceOptions) -> None:
    """Default deny; the server reached from the ALB's subnets only; out: DNS, the Kubernetes API and AWS
    endpoints (HTTPS in the VPC), PostgreSQL (the archive), the Pod Identity agent, and, for the server alone,
    HTTPS anywhere: it calls the identity provider's token and keys endpoints, which live outside the VPC."""

    def policy(role: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> None:
        role_policy(f"{name}-netpol-{role}", role, ARGO_NAMESPACE, spec, opts)

    every_pod = k8s.meta.v1.LabelSelectorArgs()
    if not args.alb_subnet_cidrs:
        raise ValueError("the Argo server's policy needs the load balancers' subnet CIDRs (the lb tier)")
    policy(
        "default-deny",
        k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=every_pod, policy_types=["Ingress", "Egress"]),
    )
    policy(
        "allow-server-from-alb",
        k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=SERVER_SELECTOR),
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[ip_peer(cidr) for cidr in args.alb_subnet_cidrs], ports=tcp_ports(SERVER_PORT)
                )
            ],
        ),
    )
    policy(
        "allow-egress",
        k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Egress"],
            egress=[
                dns_egress(),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[ip_peer(args.vpc_cidr)], ports=tcp_ports(443, 5432)
                ),
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[ip_peer(POD_IDENTITY_AGENT)], ports=tcp_ports(80)
                ),
            ],
        ),
    )
    policy(
        "allow-server-to-idp",
        k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=SERVER_SELECTOR),
            policy_types=["Egress"],
            egress=[
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[ip_peer("0.0.0.0/0")], ports=tcp_ports(443))
            ],
        ),
    )
