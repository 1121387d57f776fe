"""The MLflow server on the serving cluster: a Pod Identity role that reaches only its artifact prefix and the
database's managed secret, a hardened Deployment, its Service, disruption budget and network policies, and an
internal ALB with its private DNS name.

Two ways lead to MLflow. People use the ALB (``https://mlflow.<env>.mlops.internal``), which signs them in with
the identity provider of ``identity.oidc`` (the ALB's ``authenticate-oidc`` action) before forwarding; prod
refuses a stack without it. Workloads (training jobs, pipelines) use the in-cluster Service
(``http://mlflow.mlflow.svc.cluster.local:5000``) from the namespaces the ``allow-clients`` NetworkPolicy admits:
team namespaces and namespaces the platform labels as MLflow clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.blocks import Association, PodIdentityRole, allow, document, pod_identity_trust, to_json
from components.blocks.ingress import ALB, ingress_hostname, internal_alb_annotations
from components.blocks.netpol import dns_egress, ip_peer, role_policy, tcp_ports
from components.blocks.workload import (
    POD_IDENTITY_AGENT,
    RESTRICTED_POD_SECURITY,
    ContainerSpec,
    PodTrust,
    hardened_container,
    hardened_pod_spec,
)
from components.cluster.images import mirror_image
from components.cluster.naming import LBC_NAMESPACE, LBC_SERVICE_ACCOUNT
from components.identity.oidc import OidcSignIn, OidcSignInArgs, platform_ui_ingress_args
from components.network.transit import zone_name
from components.registry.args import ModelRegistryArgs
from components.registry.database import DB_USER
from components.trust.certificates import service_certificate, tls_secret_name

MLFLOW_NAMESPACE = "mlflow"
MLFLOW_PORT = 5000
SERVICE_ACCOUNT = "mlflow"
SELECTOR = {"app": "mlflow"}
# The label every team namespace carries (components.serving.team.TeamSpace); namespaces are cluster-scoped, so
# only the platform (cluster admins) can set it, never a team's namespace-scoped access entry.
TEAM_LABEL = "team"
# The label the platform puts on any other namespace whose workloads may call MLflow (e.g. a promotion job's).
CLIENT_LABEL = "mlops.platform/mlflow-client"
OIDC_SECRET = "mlflow-oidc"


def service_url(tls: bool = False) -> str:
    """Where workloads reach MLflow: its Service, from the namespaces ``allow-clients`` admits (HTTPS when MLflow
    serves its certificate from the platform's issuer)."""
    return f"{'https' if tls else 'http'}://mlflow.{MLFLOW_NAMESPACE}.svc.cluster.local:{MLFLOW_PORT}"


def serves_tls(args: ModelRegistryArgs) -> bool:
    """MLflow serves HTTPS with a certificate of the platform's issuer (private-ca with service-certificates)."""
    return args.issuer is not None and args.k8s_provider is not None


def mlflow_load_balancer_name(environment: str) -> str:
    return f"mlops-{environment}-mlflow"


def mlflow_host(environment: str) -> str:
    """MLflow's name in the platform's private hosted zone (components.network.zone_name)."""
    return f"mlflow.{zone_name(environment)}"


def mlflow_access_policy(
    bucket_arn: str, artifacts_key: str, secret_arn: str, database_key: str
) -> dict[str, Any]:
    """MLflow's role: its own prefix of the artifact bucket, and the database's managed secret."""
    return document(
        allow(
            "s3:ListBucket",
            bucket_arn,
            sid="ListMlflowPrefix",
            condition={"StringLike": {"s3:prefix": ["mlflow/*"]}},
        ),
        allow(
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            f"{bucket_arn}/mlflow/*",
            sid="ReadWriteMlflowArtifacts",
        ),
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            artifacts_key,
            sid="ArtifactsKeyThroughS3",
            condition={"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        ),
        allow("secretsmanager:GetSecretValue", secret_arn, sid="ReadDatabaseSecret"),
        allow(
            "kms:Decrypt",
            database_key,
            sid="DatabaseKeyThroughSecretsManager",
            condition={"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
        ),
    )


def service_hosts() -> list[str]:
    """Every name a client in the cluster may use for the Service (the short ones from its own namespace or
    through the search path, Kubernetes docs "DNS for Services and Pods")."""
    return [
        f"mlflow:{MLFLOW_PORT}",
        f"mlflow.{MLFLOW_NAMESPACE}:{MLFLOW_PORT}",
        f"mlflow.{MLFLOW_NAMESPACE}.svc:{MLFLOW_PORT}",
        f"mlflow.{MLFLOW_NAMESPACE}.svc.cluster.local:{MLFLOW_PORT}",
    ]


@dataclass(frozen=True)
class MlflowInputs:
    """What MLflow uses of the rest of the registry."""

    artifact_bucket: aws.s3.Bucket
    database: aws.rds.Instance


@dataclass(frozen=True)
class Mlflow:
    deployment: k8s.apps.v1.Deployment
    ingress: k8s.networking.v1.Ingress
    record: aws.route53.Record | None
    url: str
    role: aws.iam.Role
    signin: OidcSignIn | None
    image: str  # what the Deployment runs (mirror_image of the configured image)


def mlflow_server(owner: pulumi.Resource, name: str, args: ModelRegistryArgs, uses: MlflowInputs) -> Mlflow:
    """The namespace (restricted Pod Security), identity, workload, network policies and ingress of MLflow."""
    ctx = args.context
    labels = {"app.kubernetes.io/name": "mlflow", "app": "mlflow", "environment": ctx.environment}
    namespace = k8s.core.v1.Namespace(
        f"{name}-mlflow-ns",
        k8s.core.v1.NamespaceInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=MLFLOW_NAMESPACE,
                labels={
                    **labels,
                    **RESTRICTED_POD_SECURITY,
                },
            )
        ),
        opts=pulumi.ResourceOptions(parent=owner, provider=args.k8s_provider),
    )
    in_ns = pulumi.ResourceOptions(parent=owner, provider=args.k8s_provider, depends_on=[namespace])
    secret_arn = uses.database.master_user_secrets.apply(
        lambda secrets: secrets[0].secret_arn if secrets else ""
    )
    account = k8s.core.v1.ServiceAccount(
        f"{name}-mlflow-sa",
        k8s.core.v1.ServiceAccountInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT, namespace=MLFLOW_NAMESPACE, labels=labels
            ),
            automount_service_account_token=False,
        ),
        opts=in_ns,
    )
    role = _identity(owner, name, args, uses, secret_arn, account)
    certificate = None
    if serves_tls(args):
        assert args.issuer is not None
        certificate = service_certificate(
            owner,
            f"{name}-mlflow-cert",
            service="mlflow",
            namespace=MLFLOW_NAMESPACE,
            namespace_name=MLFLOW_NAMESPACE,
            issuer=args.issuer,
            labels=labels,
            extra_names=[mlflow_host(ctx.environment)],
            depends_on=[namespace],
            provider=args.k8s_provider,
        )
    deployment = _workload(
        owner,
        name,
        args,
        uses,
        secret_arn,
        labels,
        account,
        [namespace, *role.associations, *args.workload_ready, *([certificate] if certificate else [])],
    )
    meta = k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels)
    k8s.core.v1.Service(
        f"{name}-mlflow-svc", k8s.core.v1.ServiceInitArgs(metadata=meta, spec=_service_spec()), opts=in_ns
    )
    k8s.policy.v1.PodDisruptionBudget(
        f"{name}-mlflow-pdb",
        k8s.policy.v1.PodDisruptionBudgetInitArgs(metadata=meta, spec=_disruption_budget_spec()),
        opts=in_ns,
    )
    mlflow_network_policies(name, args, in_ns)
    signin = None
    if args.oidc is not None:
        if args.oidc_client_secret is None:
            raise ValueError("identity.oidc needs the OIDC client secret")
        signin = OidcSignIn(
            f"{name}-mlflow-signin",
            OidcSignInArgs(
                namespace=MLFLOW_NAMESPACE,
                oidc=args.oidc,
                client_secret=args.oidc_client_secret,
                secret_name=OIDC_SECRET,
                labels=labels,
                reader=(LBC_NAMESPACE, LBC_SERVICE_ACCOUNT),
                after=[namespace],
            ),
            opts=pulumi.ResourceOptions(parent=owner, provider=args.k8s_provider),
        )
    ingress, record = _ingress(owner, name, args, labels, namespace, signin)
    return Mlflow(
        deployment,
        ingress,
        record,
        f"https://{mlflow_host(ctx.environment)}",
        role.role,
        signin,
        mirror_image(args.config.mlflow_image, args.mirror),
    )


