"""The platform program, one function per concern; ``build_platform`` composes them in dependency order.

The fixture programs under tests/fixtures call the same functions, so what they synthesise is wired as the
platform wires it. A function takes what the concerns before it made (providers, keys, networks, clusters) as
plain arguments, so a fixture can hand over literal values instead of building those concerns too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.base import aws_provider
from components.blocks.context import PlatformContext
from components.cluster.args import ByoClusterArgs, ServingClusterArgs
from components.cluster.component import ByoCluster, ServingCluster, cluster_outputs
from components.cluster.images import registry_host
from components.cluster.karpenter import spot_service_linked_role
from components.cluster.naming import cluster_name
from components.cluster.nodes import karpenter_node_role_pattern
from components.config import PlatformConfig
from components.cost.reporting import BILLING_REGION, CostReporting, CostReportingArgs
from components.data.config import ACCESS_LEVELS as DATA_POLICY_ACCESS
from components.data.guard import TeamNamespaceGuard
from components.data.platform import DataRegion, PlatformData, PlatformDataArgs
from components.data.platform import policy_name as data_policy_name
from components.dns.protection import ROUTE53_KEY_REGION
from components.dns.zone import ServingDns, ServingDnsArgs
from components.encryption import KeyRing, KeyRingArgs
from components.identity.deploy_policies import deploy_boundary_statements, deploy_role_name
from components.identity.github import DeployClusterTarget, GithubDeploy, GithubDeployArgs
from components.identity.oidc import oidc_client_secret
from components.identity.policies import BoundaryScope
from components.identity.sso import ClusterAccessTarget, PlatformIdentity, PlatformIdentityArgs
from components.mirror.component import MirrorRegion, RegistryMirror, RegistryMirrorArgs
from components.mirror.config import MirrorConfig
from components.network.endpoints import PROMETHEUS_QUERY_ENDPOINT
from components.network.transit import GlobalNetwork, GlobalNetworkArgs, RegionLink, zone_name
from components.network.vpc import RegionalNetwork, RegionalNetworkArgs
from components.observability.ip_ranges import TOPIC_REGION, IpRangeAlarm, IpRangeAlarmArgs
from components.observability.platform import PlatformObservability, PlatformObservabilityArgs, RegionSignals
from components.outputs import PlatformOutputs, export_contract
from components.registry import ModelRegistry, ModelRegistryArgs, RegionStore
from components.serving.config import rps_scaling_available
from components.serving.ingress import ClientCertificates, ServingEntry, ServingEntryArgs, TeamIngressGuard
from components.serving.team import MODELS_SERVICE_ACCOUNT
from components.training.notebooks import team_profiles
from components.training.platform import TrainingPlatform, TrainingPlatformArgs
from stacks.context import platform_context
from stacks.opencost import build_opencost
from stacks.pipelines import build_pipelines, pipelines_outputs
from stacks.training import hub_teams
from stacks.trust import (
    PlatformTrust,
    build_platform_trust,
    custom_ca_pem,
    node_trust,
    pca_endpoints,
    trust_outputs,
)

KeyArn = Callable[[str], pulumi.Input[str]]  # a region's key ARN by purpose ("logs", "volumes", ...)


@dataclass
class Platform:
    """What the concerns of a platform stack have built so far, by region."""

    cfg: PlatformConfig
    ctx: PlatformContext
    providers: dict[str, pulumi.ProviderResource] = field(default_factory=dict)
    keyrings: dict[str, KeyRing] = field(default_factory=dict)
    networks: dict[str, RegionalNetwork] = field(default_factory=dict)
    global_network: GlobalNetwork | None = None
    clusters: dict[str, ServingCluster | ByoCluster] = field(default_factory=dict)
    registry: ModelRegistry | None = None
    pipelines: Any = None  # components.pipelines.argo.ArgoWorkflows
    identity: PlatformIdentity | None = None
    dns: ServingDns | None = None
    entries: dict[str, ServingEntry] = field(default_factory=dict)
    observability: PlatformObservability | None = None
    file: Path | None = None  # the stack file, named by configuration errors
    ip_range_alarm: IpRangeAlarm | None = None
    data: PlatformData | None = None
    cost: CostReporting | None = None
    trust: PlatformTrust = field(default_factory=PlatformTrust)
    github: GithubDeploy | None = None  # with the `github` section
    training: TrainingPlatform | None = None

    @property
    def eks_clusters(self) -> dict[str, ServingCluster]:
        """The clusters the platform runs (not a bring-your-own cluster reached by kubeconfig)."""
        return {name: c for name, c in self.clusters.items() if isinstance(c, ServingCluster)}


def region_providers(cfg: PlatformConfig) -> dict[str, pulumi.ProviderResource]:
    """One AWS provider per region, pinned to the stack's account."""
    return {
        region.name: aws_provider(f"aws-{region.name}", region.name, cfg.account_id) for region in cfg.regions
    }


