"""The program of a model-team stack: read the platform's outputs, then build the team's space and models.

``team_space`` and ``deploy_model`` are the parts the fixture program (tests/fixtures/team_program) builds too.

A team stack never creates platform resources. It reads the platform stack's outputs through a
``StackReference`` and validates them against the platform's outputs contract, so a renamed or missing output
is one clear error naming it. Under ``mlops preview`` the reference is answered by synthesising the platform
stack offline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import aws_provider
from components.blocks.workload import PodTrust
from components.cluster.control_plane import kubeconfig_document
from components.config import load_platform
from components.configbase import reachable_without_internet
from components.cost.budgets import team_budget
from components.data.config import DataConfig, check_data_access, declared, own_access
from components.data.team import TeamData, TeamDataArgs, plan_grants
from components.dns.records import ModelEndpointDns, ModelEndpointDnsArgs, ServingLoadBalancer, record_routing
from components.outputs import ContractError, PlatformOutputs, TrainingOutputs, artifact_bucket_arn_in
from components.serving.config import (
    CLIENT_CERTIFICATE_PORT,
    ModelSpec,
    PlatformServing,
    TeamConfig,
    check_team_on_platform,
    team_tags,
)
from components.serving.deployment import ModelDeployment, ModelDeploymentArgs
from components.serving.ingress import model_host, regional_model_host
from components.serving.mlflow_link import alias_job, linked_versions
from components.serving.monitoring import (
    ModelAlarms,
    ModelAlarmsArgs,
    TeamAlerts,
    TeamAlertsArgs,
    model_dashboard_body,
    team_dashboard_name,
    thresholds_of,
)
from components.serving.provenance import provenance_output, provenance_tags
from components.serving.team import ClusterTarget, TeamSpace, TeamSpaceArgs
from components.training.specs import LOCAL_QUEUE, QUEUE_LABEL, cluster_queue_name
from components.training.team import TeamTrainingArgs, TeamTrainingSpace
from components.trust.certificates import IssuerRef
from stacks.access import check_owner_access
from stacks.team_pipelines import build_team_pipelines
from stacks.training import check_team_training

PROJECT = "mlops-platform"


def deploy_model(
    team: TeamConfig,
    model: ModelSpec,
    target: ClusterTarget,
    space: TeamSpace,
    aws_region: pulumi.ProviderResource,
    *,
    domain: pulumi.Input[str],
    certificate: pulumi.Input[str],
    prometheus_url: pulumi.Input[str | None],
    tags: dict[str, str],
    trust: pulumi.Input[PodTrust | None] | None = None,
    issuer: pulumi.Input[IssuerRef] | None = None,
    account_id: pulumi.Input[str] | None = None,
) -> ModelDeployment:
    """One model in one region: its versions' deployments, target groups and autoscaling, named in ``domain``."""
    region = target.region
    return ModelDeployment(
        f"{team.name}-{model.name}-{region}",
        ModelDeploymentArgs(
            model=model,
            namespace=space.namespaces[region].metadata.name,
            namespace_name=team.namespace,
            team=team.name,
            service_account=space.service_accounts[region].metadata.name,
            environment=team.environment,
            artifact_bucket=pulumi.Output.from_input(target.artifact_bucket_arn).apply(bucket_name),
            labels={"team": team.name, "environment": team.environment},
            hosts=[
                pulumi.Output.concat(model_host(model.name, team.name, ""), domain),
                pulumi.Output.concat(regional_model_host(model.name, team.name, region, ""), domain),
            ],
            certificate_arn=certificate,
            # Only requests-per-second scaling queries the region's managed Prometheus.
            prometheus_url=prometheus_url if model.autoscaling.rps_target is not None else None,
            region=region,
            aws_provider=aws_region,
            vpc_id=target.vpc_id,
            vpc_cidr=target.vpc_cidr,
            tags={**tags, "model": model.name},
            trust=trust,
            # A Service certificate where the model serves TLS with it (checked against the platform's issuer).
            issuer=issuer if model.serves_tls else None,
            listen_port=CLIENT_CERTIFICATE_PORT if team.client_certificates else 443,
            canary_first_step=team.canary_steps[0],
            account_id=account_id,
        ),
        opts=pulumi.ResourceOptions(provider=target.k8s_provider, depends_on=[space]),
    )