def _identity(
    owner: pulumi.Resource,
    name: str,
    args: ModelRegistryArgs,
    uses: MlflowInputs,
    secret_arn: pulumi.Output[str],
    account: k8s.core.v1.ServiceAccount,
) -> PodIdentityRole:
    """MLflow's Pod Identity role, trusted by this account's cluster only; associated on EKS clusters."""
    ctx, primary = args.context, args.regions[0]
    trust = pulumi.Output.from_input(args.pod_identity_cluster or "").apply(
        lambda cluster: to_json(
            pod_identity_trust(
                account_id=ctx.account_id, cluster_arn=ctx.arn.cluster(cluster) if cluster else None
            )
        )
    )
    policy = pulumi.Output.all(
        uses.artifact_bucket.arn, primary.artifacts_key_arn, secret_arn, args.database_key_arn
    ).apply(lambda v: to_json(mlflow_access_policy(*v)))
    associations = (
        []
        if args.pod_identity_cluster is None
        else [
            Association(
                args.pod_identity_cluster,
                MLFLOW_NAMESPACE,
                SERVICE_ACCOUNT,
                pulumi.ResourceOptions(depends_on=[account]),
                f"{name}-mlflow-pod-identity",
            )
        ]
    )
    return PodIdentityRole(
        f"{name}-mlflow",
        ctx,
        parent=owner,
        provider=primary.provider,
        role_name=f"{ctx.prefix}-mlflow",
        trust=trust,
        policy=policy,
        associations=associations,
    )