def cluster_resource(region: str) -> str:
    """The resource name of a region's serving cluster component."""
    return f"cluster-{region}"


def build_keys_and_networks(platform: Platform) -> None:
    """Each region's key ring (replicas of the primary's multi-Region keys) and VPC."""
    cfg, ctx = platform.cfg, platform.ctx
    for region in cfg.regions:
        on_region = pulumi.ResourceOptions(provider=platform.providers[region.name])
        primary = platform.keyrings.get(cfg.primary_region.name)
        keys = platform.keyrings[region.name] = KeyRing(
            f"keys-{region.name}",
            KeyRingArgs(
                context=ctx.in_region(region.name),
                primaries={purpose: key.arn for purpose, key in primary.keys.items()} if primary else None,
                multi_region=cfg.kms_multi_region,
                eventbridge_topics=cfg.runs_guardduty,
            ),
            opts=on_region,
        )
        platform.networks[region.name] = RegionalNetwork(
            f"net-{region.name}",
            RegionalNetworkArgs(
                ctx=ctx.in_region(region.name),
                cidr=region.vpc_cidr,
                availability_zones=list(region.availability_zones),
                logs_key_arn=keys.arn("logs"),
                nat=cfg.nat,
                internet_free=cfg.internet_free,
                log_retention_days=cfg.log_retention_days,
                cluster_name=cluster_name(cfg.environment, region.name),
                extra_interface_endpoints=((PROMETHEUS_QUERY_ENDPOINT,) if rps_scaling_available(cfg) else ())
                + pca_endpoints(cfg, region.name),
            ),
            opts=on_region,
        )
    platform.global_network = GlobalNetwork(
        "global",
        GlobalNetworkArgs(
            ctx=ctx,
            regions=[
                RegionLink(r.name, platform.networks[r.name], platform.providers[r.name]) for r in cfg.regions
            ],
            private_zone=zone_name(cfg.environment),
        ),
    )


def mirror_host(cfg: PlatformConfig, region: str) -> str | None:
    """The account's ECR registry in a region, through which internet-free stacks pull charts and images."""
    return registry_host(cfg.account_id, region, cfg.partition) if cfg.internet_free else None