def serve_model(
    team: TeamConfig, model, target: ClusterTarget, platform, space: TeamSpace, aws_region, tags
) -> ModelDeployment:
    """One model in one region: its deployments and ingress and, on the platform's zone, its routed name."""
    region = target.region
    if team.ingress is not None:
        domain: pulumi.Input[str] = team.ingress.domain
        certificate: pulumi.Input[str] = team.ingress.certificate_arns[region]
    else:
        domain = platform.apply(lambda p: p.dns.zone_name)
        certificate = platform.apply(lambda p: p.dns.certificate_arns[region])
    deployment = deploy_model(
        team,
        model,
        target,
        space,
        aws_region,
        domain=domain,
        certificate=certificate,
        tags=tags,
        prometheus_url=platform.apply(
            lambda p: p.observability.prometheus_query_urls.get(region) if p.observability else None
        ),
        trust=platform.apply(lambda p: pod_trust_of(p, region)),
        issuer=platform.apply(issuer_of),
        account_id=platform.apply(lambda p: p.account_id),
    )
    if team.ingress is not None:
        return deployment  # the team's own domain: its DNS is the team's
    serving = platform.apply(lambda p: p.regions[region].serving)
    ModelEndpointDns(
        f"{team.name}-{model.name}-{region}-dns",
        ModelEndpointDnsArgs(
            host=pulumi.Output.concat(model_host(model.name, team.name, ""), domain),
            region=region,
            zone_id=platform.apply(lambda p: p.dns.hosted_zone_id),
            routing=platform.apply(lambda p: record_routing(p.dns.routing, team.regions, region)),
            load_balancer=ServingLoadBalancer(
                dns_name=serving.apply(lambda s: s.load_balancer_dns_name),
                zone_id=serving.apply(lambda s: s.load_balancer_zone_id),
                arn_suffix=serving.apply(lambda s: s.load_balancer_arn_suffix),
            ),
            target_groups={version: group.arn_suffix for version, group in deployment.target_groups.items()},
            tags={**tags, "model": model.name},
            version_tags={version.name: provenance_tags(version) for version in model.versions},
        ),
        opts=pulumi.ResourceOptions(provider=aws_region),
    )
    return deployment


def monitor_models(
    team: TeamConfig,
    platform: pulumi.Output[PlatformOutputs],
    served: dict[str, dict[str, ModelDeployment]],
    providers: dict[str, aws.Provider],
    partition: str,
    account_id: pulumi.Input[str],
    tags: dict[str, str],
) -> None:
    """Per region the team's alert topic and each model's per-version alarms (components.serving.monitoring),
    and one dashboard with a section per model version."""
    sections: dict[tuple[str, str], list[tuple[str, Any, Any]]] = {}
    # The platform's serving thresholds (its observability.thresholds), as its contract exports them.
    thresholds = platform.apply(
        lambda p: thresholds_of(p.observability.alarm_thresholds if p.observability else None)
    )
    for region, deployments in served.items():
        on_region = pulumi.ResourceOptions(provider=providers[region])
        alerts = TeamAlerts(
            f"team-{team.name}-{region}-alerts",
            TeamAlertsArgs(
                environment=team.environment,
                team=team.name,
                region=region,
                partition=partition,
                account_id=account_id,
                logs_key_arn=platform.apply(lambda p, r=region: p.regions[r].key_arns["logs"]),
                subscriptions=team.owners.alerts or (),
                tags=tags,
            ),
            opts=on_region,
        )
        platform_topic = platform.apply(
            lambda p, r=region: p.observability.alert_topic_arns.get(r) if p.observability else None
        )
        load_balancer = platform.apply(lambda p, r=region: p.regions[r].serving.load_balancer_arn_suffix)
        for model in team.models:
            groups = {v: g.arn_suffix for v, g in deployments[model.name].target_groups.items()}
            ModelAlarms(
                f"{team.name}-{model.name}-{region}-alarms",
                ModelAlarmsArgs(
                    model=model,
                    environment=team.environment,
                    team=team.name,
                    region=region,
                    load_balancer=load_balancer,
                    target_groups=groups,
                    topic_arns=pulumi.Output.all(alerts.topic.arn, platform_topic).apply(
                        lambda arns: [arn for arn in arns if arn]
                    ),
                    tags={**tags, "model": model.name},
                    ready=[alerts.policy],
                    thresholds=thresholds,
                ),
                opts=on_region,
            )
            for version in model.versions:
                sections.setdefault((model.name, version.name), []).append(
                    (region, groups[version.name], load_balancer)
                )
    name = team_dashboard_name(team.environment, team.name)
    aws.cloudwatch.Dashboard(
        f"team-{team.name}-dashboard",
        aws.cloudwatch.DashboardArgs(
            dashboard_name=name,
            dashboard_body=pulumi.Output.json_dumps(
                model_dashboard_body(
                    [(m, v, regions) for (m, v), regions in sections.items()],
                    thresholds.apply(lambda t: t.period_seconds),
                )
            ),
        ),
        opts=pulumi.ResourceOptions(provider=providers[team.regions[0]]),
    )


