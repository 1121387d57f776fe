"""The Pulumi program of every stack: load the typed config, compose components, export outputs.

A stack file with `mlops:team` is a model-team stack (components/team_stack.py); one with `mlops:platform` is a
platform stack, composed here.
"""

import pulumi

from components import team_stack
from components.base import aws_provider
from components.cluster import (
    ByoCluster,
    ByoClusterArgs,
    ServingCluster,
    ServingClusterArgs,
    cluster_name,
    cluster_outputs,
    registry_host,
    spot_service_linked_role,
)
from components.config import (
    MirrorConfig,
    PlatformConfig,
    parse_platform,
    parse_team,
    rps_scaling_available,
    stack_file,
)
from components.configbase import tags_for
from components.dns import ServingDns, ServingDnsArgs
from components.encryption import KeyRing, KeyRingArgs
from components.identity import ClusterAccessTarget, PlatformIdentity, PlatformIdentityArgs
from components.mirror import MirrorRegion, RegistryMirror, RegistryMirrorArgs
from components.network.endpoints import PROMETHEUS_QUERY_ENDPOINT
from components.network.transit import GlobalNetwork, GlobalNetworkArgs, RegionLink, zone_name
from components.network.vpc import RegionalNetwork, RegionalNetworkArgs
from components.observability import PlatformObservability, PlatformObservabilityArgs, RegionSignals
from components.outputs import PlatformOutputs, export_contract
from components.registry import ModelRegistry, ModelRegistryArgs, RegionStore
from components.serving.ingress import ServingEntry, ServingEntryArgs, TeamIngressGuard


def registry_outputs(registry: ModelRegistry, cfg: PlatformConfig) -> dict:
    return {
        "artifact_bucket_name": registry.artifact_bucket.bucket,
        "artifact_bucket_arn": registry.artifact_bucket.arn,
        "replica_bucket_arns": {region: bucket.arn for region, bucket in registry.replica_buckets.items()},
        "repository_url_prefix": f"{cfg.account_id}.dkr.ecr.{cfg.primary_region.name}.amazonaws.com",
        "mlflow_url": registry.mlflow_url,
        "database_endpoint": registry.database.address,
    }


def mirror_host(cfg: PlatformConfig, region: str) -> str | None:
    """The account's ECR registry in a region, through which internet-free stacks pull charts and images."""
    return registry_host(cfg.account_id, region, cfg.partition) if cfg.internet_free else None