def build_clusters(
    platform: Platform,
    subnets: Mapping[str, tuple[pulumi.Input[str], Sequence[pulumi.Input[str]]]],
    key_arn: Callable[[str], KeyArn],
    node_network: Mapping[str, Sequence[pulumi.Resource]] | None = None,
) -> None:
    """The serving clusters: one EKS cluster per region (with the mirror and Spot role they need), or one
    existing cluster reached by kubeconfig (byo). ``subnets`` is each region's (VPC id, private subnet ids),
    ``key_arn(region)`` its keys, ``node_network`` what nodes need before they can join (NAT, endpoints)."""
    cfg, ctx = platform.cfg, platform.ctx
    if cfg.cluster is None:
        return
    if cfg.cluster.mode == "byo":
        byo_cluster = ByoCluster("cluster", ByoClusterArgs(cluster=cfg.cluster))
        platform.clusters = {region.name: byo_cluster for region in cfg.regions}
        return
    if cfg.internet_free:
        RegistryMirror(
            "mirror",
            RegistryMirrorArgs(
                context=ctx,
                config=cfg.mirror or MirrorConfig(),
                regions=[
                    MirrorRegion(r.name, platform.providers[r.name], key_arn(r.name)("images"))
                    for r in cfg.regions
                ],
                gpu=any(pool.gpu for pool in cfg.cluster.node_pools or []),
            ),
        )
    training_spot = cfg.training is not None and any(p.capacity_type == "spot" for p in cfg.training.pools)
    spot_role = (
        spot_service_linked_role("spot-service-linked-role", ctx, platform.providers[cfg.primary_region.name])
        if cfg.cluster.creates_spot_service_linked_role
        or (training_spot and cfg.cluster.spot_service_linked_role == "create")
        else None
    )
    ca_pem = custom_ca_pem(cfg, platform.file)
    for region in cfg.regions:
        vpc_id, private_subnet_ids = subnets[region.name]
        keys = key_arn(region.name)
        trust = node_trust(cfg, region.name, ca_pem)
        platform.clusters[region.name] = ServingCluster(
            cluster_resource(region.name),
            ServingClusterArgs(
                environment=cfg.environment,
                region=region.name,
                partition=cfg.partition,
                account_id=cfg.account_id,
                vpc_id=vpc_id,
                private_subnet_ids=list(private_subnet_ids),
                cluster_secrets_key_arn=keys("cluster-secrets"),
                logs_key_arn=keys("logs"),
                volumes_key_arn=keys("volumes"),
                cluster=cfg.cluster,
                log_retention_days=cfg.log_retention_days,
                tags=dict(ctx.tags),
                # Nodes join through the network's NAT or VPC endpoints; the control plane needs only subnets.
                node_network=(node_network or {}).get(region.name, ()),
                deployer_networks=cfg.deployer.networks if cfg.deployer is not None else (),
                mirror=mirror_host(cfg, region.name),
                spot_service_linked_role=spot_role,
                permissions_boundary=ctx.permissions_boundary,
                system_user_data=trust.system_user_data,
                node_class_user_data=trust.node_class_user_data,
                proxy_env=trust.proxy_env,
                training_gpus=region.name == training_region(cfg)
                and any(pool.gpus for pool in cfg.training.pools),
                reserved_capacity=region.name == training_region(cfg)
                and any(pool.capacity_reservation_ids for pool in cfg.training.pools),
            ),
            opts=pulumi.ResourceOptions(provider=platform.providers[region.name]),
        )


def training_region(cfg: PlatformConfig) -> str | None:
    """The region whose cluster runs the training side (the primary's unless training.region says)."""
    if cfg.training is None:
        return None
    return cfg.training.region or cfg.primary_region.name


def build_training(platform: Platform, stack: str) -> None:
    """Training pools, Kueue and JupyterHub on the training region's cluster; the hub offers the notebook profiles
    of the team stack files on this platform (stack ``stack``) beside the platform's own."""
    cfg = platform.cfg
    region = training_region(cfg)
    if cfg.training is None or region is None or cfg.identity is None or cfg.identity.oidc is None:
        return
    cluster = platform.eks_clusters[region]
    teams = hub_teams(platform.file.parent, stack) if platform.file is not None else []
    platform.training = TrainingPlatform(
        "training",
        TrainingPlatformArgs(
            config=cfg.training,
            environment=cfg.environment,
            cluster_name=cluster_name(cfg.environment, region),
            k8s_provider=cluster.k8s_provider,
            instance_profile=cluster.karpenter_nodes.instance_profile.name,
            ami_alias=cfg.cluster.ami_alias if cfg.cluster is not None and cfg.cluster.mode == "eks" else "",
            volumes_key_arn=platform.keyrings[region].arn("volumes"),
            tags=dict(platform.ctx.tags),
            karpenter=cluster.charts.karpenter,
            node_class_depends_on=[cluster.node_pools.node_class],
            workload_ready=cluster.workload_ready,
            spot_service_linked_role=cluster.args.spot_service_linked_role,
            oidc=cfg.identity.oidc,
            oidc_client_secret=oidc_client_secret(platform.file),
            lb_subnet_ids=platform.networks[region].subnet_ids("lb"),
            teams=team_profiles(teams, MODELS_SERVICE_ACCOUNT),
        ),
        opts=pulumi.ResourceOptions(provider=platform.providers[region]),
    )