def pod_trust_of(contract: PlatformOutputs, region: str) -> PodTrust | None:
    """The platform's CA bundle ConfigMap and the region's proxy variables for the models' pods (contract trust)."""
    trust = contract.trust
    if trust is None:
        return None
    return PodTrust(
        ca_bundle=trust.ca_bundle_config_map,
        ca_bundle_key=trust.ca_bundle_key,
        proxy_env=dict(trust.proxy_env.get(region, {})),
    )


def issuer_of(contract: PlatformOutputs) -> IssuerRef | None:
    issuer = contract.trust.issuer if contract.trust is not None else None
    if issuer is None:
        return None
    return IssuerRef(issuer.name, issuer.kind, issuer.group, issuer.duration_hours)


def link_mlflow(
    team: TeamConfig, model: ModelSpec, target: ClusterTarget, platform, deployment: ModelDeployment
) -> None:
    """For each version of ``model`` at 100% that names an MLflow model: the Job that sets that model's
    production alias (components.serving.mlflow_link), in the cluster MLflow runs on, once the version's
    Deployment and the model's weights are in place; with the CA bundle and proxy variables its region's model
    pods get."""
    for version in linked_versions(model):
        alias_job(
            f"{team.name}-{model.name}-{version.name}-mlflow-alias",
            namespace=team.namespace,
            model=model.name,
            version=version,
            mlflow_url=platform.apply(lambda p: p.registry.mlflow_service_url),
            image=platform.apply(lambda p: p.registry.mlflow_image),
            labels={"team": team.name, "environment": team.environment},
            opts=pulumi.ResourceOptions(
                provider=target.k8s_provider,
                depends_on=[deployment.deployments[version.name], deployment.ingress],
            ),
            trust=platform.apply(lambda p: pod_trust_of(p, target.region)),
        )


def bucket_name(arn: str) -> str:
    """`arn:aws:s3:::name` -> `name`."""
    return arn.rsplit(":", 1)[-1]


def write_bucket_of(contract: PlatformOutputs, team: TeamConfig) -> str | None:
    """The bucket the team's read-write prefixes are written to: the primary's, when the team serves there."""
    assert contract.registry is not None
    return contract.registry.artifact_bucket_arn if contract.primary_region in team.regions else None


def platform_reference_name(platform_stack: str) -> str:
    """`prod` -> `organization/mlops-platform/prod`; a fully qualified name is used as it is."""
    return platform_stack if "/" in platform_stack else f"organization/{PROJECT}/{platform_stack}"