def build_platform(cfg: PlatformConfig) -> None:
    tags = tags_for(cfg.tags, cfg.environment)

    providers: dict[str, pulumi.ProviderResource] = {}
    keyrings: dict[str, KeyRing] = {}
    networks: dict[str, RegionalNetwork] = {}
    for region in cfg.regions:
        provider = aws_provider(f"aws-{region.name}", region.name, cfg.account_id)
        providers[region.name] = provider
        on_region = pulumi.ResourceOptions(provider=provider)
        primary = keyrings.get(cfg.primary_region.name)
        keyrings[region.name] = KeyRing(
            f"keys-{region.name}",
            KeyRingArgs(
                environment=cfg.environment,
                partition=cfg.partition,
                account_id=cfg.account_id,
                region=region.name,
                primaries={purpose: key.arn for purpose, key in primary.keys.items()} if primary else None,
                tags=tags,
                multi_region=cfg.kms_multi_region,
            ),
            opts=on_region,
        )
        networks[region.name] = RegionalNetwork(
            f"net-{region.name}",
            RegionalNetworkArgs(
                environment=cfg.environment,
                region=region.name,
                cidr=region.vpc_cidr,
                availability_zones=list(region.availability_zones),
                account_id=cfg.account_id,
                logs_key_arn=keyrings[region.name].arn("logs"),
                nat=cfg.nat,
                internet_free=cfg.internet_free,
                log_retention_days=cfg.log_retention_days,
                cluster_name=cluster_name(cfg.environment, region.name),
                partition=cfg.partition,
                tags=tags,
                extra_interface_endpoints=(PROMETHEUS_QUERY_ENDPOINT,) if rps_scaling_available(cfg) else (),
            ),
            opts=on_region,
        )

    global_network = GlobalNetwork(
        "global",
        GlobalNetworkArgs(
            environment=cfg.environment,
            account_id=cfg.account_id,
            regions=[RegionLink(r.name, networks[r.name], providers[r.name]) for r in cfg.regions],
            private_zone=zone_name(cfg.environment),
            tags=tags,
        ),
    )

    # Serving clusters: one EKS cluster per region, or one existing cluster reached by kubeconfig (byo).
    clusters: dict[str, ServingCluster | ByoCluster] = {}
    if cfg.cluster is not None and cfg.cluster.mode == "byo":
        byo_cluster = ByoCluster("cluster", ByoClusterArgs(cluster=cfg.cluster))
        clusters = {region.name: byo_cluster for region in cfg.regions}
    elif cfg.cluster is not None:
        if cfg.internet_free:
            RegistryMirror(
                "mirror",
                RegistryMirrorArgs(
                    environment=cfg.environment,
                    partition=cfg.partition,
                    account_id=cfg.account_id,
                    config=cfg.mirror or MirrorConfig(),
                    regions=[MirrorRegion(r.name, providers[r.name], keyrings[r.name].arn("images")) for r in cfg.regions],
                    gpu=any(pool.gpu for pool in cfg.cluster.node_pools or []),
                    tags=tags,
                ),
            )
        spot_role = (
            spot_service_linked_role("spot-service-linked-role", tags, providers[cfg.primary_region.name])
            if cfg.cluster.creates_spot_service_linked_role
            else None
        )
        for region in cfg.regions:
            network, keys = networks[region.name], keyrings[region.name]
            clusters[region.name] = ServingCluster(
                f"cluster-{region.name}",
                ServingClusterArgs(
                    environment=cfg.environment,
                    region=region.name,
                    partition=cfg.partition,
                    account_id=cfg.account_id,
                    vpc_id=network.vpc.id,
                    private_subnet_ids=[subnet.id for subnet in network.private_subnets],
                    cluster_secrets_key_arn=keys.arn("cluster-secrets"),
                    logs_key_arn=keys.arn("logs"),
                    volumes_key_arn=keys.arn("volumes"),
                    cluster=cfg.cluster,
                    log_retention_days=cfg.log_retention_days,
                    tags=tags,
                    # Nodes join through the network's NAT or VPC endpoints; the control plane needs only subnets.
                    node_network=network.node_egress,
                    deployer_networks=cfg.deployer.networks if cfg.deployer is not None else (),
                    mirror=mirror_host(cfg, region.name),
                    spot_service_linked_role=spot_role,
                ),
                opts=pulumi.ResourceOptions(provider=providers[region.name]),
            )

    # The model registry: artifact buckets in every region, image repository defaults, MLflow on the primary cluster.
    registry = None
    if cfg.registry is not None:
        primary_name = cfg.primary_region.name
        primary_cluster = clusters.get(primary_name)
        eks = primary_cluster if isinstance(primary_cluster, ServingCluster) else None
        registry = ModelRegistry(
            "registry",
            ModelRegistryArgs(
                environment=cfg.environment,
                partition=cfg.partition,
                account_id=cfg.account_id,
                config=cfg.registry,
                regions=[
                    RegionStore(r.name, providers[r.name], keyrings[r.name].arn("artifacts"), keyrings[r.name].arn("images"))
                    for r in cfg.regions
                ],
                isolated_subnet_ids=networks[primary_name].subnet_ids("isolated"),
                vpc_id=networks[primary_name].vpc.id,
                vpc_cidr=networks[primary_name].args.cidr,
                database_key_arn=keyrings[primary_name].arn("database"),
                cluster_security_group_id=eks.cluster_security_group_id if eks else None,
                k8s_provider=primary_cluster.k8s_provider if primary_cluster else None,
                pod_identity_cluster=eks.name if eks else None,
                s3_endpoint_ids={r.name: networks[r.name].gateway_endpoints["s3"].id for r in cfg.regions}
                if cfg.internet_free
                else {},
                deployer_role_arn=cfg.deployer.role_arn if cfg.deployer is not None else None,
                s3_cidrs=networks[primary_name].s3_cidrs,
                workload_ready=eks.workload_ready if eks else (),
                mirror=mirror_host(cfg, primary_name),
                logs_key_arn=keyrings[primary_name].arn("logs"),
                log_retention_days=cfg.log_retention_days,
                private_zone_id=global_network.private_zone.zone_id,
                tags=tags,
            ),
            # Each resource waits only for what it uses (the database for its subnets and key, MLflow for the
            # cluster): no component-wide wait for the whole network.
            opts=pulumi.ResourceOptions(provider=providers[primary_name]),
        )

    # Identity Center permission sets and their access to the EKS clusters (not to bring-your-own clusters).
    eks_clusters = {name: c for name, c in clusters.items() if isinstance(c, ServingCluster)}
    identity = None
    if cfg.identity is not None:
        sso_region = cfg.identity.sso_region or cfg.primary_region.name
        sso_provider = providers.get(sso_region) or aws_provider(f"aws-{sso_region}", sso_region, cfg.account_id)
        identity = PlatformIdentity(
            "identity",
            PlatformIdentityArgs(
                environment=cfg.environment,
                account_id=cfg.account_id,
                partition=cfg.partition,
                regions=[r.name for r in cfg.regions],
                identity=cfg.identity,
                tags=tags,
                sso_provider=sso_provider,
                clusters=[ClusterAccessTarget(name, c.name, providers[name]) for name, c in eks_clusters.items()],
                protect=cfg.is_prod,
            ),
        )

    # The public zone of the model names and, per region with a cluster, the serving ALB the platform owns
    # (read back once its Ingress is ready: its id feeds the load-balancer alarms and the teams' records).
    dns = None
    entries: dict[str, ServingEntry] = {}
    # Team Ingresses share each region's serving ALB: the API server admits only their own hosts on it.
    for name, serving in eks_clusters.items():
        TeamIngressGuard(f"ingress-guard-{name}", cfg.environment, name, serving.k8s_provider)
    if cfg.dns is not None:
        dns = ServingDns(
            "dns",
            ServingDnsArgs(
                environment=cfg.environment,
                dns=cfg.dns,
                regions=[r.name for r in cfg.regions],
                tags=tags,
                protect=cfg.is_prod,
            ),
            opts=pulumi.ResourceOptions(provider=providers[cfg.primary_region.name]),
        )
        for name, serving in eks_clusters.items():
            entries[name] = ServingEntry(
                f"serving-{name}",
                ServingEntryArgs(
                    environment=cfg.environment,
                    region=name,
                    domain=cfg.dns.zone,
                    zone_id=dns.zone.zone_id,
                    certificate_arn=cfg.dns.certificate_arns[name],
                    aws_provider=providers[name],
                    k8s_provider=serving.k8s_provider,
                    depends_on=[serving.load_balancer_controller],
                ),
            )

    # Governance trail, alert topics and alarms, dashboard, managed Prometheus (+ collector) and Grafana.
    observability = None
    if cfg.observability is not None:
        signals = []
        for region in cfg.regions:
            serving = eks_clusters.get(region.name)
            signals.append(
                RegionSignals(
                    region=region.name,
                    provider=providers[region.name],
                    logs_key_arn=keyrings[region.name].arn("logs"),
                    cluster_name=serving.name if serving else None,
                    interruption_queue_name=serving.interruption_queue.name if serving else None,
                    load_balancer=entries[region.name].load_balancer.arn_suffix if region.name in entries else None,
                    scraper_subnet_ids=[s.id for s in networks[region.name].private_subnets] if serving else (),
                    scraper_security_group_ids=[serving.cluster_security_group_id] if serving else (),
                    kubernetes_provider=serving.k8s_provider if serving else None,
                    keda_role_name=serving.keda_role.name if serving else None,
                    nodes_ready=[serving.system_node_group, serving.addon_pod_identity_agent] if serving else (),
                    db_instance_identifier=registry.database.identifier
                    if registry is not None and region.name == cfg.primary_region.name
                    else None,
                )
            )
        roles = cfg.identity.roles if cfg.identity is not None else None
        observability = PlatformObservability(
            "observability",
            PlatformObservabilityArgs(
                environment=cfg.environment,
                account_id=cfg.account_id,
                partition=cfg.partition,
                config=cfg.observability,
                regions=signals,
                log_retention_days=cfg.log_retention_days,
                tags=tags,
                protect=cfg.is_prod,
                grafana_groups={
                    "ADMIN": [roles.platform_admin.group_id],
                    "EDITOR": [roles.ml_engineer.group_id],
                    "VIEWER": [roles.read_only.group_id],
                }
                if roles is not None
                else {},
            ),
        )

    export_contract(
        PlatformOutputs,
        identity=identity.contract_values() if identity is not None else None,
        observability=observability.contract_values() if observability is not None else None,
        dns=dns.contract_values() if dns is not None else None,
        environment=cfg.environment,
        account_id=cfg.account_id,
        partition=cfg.partition,
        primary_region=cfg.primary_region.name,
        private_zone_id=global_network.private_zone.zone_id,
        internet_free=cfg.internet_free,
        regions={
            name: {
                "vpc_id": network.vpc.id,
                "vpc_cidr": network.args.cidr,
                "subnet_ids": {
                    "public": network.subnet_ids("public"),
                    "private": network.subnet_ids("private"),
                    "isolated": network.subnet_ids("isolated"),
                },
                "endpoint_security_group_id": network.endpoint_security_group.id,
                "key_arns": {purpose: key.arn for purpose, key in keyrings[name].keys.items()},
                "transit_gateway_id": global_network.transit_gateways[name].id
                if name in global_network.transit_gateways
                else None,
                "cluster": cluster_outputs(clusters[name]) if name in clusters else None,
                "serving": entries[name].contract_values() if name in entries else None,
                "s3_cidrs": network.s3_cidrs,
            }
            for name, network in networks.items()
        },
        registry=registry_outputs(registry, cfg) if registry is not None else None,
    )


stack = pulumi.get_stack()
config = pulumi.Config("mlops")
if config.get_object("team") is not None:
    team_file = stack_file("stacks", stack)
    team_stack.build(parse_team(config.get_object("team"), team_file), str(team_file))
else:
    build_platform(parse_platform(config.get_object("platform"), stack_file("stacks", stack)))