def build_registry(platform: Platform) -> None:
    """The model registry: artifact buckets in every region, image repository defaults, MLflow on the primary
    cluster."""
    cfg = platform.cfg
    if cfg.registry is None:
        return
    primary = cfg.primary_region
    primary_name = primary.name
    oidc = cfg.identity.oidc if cfg.identity is not None else None
    primary_cluster = platform.clusters.get(primary_name)
    eks = primary_cluster if isinstance(primary_cluster, ServingCluster) else None
    network, keys = platform.networks[primary_name], platform.keyrings[primary_name]
    assert platform.global_network is not None
    platform.registry = ModelRegistry(
        "registry",
        ModelRegistryArgs(
            context=platform.ctx,
            config=cfg.registry,
            regions=[
                RegionStore(
                    r.name,
                    platform.providers[r.name],
                    platform.keyrings[r.name].arn("artifacts"),
                    platform.keyrings[r.name].arn("images"),
                )
                for r in cfg.regions
            ],
            isolated_subnet_ids=network.subnet_ids("isolated"),
            vpc_id=network.vpc.id,
            vpc_cidr=network.args.cidr,
            database_key_arn=keys.arn("database"),
            cluster_security_group_id=eks.cluster_security_group_id if eks else None,
            k8s_provider=primary_cluster.k8s_provider if primary_cluster else None,
            pod_identity_cluster=eks.name if eks else None,
            s3_endpoint_ids={
                r.name: platform.networks[r.name].gateway_endpoints["s3"].id for r in cfg.regions
            }
            if cfg.internet_free
            else {},
            deployer_role_arn=cfg.deployer.role_arn if cfg.deployer is not None else None,
            s3_cidrs=network.s3_cidrs,
            workload_ready=eks.workload_ready if eks else (),
            mirror=mirror_host(cfg, primary_name),
            logs_key_arn=keys.arn("logs"),
            log_retention_days=cfg.log_retention_days,
            private_zone_id=platform.global_network.private_zone.zone_id,
            oidc=oidc,
            oidc_client_secret=oidc_client_secret(platform.file) if oidc is not None else None,
            # The lb tier, where the internal ALB is placed: no pod has an address there.
            alb_subnet_cidrs=network.lb_cidrs,
            alb_subnet_ids=network.subnet_ids("lb"),
            trust=platform.trust.pods.get(primary_name),
            issuer=platform.trust.issuer,
        ),
        # Each resource waits only for what it uses (the database for its subnets and key, MLflow for the
        # cluster): no component-wide wait for the whole network.
        opts=pulumi.ResourceOptions(provider=platform.providers[primary_name]),
    )


def build_data(platform: Platform) -> None:
    """Data access (components.data): the data policies, S3 Access Grants per region over the artifact buckets,
    Lake Formation when configured, and on every EKS cluster the guard on team-* namespaces."""
    cfg, registry = platform.cfg, platform.registry
    if cfg.data is None or registry is None:
        return
    primary = cfg.primary_region.name
    platform.data = PlatformData(
        "data",
        PlatformDataArgs(
            context=platform.ctx.in_region(primary),
            config=cfg.data,
            regions=[
                DataRegion(
                    r.name,
                    platform.providers[r.name],
                    registry.artifact_bucket.arn
                    if r.name == primary
                    else registry.replica_buckets[r.name].arn,
                    platform.keyrings[r.name].arn("artifacts"),
                    primary=r.name == primary,
                )
                for r in cfg.regions
            ],
        ),
    )
    assert cfg.cluster is not None or not platform.eks_clusters
    for name, serving in platform.eks_clusters.items():
        TeamNamespaceGuard(
            f"namespace-guard-{name}", list(cfg.cluster.admin_role_arns or []), serving.k8s_provider
        )


def data_bucket_arns(platform: Platform) -> list[pulumi.Input[str]]:
    """The buckets whose object reads and writes the trail records (prod, with a data section): every artifact
    bucket."""
    registry = platform.registry
    if not platform.cfg.is_prod or platform.cfg.data is None or registry is None:
        return []
    return [registry.artifact_bucket.arn, *(bucket.arn for bucket in registry.replica_buckets.values())]