def validate_platform_outputs(
    outputs: dict[str, Any], platform_stack: str, team: TeamConfig, file: str | None = None
) -> PlatformOutputs:
    """The platform's outputs as the contract model; a missing or renamed output names itself, and what the
    team's models need from it (host names, certificates, managed Prometheus) is a config error if absent."""
    from pydantic import ValidationError

    try:
        contract = PlatformOutputs.model_validate(outputs)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path = ".".join(str(part) for part in error["loc"])
        problem = "missing" if error["type"] == "missing" else error["msg"]
        raise ContractError(
            f"platform stack {platform_stack!r}: output {path}: {problem} (the team stack needs the platform's "
            "outputs contract; re-deploy the platform stack or check its name)"
        ) from None
    if contract.environment != team.environment:
        raise ContractError(
            f"platform stack {platform_stack!r} is environment {contract.environment!r}, "
            f"the team stack is {team.environment!r}"
        )
    if contract.registry is None:
        raise ContractError(
            f"platform stack {platform_stack!r} has no model registry (its `registry:` section)"
        )
    if team.budget is not None and contract.observability is None:
        raise ContractError(
            f"platform stack {platform_stack!r} has no alert topic (its `observability:` section), which "
            "mlops:team.budget notifies; add observability to the platform stack, or remove budget"
        )
    if contract.internet_free:
        for model in team.models:
            for version in model.versions:
                if not reachable_without_internet(
                    version.image, contract.account_id, list(contract.regions), through_mirror=False
                ):
                    raise ContractError(
                        f"platform stack {platform_stack!r} is internet-free: model {model.name} version "
                        f"{version.name} image {version.image!r} is unreachable from its clusters; allowed: the "
                        f"account's ECR ({contract.account_id}.dkr.ecr.<region>.amazonaws.com/models/...)"
                    )
    for region in team.regions:
        if region not in contract.regions or contract.regions[region].cluster is None:
            raise ContractError(
                f"platform stack {platform_stack!r} has no serving cluster in {region}; "
                f"regions with clusters: {', '.join(sorted(r for r, v in contract.regions.items() if v.cluster))}"
            )
        if not contract.regions[region].s3_cidrs:
            raise ContractError(
                f"platform stack {platform_stack!r}: output regions.{region}.s3Cidrs: missing or empty (the S3 "
                "prefix list models reach their artifacts at); re-deploy the platform stack"
            )
        artifact_bucket_arn_in(contract, region)  # each region reads its own bucket
    writes = sorted(access.prefix for access in team.data_access if access.access == "read-write")
    if writes and contract.primary_region not in team.regions:
        raise ContractError(
            f"mlops:team.data-access: read-write prefixes {', '.join(writes)} are written in the platform's primary "
            f"region {contract.primary_region} (other regions hold read-only replicas), which is not in "
            f"mlops:team.regions; allowed: add {contract.primary_region} to regions, or access: read"
        )
    check_team_on_platform(team, file, serving_of(contract, platform_stack))
    check_data_access(
        team.name,
        data_entries(team),
        list(team.lake_formation),
        file,
        {prefix: loc.access for prefix, loc in contract.data.locations.items()} if contract.data else None,
        contract.data.lake_formation if contract.data else False,
        platform_stack,
    )
    check_mlflow_links(team, contract, platform_stack)
    if team.ingress is None:
        for region in team.regions:
            if contract.regions[region].serving is None:
                raise ContractError(
                    f"platform stack {platform_stack!r} has no serving load balancer in {region} "
                    "(output regions.<region>.serving); re-deploy the platform stack"
                )
    return contract


def data_entries(team: TeamConfig) -> list[tuple[str, str]]:
    return [(access.prefix, access.access) for access in team.data_access]


def platform_data_config(team: TeamConfig, file: str | None) -> DataConfig | None:
    """The `data` section of the platform stack the team builds on, read from its stack file beside the team's
    (the same file `mlops team validate` reads); None without one."""
    if file is None or not Path(file).is_file():
        return None
    stacks_dir, stack = Path(file).parent, team.platform_stack.rsplit("/", 1)[-1]
    if not (stacks_dir / f"Pulumi.{stack}.yaml").is_file():
        return None
    platform_cfg = load_platform(stacks_dir, stack)
    return platform_cfg.data if platform_cfg.registry is not None else None