def _workload(
    owner: pulumi.Resource,
    name: str,
    args: ModelRegistryArgs,
    uses: MlflowInputs,
    secret_arn: pulumi.Output[str],
    labels: dict[str, str],
    account: k8s.core.v1.ServiceAccount,
    waits_for: Sequence[pulumi.Resource],
) -> k8s.apps.v1.Deployment:
    """The hardened MLflow Deployment.

    The image's entry point (images/mlflow/bootstrap.py) reads the RDS-managed password with the pod's Pod
    Identity credentials into a libpq password file under /tmp and runs `mlflow server`: no password in
    Kubernetes, in Pulumi state or on a command line.
    """
    cfg, primary = args.config, args.regions[0]
    bucket_uri = uses.artifact_bucket.bucket.apply(lambda bucket: f"s3://{bucket}/mlflow")
    trust = args.trust
    if serves_tls(args):
        # The image's entry point serves HTTPS when TLS_CERT_FILE and TLS_KEY_FILE are set (bootstrap.py).
        trust = replace(trust or PodTrust(), tls_secret=tls_secret_name("mlflow"), serves_tls=True)
    container = hardened_container(
        ContainerSpec(
            name="mlflow",
            image=mirror_image(cfg.mlflow_image, args.mirror),
            port=MLFLOW_PORT,
            health_path="/health",
            cpu=cfg.mlflow_cpu,
            memory=cfg.mlflow_memory,
            env={
                "DB_USER": DB_USER,
                "DB_SECRET_ARN": secret_arn,
                "DB_HOST": uses.database.address,
                "DB_NAME": "mlflow",
                "AWS_REGION": primary.region,
                # Artifacts are served through the server, so clients need no S3 access.
                "MLFLOW_ARTIFACTS_DESTINATION": bucket_uri,
                "MLFLOW_PORT": str(MLFLOW_PORT),
                # MLflow's server refuses Host headers it does not know (DNS-rebinding protection); /health
                # is exempt, so probes need no entry.
                "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(
                    [mlflow_host(args.context.environment), *service_hosts()]
                ),
                "MLFLOW_WORKERS": "2",
            },
            scratch=cfg.mlflow_scratch,
        ),
        trust,
    )
    pod = hardened_pod_spec(
        [container], account.metadata.name, spread_labels=SELECTOR, scratch=cfg.mlflow_scratch, trust=trust
    )
    return k8s.apps.v1.Deployment(
        f"{name}-mlflow",
        k8s.apps.v1.DeploymentInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(name="mlflow", namespace=MLFLOW_NAMESPACE, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=cfg.mlflow_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=SELECTOR),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod
                ),
            ),
        ),
        # Pods started before their Pod Identity association get no AWS credentials; they also need a node
        # pool to run on and the load balancer controller's pod webhook in place.
        opts=pulumi.ResourceOptions(parent=owner, provider=args.k8s_provider, depends_on=list(waits_for)),
    )