def boundary_scope(cfg: PlatformConfig) -> BoundaryScope:
    """What the platform's own roles reach beyond the boundary's services: with EKS clusters, the clusters
    (Pod Identity of their nodes) and the Karpenter node roles (passed to EC2)."""
    ctx = platform_context(cfg)
    deploy = github_boundary_statements(cfg, ctx)
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        return BoundaryScope(deploy_statements=deploy)
    return BoundaryScope(
        clusters={r.name: cluster_name(cfg.environment, r.name) for r in cfg.regions},
        ec2_roles=[karpenter_node_role_pattern(ctx, cluster_resource(r.name)) for r in cfg.regions],
        deploy_statements=deploy,
    )


def github_boundary_statements(cfg: PlatformConfig, ctx: PlatformContext) -> list[dict]:
    """What the boundary lets the GitHub deploy roles do beyond the platform's services (none without `github`)."""
    if cfg.github is None:
        return []
    return deploy_boundary_statements(
        partition=ctx.partition,
        account_id=ctx.account_id,
        prefix=ctx.prefix,
        deployer_arn=cfg.deployer.role_arn if cfg.deployer is not None else None,
        platform_roles=[
            ctx.arn.role(deploy_role_name(ctx.prefix, env)) for env in cfg.github.platform_environments
        ],
    )


def build_identity(platform: Platform, cluster_names: Mapping[str, pulumi.Input[str]] | None = None) -> None:
    """Identity Center permission sets and the permissions boundary; from then on every role built in the
    platform's context carries the boundary. With ``cluster_names`` (region -> cluster name), the SSO roles'
    access to those clusters too (build_cluster_access adds it later otherwise)."""
    cfg = platform.cfg
    if cfg.identity is None:
        return
    sso_provider = provider_in(platform, cfg.identity.sso_region or cfg.primary_region.name)
    platform.identity = PlatformIdentity(
        "identity",
        PlatformIdentityArgs(
            context=platform.ctx,
            regions=[r.name for r in cfg.regions],
            identity=cfg.identity,
            sso_provider=sso_provider,
            protect=cfg.is_prod,
            boundary_scope=boundary_scope(cfg),
        ),
    )
    platform.ctx = platform.ctx.bounded_by(platform.identity.permissions_boundary.arn)
    build_cluster_access(platform, cluster_names or {})


def build_github(platform: Platform) -> None:
    """GitHub Actions' OIDC provider, a deploy role per GitHub environment and the pull-request preview role,
    each with the permissions boundary (the `github` section needs `identity`)."""
    if platform.cfg.github is None:
        return
    cfg = platform.cfg
    eks = cfg.cluster is not None and cfg.cluster.mode == "eks"
    platform.github = GithubDeploy(
        "github",
        GithubDeployArgs(
            context=platform.ctx,
            github=cfg.github,
            deployer_arn=cfg.deployer.role_arn if cfg.deployer is not None else None,
            clusters={r.name: cluster_name(cfg.environment, r.name) for r in cfg.regions} if eks else {},
            zone=cfg.dns.zone if cfg.dns is not None else None,
            data_policy_arns=[
                platform.ctx.arn.policy(data_policy_name(cfg.environment, access))
                for access in DATA_POLICY_ACCESS
            ]
            if cfg.data is not None
            else [],
        ),
        # IAM is global; the primary region's provider pins the account like every other resource's.
        opts=pulumi.ResourceOptions(provider=provider_in(platform, platform.cfg.primary_region.name)),
    )


def build_github_cluster_access(platform: Platform) -> None:
    """The team deploy roles' access entries and cluster-wide reads in every EKS cluster of the platform."""
    if platform.github is None:
        return
    platform.github.grant_cluster_access(
        [
            DeployClusterTarget(region, cluster.name, platform.providers[region], cluster.k8s_provider)
            for region, cluster in platform.eks_clusters.items()
        ]
    )


def build_cluster_access(platform: Platform, cluster_names: Mapping[str, pulumi.Input[str]]) -> None:
    """The SSO roles' access entries in the EKS clusters named (region -> cluster name)."""
    if platform.identity is None:
        return
    platform.identity.grant_cluster_access(
        [
            ClusterAccessTarget(name, cluster, platform.providers[name])
            for name, cluster in cluster_names.items()
        ]
    )