def team_data(
    team: TeamConfig,
    data: DataConfig,
    primary_region: str,
    space: TeamSpace,
    platform: pulumi.Output[PlatformOutputs],
    providers: dict,
) -> TeamData:
    """The team's data access on a platform with a `data` section (components.data.team)."""

    def contract(p: PlatformOutputs):
        if p.data is None:
            raise ContractError(
                f"platform stack {team.platform_stack!r}: output data: missing, while its stack file has a data "
                "section; re-deploy the platform stack"
            )
        return p.data

    outputs = platform.apply(contract)
    access = own_access(team.name, data_entries(team))
    plans = plan_grants(team.name, data_entries(team), list(declared(data)), team.regions, primary_region)
    return TeamData(
        f"team-{team.name}-data",
        TeamDataArgs(
            team=team.name,
            role_name=space.role.name,
            role_arn=space.role.arn,
            own_policy_arn=outputs.apply(lambda d: d.policy_arns[access]) if access else None,
            instance_arns=[
                outputs.apply(lambda d, r=r: d.access_grants_instance_arns[r]) for r in team.regions
            ],
            grants=plans,
            location_ids={
                (plan.region, plan.location): outputs.apply(
                    lambda d, p=plan: d.locations[p.location].location_ids[p.region]
                )
                for plan in plans
            },
            providers=providers,
            lake_formation=list(team.lake_formation),
            tags=team_tags(team),
        ),
        opts=pulumi.ResourceOptions(depends_on=[space]),
    )


def check_mlflow_links(team: TeamConfig, contract: PlatformOutputs, platform_stack: str) -> None:
    """A version naming an MLflow model needs the platform's MLflow (its Service and image in the contract) and
    the team's first region to be the platform's primary region, whose cluster MLflow runs on (the alias Job
    is created in the team's first region: which region is primary is known only from the outputs)."""
    linked = [
        f"{model.name}/{version.name}"
        for model in team.models
        for version in model.versions
        if version.mlflow
    ]
    if not linked:
        return
    assert contract.registry is not None
    for key, value in (
        ("mlflowServiceUrl", contract.registry.mlflow_service_url),
        ("mlflowImage", contract.registry.mlflow_image),
    ):
        if not value:
            raise ContractError(
                f"platform stack {platform_stack!r}: output registry.{key}: missing (versions {', '.join(linked)} "
                "name an MLflow model, whose alias is set through the platform's MLflow); re-deploy the platform "
                "stack with a cluster in its primary region, or remove mlflow from those versions"
            )
    if team.regions[0] != contract.primary_region:
        raise ContractError(
            f"mlops:team.regions: versions {', '.join(linked)} name an MLflow model, and MLflow runs in the "
            f"platform's primary region {contract.primary_region}, not the first region {team.regions[0]}; "
            f"allowed: list {contract.primary_region} first in regions, or remove mlflow from those versions"
        )


def serving_of(contract: PlatformOutputs, platform_stack: str) -> PlatformServing:
    """What the platform's outputs offer the team's models (the live view of components.serving.config.platform_serving)."""
    return PlatformServing(
        stack=platform_stack,
        zone=contract.dns.zone_name if contract.dns is not None else None,
        certificate_arns=dict(contract.dns.certificate_arns) if contract.dns is not None else {},
        prometheus_regions=tuple(contract.observability.prometheus_query_urls)
        if contract.observability
        else (),
        serving_regions=tuple(
            region for region, outputs in contract.regions.items() if outputs.serving is not None
        ),
        account_id=contract.account_id,
        allowed_licenses=tuple(contract.allowed_licenses) if contract.allowed_licenses is not None else None,
        client_certificate_port=contract.trust.client_certificate_port
        if contract.trust is not None
        else None,
        service_certificates=contract.trust is not None and contract.trust.issuer is not None,
    )