def _service_spec() -> k8s.core.v1.ServiceSpecArgs:
    return k8s.core.v1.ServiceSpecArgs(
        type="ClusterIP",
        selector=SELECTOR,
        ports=[k8s.core.v1.ServicePortArgs(name="http", port=MLFLOW_PORT, target_port="http")],
    )


def _disruption_budget_spec() -> k8s.policy.v1.PodDisruptionBudgetSpecArgs:
    return k8s.policy.v1.PodDisruptionBudgetSpecArgs(
        max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=SELECTOR)
    )


def _ingress(
    owner: pulumi.Resource,
    name: str,
    args: ModelRegistryArgs,
    labels: dict[str, str],
    namespace: k8s.core.v1.Namespace,
    signin: OidcSignIn | None,
) -> tuple[k8s.networking.v1.Ingress, aws.route53.Record | None]:
    """Its own internal ALB with a fixed name, and the private zone's record for MLflow's name.

    The certificate is required by the config (an HTTPS listener without one never becomes ready). With sign-in,
    the ALB authenticates every request with the identity provider before forwarding (the ALB listens on HTTPS
    only, where the controller puts the authenticate action). The Ingress is labelled a platform UI, which the
    policy pack holds to an authenticate action.
    """
    host = mlflow_host(args.context.environment)
    annotations = internal_alb_annotations(
        certificate_arn=args.config.certificate_arn,
        health_path="/health",
        load_balancer_name=mlflow_load_balancer_name(args.context.environment),
    )
    if signin is not None:
        annotations.update(signin.annotations)
    if serves_tls(args):
        # The ALB reaches MLflow over HTTPS (it does not validate the target's certificate: ELB User Guide,
        # "Target groups for your Application Load Balancers"), health checks too.
        annotations[f"{ALB}/backend-protocol"] = "HTTPS"
        annotations[f"{ALB}/healthcheck-protocol"] = "HTTPS"
    if args.alb_subnet_ids:
        # The subnets the allow-clients policy admits (the lb tier), by id: discovery by tag would pick the same
        # ones, but an ALB placed before the tier existed would move only when the controller next reconciles.
        annotations[f"{ALB}/subnets"] = pulumi.Output.all(*args.alb_subnet_ids).apply(",".join)
    # The controller reads the client Secret when it builds the listener rules: it and the controller's right to
    # read it come first.
    signed_in = [] if signin is None else [signin.secret, *filter(None, [signin.role_binding])]
    ingress = k8s.networking.v1.Ingress(
        f"{name}-mlflow-ingress",
        platform_ui_ingress_args(
            name="mlflow",
            namespace=MLFLOW_NAMESPACE,
            labels=labels,
            annotations=annotations,
            host=host,
            service="mlflow",
            port=MLFLOW_PORT,
        ),
        # After the load balancer controller (its webhook admits Ingresses) and so destroyed before it: the
        # controller removes the ALB and the Ingress's finalizer only while it runs.
        opts=pulumi.ResourceOptions(
            parent=owner,
            provider=args.k8s_provider,
            depends_on=[namespace, *signed_in, *args.workload_ready],
        ),
    )
    if args.private_zone_id is None:
        return ingress, None
    # Pulumi waits for an Ingress until the controller has written the ALB's address into its status
    # (pulumi-kubernetes' Ingress await logic), so the record is created from the real DNS name.
    record = aws.route53.Record(
        f"{name}-mlflow-record",
        aws.route53.RecordArgs(
            zone_id=args.private_zone_id,
            name=host,
            type="CNAME",
            ttl=60,
            records=[ingress.status.apply(ingress_hostname)],
        ),
        opts=pulumi.ResourceOptions(parent=owner, provider=args.regions[0].provider),
    )
    return ingress, record