def provider_in(platform: Platform, region: str) -> pulumi.ProviderResource:
    """The stack's AWS provider in ``region``; one made (once) for a region the stack does not run in, such as
    Identity Center's home region or us-east-1, where Route 53 takes signing keys and query log groups."""
    if region not in platform.providers:
        platform.providers[region] = aws_provider(f"aws-{region}", region, platform.cfg.account_id)
    return platform.providers[region]


def build_dns(platform: Platform, query_log_key_arn: pulumi.Input[str] | None = None) -> None:
    """The public zone of the model names, signed and query-logged where its config says (by default in prod).

    ``query_log_key_arn`` is the us-east-1 logs key of the stack's key ring; None gives the query log a key of
    its own (a stack without us-east-1 among its regions has no key ring there)."""
    cfg = platform.cfg
    if cfg.dns is None:
        return
    in_us_east_1 = cfg.dns.signs(cfg.environment) or cfg.dns.logs_queries(cfg.environment)
    platform.dns = ServingDns(
        "dns",
        ServingDnsArgs(
            context=platform.ctx,
            dns=cfg.dns,
            regions=[r.name for r in cfg.regions],
            protect=cfg.is_prod,
            us_east_1=provider_in(platform, ROUTE53_KEY_REGION) if in_us_east_1 else None,
            query_log_key_arn=query_log_key_arn,
            log_retention_days=cfg.log_retention_days,
        ),
        opts=pulumi.ResourceOptions(provider=platform.providers[cfg.primary_region.name]),
    )


def build_serving_entries(platform: Platform) -> None:
    """Per region with an EKS cluster: the guard on team Ingresses and, with a zone, the serving ALB the platform
    owns (read back once its Ingress is ready: its id feeds the load-balancer alarms and the teams' records)."""
    cfg = platform.cfg
    # Team Ingresses share each region's serving ALB: the API server admits only their own hosts on it.
    port = platform.trust.client_certificate_port
    for name, serving in platform.eks_clusters.items():
        TeamIngressGuard(
            f"ingress-guard-{name}",
            cfg.environment,
            name,
            serving.k8s_provider,
            **({"client_certificate_port": port} if port is not None else {}),
        )
    east = platform.keyrings.get(ROUTE53_KEY_REGION)
    build_dns(platform, east.arn("logs") if east is not None else None)
    if cfg.dns is None or platform.dns is None:
        return
    for name, serving in platform.eks_clusters.items():
        platform.entries[name] = ServingEntry(
            f"serving-{name}",
            ServingEntryArgs(
                environment=cfg.environment,
                region=name,
                domain=cfg.dns.zone,
                zone_id=platform.dns.zone.zone_id,
                certificate_arn=cfg.dns.certificate_arns[name],
                aws_provider=platform.providers[name],
                k8s_provider=serving.k8s_provider,
                depends_on=[serving.load_balancer_controller],
                client_certificates=ClientCertificates(
                    port,
                    platform.trust.ca_chain,
                    regional_bucket(platform, name),
                    platform.ctx.in_region(name).tagged(),
                )
                if port is not None and platform.trust.ca_chain is not None
                else None,
            ),
        )


def regional_bucket(platform: Platform, region: str) -> pulumi.Input[str]:
    """The region's artifact bucket (the primary's, or its replica): where the region's trust store bundle lives."""
    registry = platform.registry
    assert registry is not None  # private-ca.client-certificates needs the registry (components.trust.config)
    bucket = (
        registry.artifact_bucket
        if region == platform.cfg.primary_region.name
        else registry.replica_buckets[region]
    )
    return bucket.id


def cluster_signals(platform: Platform, key_arn: Callable[[str], KeyArn]) -> list[RegionSignals]:
    """What observability watches in each region: the platform's own cluster, ALB and database there."""
    cfg, signals = platform.cfg, []
    for region in cfg.regions:
        serving = platform.eks_clusters.get(region.name)
        entry = platform.entries.get(region.name)
        signals.append(
            RegionSignals(
                region=region.name,
                provider=platform.providers[region.name],
                logs_key_arn=key_arn(region.name)("logs"),
                cluster_name=serving.name if serving else None,
                interruption_queue_name=serving.interruption_queue.name if serving else None,
                load_balancer=entry.load_balancer.arn_suffix if entry is not None else None,
                scraper_subnet_ids=[s.id for s in platform.networks[region.name].private_subnets]
                if serving
                else (),
                scraper_security_group_ids=[serving.cluster_security_group_id] if serving else (),
                kubernetes_provider=serving.k8s_provider if serving else None,
                keda_role_name=serving.keda_role.name if serving else None,
                nodes_ready=[serving.system_node_group, serving.addon_pod_identity_agent] if serving else (),
                insights_addon_version=serving.args.cluster.addons.amazon_cloudwatch_observability
                if serving is not None and serving.args.cluster.addons is not None
                else None,
                db_instance_identifier=platform.registry.database.identifier
                if platform.registry is not None and region.name == cfg.primary_region.name
                else None,
            )
        )
    return signals