def training_of(contract: PlatformOutputs, team: TeamConfig, platform_stack: str) -> TrainingOutputs:
    """The platform's training outputs for a team with a training section: training runs in the team's first
    region (its namespace and provider are there) and the team names only the platform's pools."""
    training = contract.training
    assert team.training is not None
    if training is None:
        raise ContractError(
            f"platform stack {platform_stack!r} has no training side (its `training:` section)"
        )
    if training.region != team.regions[0]:
        raise ContractError(
            f"mlops:team.regions: training runs in {training.region} on platform stack {platform_stack!r}; "
            f"allowed: {training.region} as the team's first region"
        )
    for index, quota in enumerate(team.training.pools):
        if quota.name not in training.pools:
            raise ContractError(
                f"mlops:team.training.pools[{index}].name: {quota.name!r} is not a training pool of platform stack "
                f"{platform_stack!r}; allowed: {', '.join(training.pools)}"
            )
    return training


def training_space(team: TeamConfig, platform, target: ClusterTarget, space: TeamSpace) -> None:
    """The team's queues and notebook access on the platform's training cluster (the team's first region), when
    the team has a training section. Exports the LocalQueue: training workloads (jobs, workflow pods) name it in
    their ``kueue.x-k8s.io/queue-name`` label."""
    if team.training is None:
        return
    spec = team.training
    training = platform.apply(lambda p: training_of(p, team, team.platform_stack))
    TeamTrainingSpace(
        f"team-{team.name}-training",
        TeamTrainingArgs(
            team=team.name,
            namespace=team.namespace,
            training=spec,
            cohort=training.apply(lambda t: t.cohort),
            pools=training.apply(lambda t: {name: pool.model_dump() for name, pool in t.pools.items()}),
            hub_namespace=training.apply(lambda t: t.hub_namespace),
            k8s_provider=target.k8s_provider,
            after=[space.namespaces[target.region]],
            labels={
                "team": team.name,
                "environment": team.environment,
                "app.kubernetes.io/managed-by": "pulumi",
            },
        ),
    )
    pulumi.export(
        "training",
        {
            "namespace": team.namespace,
            "localQueue": LOCAL_QUEUE,
            "clusterQueue": cluster_queue_name(team.name),
            "queueLabel": QUEUE_LABEL,
        },
    )


def team_space(
    team: TeamConfig,
    partition: str,
    account_id: pulumi.Input[str],
    targets: list[ClusterTarget],
    *,
    repository_provider: pulumi.ProviderResource,
    write_bucket_arn: pulumi.Input[str | None],
    images_key_arn: pulumi.Input[str],
    artifacts_key_arns: list[pulumi.Input[str]],
    ingress_domain: pulumi.Input[str | None],
    tags: dict[str, str],
    permissions_boundary: pulumi.Input[str | None] | None = None,
    data_through_platform: bool = False,
) -> TeamSpace:
    """The team's namespace, role, repositories and network policies in every cluster it serves in."""
    return TeamSpace(
        f"team-{team.name}",
        TeamSpaceArgs(
            team=team,
            partition=partition,
            account_id=account_id,
            write_bucket_arn=write_bucket_arn,
            images_key_arn=images_key_arn,
            artifacts_key_arns=artifacts_key_arns,
            clusters=targets,
            repository_aws_provider=repository_provider,
            tags=tags,
            ingress_domain=ingress_domain,
            permissions_boundary=permissions_boundary,
            data_through_platform=data_through_platform,
        ),
    )