def client_peers(alb_subnet_cidrs: Sequence[str]) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    """Who may open MLflow's port: pods of team namespaces and of namespaces labelled MLflow clients (workloads,
    through the Service), and the ALB's subnets (the controller registers pod IPs as targets, target type ip, so
    the ALB connects from its own addresses in the subnets it was placed in).

    The ALB's subnets must be the lb tier (components/cidr.py), never the private subnets or the VPC: an ipBlock
    matches a packet's source address, and pods have addresses in the private subnets (the VPC CNI), so those
    blocks would admit every pod of every namespace and the namespace selectors would restrict nothing."""
    if not alb_subnet_cidrs:
        raise ValueError("MLflow's allow-clients policy needs the load balancers' subnet CIDRs (the lb tier)")
    return [
        k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                match_expressions=[
                    k8s.meta.v1.LabelSelectorRequirementArgs(key=TEAM_LABEL, operator="Exists")
                ]
            )
        ),
        k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={CLIENT_LABEL: "true"})
        ),
        *[ip_peer(cidr) for cidr in alb_subnet_cidrs],
    ]


def mlflow_network_policies(name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions) -> None:
    """Default deny; clients (client_peers) on MLflow's port; out only to DNS, PostgreSQL, the AWS endpoints in
    the VPC, S3 (its prefix list) and the Pod Identity agent."""

    def policy(role, spec):
        role_policy(f"{name}-mlflow-netpol-{role}", role, MLFLOW_NAMESPACE, spec, opts)

    every_pod = k8s.meta.v1.LabelSelectorArgs()
    vpc = ip_peer(args.vpc_cidr)

    policy(
        "default-deny",
        k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=every_pod, policy_types=["Ingress", "Egress"]),
    )
    policy(
        "allow-clients",
        k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=client_peers(args.alb_subnet_cidrs),
                    ports=tcp_ports(MLFLOW_PORT),
                )
            ],
        ),
    )

    def egress(s3_cidrs):
        # An egress rule without peers allows every destination: S3's rule exists only with its CIDRs.
        s3 = (
            [
                k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                    to=[ip_peer(c) for c in s3_cidrs], ports=tcp_ports(443)
                )
            ]
            if s3_cidrs
            else []
        )
        return [
            dns_egress(),
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[vpc], ports=tcp_ports(5432)),
            # HTTPS to AWS APIs: the interface endpoints (Secrets Manager, STS) answer inside the VPC; S3 behind
            # its gateway endpoint keeps its public addresses, the region's S3 prefix list.
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[vpc], ports=tcp_ports(443)),
            k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                to=[ip_peer(POD_IDENTITY_AGENT)], ports=tcp_ports(80)
            ),
            *s3,
        ]

    policy(
        "allow-egress",
        k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Egress"],
            egress=pulumi.Output.from_input(args.s3_cidrs).apply(egress),
        ),
    )