def build_observability(platform: Platform, signals: Sequence[RegionSignals]) -> None:
    """Governance trail, alert topics and alarms, dashboard, managed Prometheus (+ collector) and Grafana."""
    cfg = platform.cfg
    if cfg.observability is None:
        return
    roles = cfg.identity.roles if cfg.identity is not None else None
    platform.observability = PlatformObservability(
        "observability",
        PlatformObservabilityArgs(
            context=platform.ctx,
            config=cfg.observability,
            regions=list(signals),
            log_retention_days=cfg.log_retention_days,
            protect=cfg.is_prod,
            data_event_bucket_arns=data_bucket_arns(platform),
            grafana_groups={
                "ADMIN": [roles.platform_admin.group_id],
                "EDITOR": [roles.ml_engineer.group_id],
                "VIEWER": [roles.read_only.group_id],
            }
            if roles is not None
            else {},
        ),
    )


def build_dns_alarms(platform: Platform) -> None:
    """The signed zone's DNSSEC alarms, in us-east-1 (Route 53 publishes its metrics there only), sent to the
    stack's us-east-1 alert topic, or to a topic of their own there with the same subscribers when the stack's
    observability has no region us-east-1. Without observability there is no topic to alert, so no alarms."""
    cfg, dns, observability = platform.cfg, platform.dns, platform.observability
    if dns is None or observability is None or cfg.observability is None:
        return
    east = observability.regional.get(ROUTE53_KEY_REGION)
    if east is not None:
        dns.alarm_signing(east.topic.arn, [east.topic_policy])
    else:
        dns.alarm_signing(None, subscriptions=cfg.observability.subscriptions)


def build_ip_range_alarm(platform: Platform) -> None:
    """With clusters (whose network policies copy the S3 prefix lists' CIDRs) and alert topics: the alarm on AWS's
    IP range notifications, in the primary region, to its alert topic."""
    cfg = platform.cfg
    if platform.observability is None or not platform.clusters or cfg.partition != "aws":
        return
    primary = cfg.primary_region.name
    monitoring = platform.observability.regional[primary]
    platform.ip_range_alarm = IpRangeAlarm(
        "ip-ranges",
        IpRangeAlarmArgs(
            context=platform.ctx.in_region(primary),
            alert_topic_arn=monitoring.topic.arn,
            topic_ready=monitoring.topic_policy,
            us_east_1=provider_in(platform, TOPIC_REGION),
        ),
        opts=pulumi.ResourceOptions(provider=platform.providers[primary]),
    )


def build_cost(platform: Platform) -> None:
    """Cost reporting (the `cost` section): cost allocation tags and the CUR 2.0 export with its table, in the
    primary region (the export and the tags through us-east-1, where their APIs are)."""
    cfg = platform.cfg
    if cfg.cost is None:
        return
    primary = cfg.primary_region.name
    platform.cost = CostReporting(
        "cost",
        CostReportingArgs(
            context=platform.ctx.in_region(primary),
            config=cfg.cost,
            billing_provider=provider_in(platform, BILLING_REGION),
            protect=cfg.is_prod,
        ),
        opts=pulumi.ResourceOptions(provider=platform.providers[primary]),
    )


def registry_outputs(registry: ModelRegistry, cfg: PlatformConfig) -> dict:
    return {
        "artifact_bucket_name": registry.artifact_bucket.bucket,
        "artifact_bucket_arn": registry.artifact_bucket.arn,
        "replica_bucket_arns": {region: bucket.arn for region, bucket in registry.replica_buckets.items()},
        "repository_url_prefix": f"{cfg.account_id}.dkr.ecr.{cfg.primary_region.name}.amazonaws.com",
        "mlflow_url": registry.mlflow_url,
        "mlflow_service_url": registry.mlflow_service_url,
        "mlflow_image": registry.mlflow_image,
        "database_endpoint": registry.database.address,
    }