def build(team: TeamConfig, file: str | None = None) -> None:
    if file is not None and Path(file).is_file():
        # The owners' access entry must not collide with one the platform or another team owns (the stack
        # files beside this one); refused before any resource exists.
        check_owner_access(team, file, Path(file).parent)
        # The team's training quota against its platform's pools and the other teams' quotas on them.
        for line in check_team_training(team, file, Path(file).parent):
            pulumi.log.info(f"training quota: {line}")
    reference = pulumi.StackReference("platform", stack_name=platform_reference_name(team.platform_stack))
    platform = reference.outputs.apply(
        lambda outputs: validate_platform_outputs(outputs, team.platform_stack, team, file)
    )
    account_id = platform.apply(lambda p: p.account_id)
    partition = team.owners.role_arn.split(":")[1]  # the partition the team's principals live in
    tags = team_tags(team)

    targets: list[ClusterTarget] = []
    providers: dict[str, aws.Provider] = {}
    for region in team.regions:
        region_outputs = platform.apply(lambda p, r=region: p.regions[r])
        cluster = region_outputs.apply(lambda r: r.cluster)
        providers[region] = aws_provider(f"aws-{region}", region, account_id)
        kubeconfig = cluster.apply(
            lambda c, r=region: json.dumps(
                kubeconfig_document(c.name, c.endpoint, c.certificate_authority, r)
            )
        )
        k8s_provider = k8s.Provider(
            f"k8s-{region}", k8s.ProviderArgs(kubeconfig=kubeconfig, enable_server_side_apply=True)
        )
        targets.append(
            ClusterTarget(
                region=region,
                cluster_name=cluster.apply(lambda c: c.name),
                vpc_id=region_outputs.apply(lambda r: r.vpc_id),
                vpc_cidr=region_outputs.apply(lambda r: r.vpc_cidr),
                s3_cidrs=region_outputs.apply(lambda r: r.s3_cidrs),
                aws_provider=providers[region],
                k8s_provider=k8s_provider,
                artifact_bucket_arn=platform.apply(lambda p, r=region: artifact_bucket_arn_in(p, r)),
            )
        )

    data = platform_data_config(team, file)
    space = team_space(
        team,
        partition,
        account_id,
        targets,
        repository_provider=providers[team.regions[0]],
        tags=tags,
        write_bucket_arn=platform.apply(lambda p: write_bucket_of(p, team)),
        images_key_arn=platform.apply(lambda p, r=team.regions[0]: p.regions[r].key_arns["images"]),
        artifacts_key_arns=[
            platform.apply(lambda p, r=region: p.regions[r].key_arns["artifacts"]) for region in team.regions
        ],
        ingress_domain=team.ingress.domain
        if team.ingress is not None
        else platform.apply(lambda p: p.dns.zone_name if p.dns is not None else None),
        permissions_boundary=platform.apply(
            lambda p: p.identity.permissions_boundary_arn if p.identity is not None else None
        ),
        data_through_platform=data is not None,
    )
    if data is not None:
        primary = load_platform(Path(file).parent, team.platform_stack.rsplit("/", 1)[-1]).primary_region.name
        team_data(team, data, primary, space, platform, providers)
    served: dict[str, dict[str, ModelDeployment]] = {}
    # MLflow runs on the platform's primary cluster: the team's first region (validate_platform_outputs).
    mlflow_region = team.regions[0]
    for target in targets:
        for model in team.models:
            deployment = serve_model(team, model, target, platform, space, providers[target.region], tags)
            served.setdefault(target.region, {})[model.name] = deployment
            if target.region == mlflow_region:
                link_mlflow(team, model, target, platform, deployment)
    if team.ingress is None:  # the platform's serving ALB, whose metrics the per-model alarms read
        monitor_models(team, platform, served, providers, partition, account_id, tags)
    build_team_pipelines(
        team,
        platform,
        targets,
        space,
        partition=partition,
        account_id=account_id,
        tags=tags,
        data_through_platform=data is not None,
    )
    if team.budget is not None:
        # Budgets is a global service: any of the team's providers reaches it; notifications go to the platform's
        # alert topic (the primary region's), whose policy and key let AWS Budgets publish.
        team_budget(
            f"{team.name}-budget",
            team=team.name,
            environment=team.environment,
            budget=team.budget,
            account_id=account_id,
            topic_arn=platform.apply(lambda p: p.observability.alert_topic_arn),
            tags=tags,
            opts=pulumi.ResourceOptions(provider=providers[team.regions[0]]),
        )
    training_space(team, platform, targets[0], space)
    pulumi.export("environment", team.environment)
    pulumi.export("team", team.name)
    pulumi.export("namespace", team.namespace)
    pulumi.export("roleArn", space.role.arn)
    pulumi.export("repositories", {name: repo.repository_url for name, repo in space.repositories.items()})
    pulumi.export(
        "models",
        {model.name: {version.name: version.weight for version in model.versions} for model in team.models},
    )
    # Per model version: where it came from, under which licence, from which run (components.serving.provenance).
    pulumi.export(
        "provenance",
        {
            model.name: {version.name: provenance_output(version) for version in model.versions}
            for model in team.models
        },
    )