def region_outputs(platform: Platform, name: str) -> dict:
    """The contract's view of one region: its network, keys, transit gateway, cluster and serving ALB."""
    network, global_network = platform.networks[name], platform.global_network
    assert global_network is not None
    return {
        "vpc_id": network.vpc.id,
        "vpc_cidr": network.args.cidr,
        "subnet_ids": {
            "public": network.subnet_ids("public"),
            "private": network.subnet_ids("private"),
            "isolated": network.subnet_ids("isolated"),
            "lb": network.subnet_ids("lb"),
        },
        "endpoint_security_group_id": network.endpoint_security_group.id,
        "key_arns": {purpose: key.arn for purpose, key in platform.keyrings[name].keys.items()},
        "transit_gateway_id": global_network.transit_gateways[name].id
        if name in global_network.transit_gateways
        else None,
        "cluster": cluster_outputs(platform.clusters[name]) if name in platform.clusters else None,
        "serving": platform.entries[name].contract_values() if name in platform.entries else None,
        "s3_cidrs": network.s3_cidrs,
    }


def export_outputs(platform: Platform) -> None:
    """The platform's outputs contract (components/outputs.py), which team stacks and `mlops verify` read."""
    cfg, global_network = platform.cfg, platform.global_network
    assert global_network is not None
    export_contract(
        PlatformOutputs,
        identity=platform.identity.contract_values() if platform.identity is not None else None,
        observability=platform.observability.contract_values()
        if platform.observability is not None
        else None,
        dns=platform.dns.contract_values() if platform.dns is not None else None,
        data=platform.data.contract_values(cfg.data) if platform.data is not None and cfg.data else None,
        github=platform.github.contract_values() if platform.github is not None else None,
        environment=cfg.environment,
        account_id=cfg.account_id,
        partition=cfg.partition,
        primary_region=cfg.primary_region.name,
        private_zone_id=global_network.private_zone.zone_id,
        internet_free=cfg.internet_free,
        allowed_licenses=list(cfg.model_licenses.allowed) if cfg.model_licenses is not None else None,
        regions={name: region_outputs(platform, name) for name in platform.networks},
        registry=registry_outputs(platform.registry, cfg) if platform.registry is not None else None,
        pipelines=pipelines_outputs(platform.pipelines, cfg),
        trust=trust_outputs(platform.trust),
        training=platform.training.contract_values(training_region(cfg) or "")
        if platform.training is not None
        else None,
    )


def build_platform(cfg: PlatformConfig, file: Path | None = None) -> Platform:
    """A platform stack: identity (with the permissions boundary), keys and networks, clusters, registry, the
    SSO roles' cluster access, serving entries, observability, the DNSSEC alarms."""
    platform = Platform(cfg, platform_context(cfg), region_providers(cfg), file=file)
    # First: every role the concerns below create carries the boundary, and IAM refuses a boundary that does
    # not exist yet.
    build_identity(platform)
    build_github(platform)
    build_keys_and_networks(platform)
    build_clusters(
        platform,
        subnets={
            name: (net.vpc.id, [s.id for s in net.private_subnets]) for name, net in platform.networks.items()
        },
        key_arn=lambda region: platform.keyrings[region].arn,
        node_network={name: net.node_egress for name, net in platform.networks.items()},
    )
    platform.trust = build_platform_trust(platform, custom_ca_pem(cfg, file))
    build_registry(platform)
    platform.pipelines = build_pipelines(platform)
    build_data(platform)
    build_training(platform, pulumi.get_stack())
    build_cluster_access(platform, {name: cluster.name for name, cluster in platform.eks_clusters.items()})
    build_github_cluster_access(platform)
    build_serving_entries(platform)
    build_observability(platform, cluster_signals(platform, lambda region: platform.keyrings[region].arn))
    build_dns_alarms(platform)
    build_ip_range_alarm(platform)
    build_cost(platform)
    build_opencost(platform)
    export_outputs(platform)
    return platform
