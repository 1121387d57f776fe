"""Model serving: one Deployment per model version, weighted traffic between them, autoscaling, disruption budget.

Each version runs as its own Deployment and Service so that versions scale and roll independently. A stable
Service selects every version; the weighted split is an internal ALB Ingress whose forward action carries one
target group per version with its weight (the AWS Load Balancer Controller's weighted target groups), so a
90/10 canary is a config change. Scaling is an autoscaling/v2 HPA on CPU, or a KEDA ScaledObject for
requests-per-second (Prometheus) or any other KEDA trigger, which can also scale to zero outside prod.

The target groups are Pulumi's, not the controller's: one ``aws.lb.TargetGroup`` per version (IP targets,
health-checked on the model's readiness path) and a ``TargetGroupBinding`` (elbv2.k8s.aws/v1beta1) through
which the controller registers the version Service's pods in it; the Ingress's forward action names them by
``targetGroupARN``. So every id the stack needs (alarms, health checks) is known from the stack itself, on the
first deployment as on an update that adds a version, nothing is looked up, and destroy removes the Ingress and
the bindings before the target groups they use.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks.workload import ContainerSpec, PodTrust, hardened_container, hardened_pod_spec
from components.cluster.naming import KEDA_AWS_AUTHENTICATION
from components.serving.config import ModelSpec, ModelVersion
from components.serving.ingress import SERVING_GROUP, internal_alb_annotations, serving_load_balancer_name
from components.serving.provenance import (
    pod_annotations,
    provenance_annotations,
    provenance_tags,
    version_labels,
)
from components.trust.certificates import IssuerRef, service_certificate, tls_secret_name

KEDA_API = "keda.sh/v1alpha1"
NO_METRICS_ACTION = "no-metrics"
METRICS_NOT_FOUND = {
    "type": "fixed-response",
    "fixedResponseConfig": {"contentType": "text/plain", "statusCode": "404", "messageBody": "not found"},
}
LBC_API = "elbv2.k8s.aws/v1beta1"  # TargetGroupBinding, aws-load-balancer-controller v2.13.2


def weighted_forward_action(model: ModelSpec, target_group_arns: dict[str, str]) -> dict:
    """The ALB controller's forward action with one weighted target group per version (weights sum to 100),
    each named by the ARN of the version's own target group (annotations.md of aws-load-balancer-controller
    v2.13.2, "actions": `forwardConfig.targetGroups[].targetGroupARN`)."""
    return {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                {"targetGroupARN": target_group_arns[version.name], "weight": version.weight}
                for version in model.versions
            ],
            "targetGroupStickinessConfig": {"enabled": False},
        },
    }


def target_group_name(
    team: str, model: str, version: str, port: int, vpc_id: str, protocol: str = "HTTP"
) -> str:
    """A target group name: unique per region and account, at most 32 characters of letters, digits and
    hyphens, not starting or ending with a hyphen (ELB API Reference, CreateTargetGroup `Name`). The digest
    covers what replaces a target group (port, VPC, protocol), so a replacement is created under a new name
    before the old one is deleted (HTTP, the first protocol, adds nothing: existing names stay)."""
    stem = f"{team}-{model}-{version}"[:23].strip("-")
    parts = (team, model, version, str(port), vpc_id, *((protocol,) if protocol != "HTTP" else ()))
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def target_group_binding_spec(
    service: str, port: int, target_group_arn: str, vpc_id: str, vpc_cidr: str
) -> dict:
    """The TargetGroupBinding that registers ``service``'s pods (IP targets) in a target group Pulumi owns.

    ``networking`` makes the controller open the pods' security group to the load balancer on the model's
    port: without it the controller manages no rule for the binding (aws-load-balancer-controller v2.13.2
    pkg/targetgroupbinding/networking_manager.go). The ALB's nodes sit in the VPC's subnets, so the peer is
    the VPC CIDR, which the namespace's NetworkPolicy admits on the same port.
    """
    return {
        "serviceRef": {"name": service, "port": port},
        "targetGroupARN": target_group_arn,
        "targetType": "ip",
        "vpcID": vpc_id,
        "networking": {
            "ingress": [
                {"from": [{"ipBlock": {"cidr": vpc_cidr}}], "ports": [{"port": port, "protocol": "TCP"}]}
            ]
        },
    }


def version_service(model: ModelSpec, version: str) -> str:
    return f"{model.name}-{version}"


def scrape_annotations(model: ModelSpec) -> dict[str, str]:
    """What the managed collector's pod job keeps (components/observability.py scrape_configuration): the
    model server publishes `http_requests_total` on /metrics of its port."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(model.port),
        "prometheus.io/path": "/metrics",
    }


def rps_trigger(namespace: str, model: str, version: str, threshold: int, server: str, region: str) -> dict:
    """A KEDA prometheus trigger on the region's managed Prometheus workspace, signed with SigV4 by KEDA's
    `aws` pod identity (the ClusterTriggerAuthentication the serving cluster creates)."""
    return {
        "type": "prometheus",
        "metadata": {
            "serverAddress": server,
            "query": rps_query(namespace, model, version),
            "threshold": str(threshold),
            "awsRegion": region,
            # An empty result is a scaler error, not zero requests: the query answers 0 itself while the
            # version's pods are scraped (rps_query), so empty means the metrics pipeline is broken, and the
            # ScaledObject's fallback holds the replicas (KEDA v2.17.1 pkg/scalers/prometheus_scaler.go: with
            # ignoreNullValues true an empty result would read as 0 and scale the model down).
            "ignoreNullValues": "false",
        },
        "authenticationRef": {"name": KEDA_AWS_AUTHENTICATION, "kind": "ClusterTriggerAuthentication"},
    }


def rps_query(namespace: str, model: str, version: str) -> str:
    """Requests per second of one version, as the managed Prometheus sees them (labels set by the collector).

    A pod publishes `http_requests_total` once it served a request; until then the version's `up` series (one
    per scraped pod, written by the collector for every target) makes the answer 0. No `up` either means
    nothing is scraped, and the result is empty: a scaler error, not zero load.
    """
    selector = f'namespace="{namespace}",app="{model}",version="{version}"'
    return f"sum(rate(http_requests_total{{{selector}}}[2m])) or (0 * sum(up{{{selector}}}))"


# A broken metrics pipeline freezes the replica count instead of scaling on a missing value: after 3 failed
# polls KEDA reports the fallback (ScaledObject condition Fallback, events) and keeps the current replicas,
# never fewer than min-replicas (KEDA v2.17.1 pkg/fallback/fallback.go, behavior currentReplicasIfHigher; only
# for AverageValue metrics, the prometheus scaler's default).
FALLBACK_FAILURES = 3


@dataclass(frozen=True)
class ModelDeploymentArgs:
    model: ModelSpec
    namespace: pulumi.Input[str]
    namespace_name: str
    team: str
    service_account: pulumi.Input[str]
    environment: str  # names the serving ALB (mlops-<env>-serving)
    # The region's artifact bucket (its name), handed to the model as ARTIFACT_BUCKET with AWS_REGION: the only
    # bucket its pods reach (their region's S3 through the gateway endpoint).
    artifact_bucket: pulumi.Input[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    # Where the model answers (components.serving.ingress.model_host and regional_model_host) and the region's
    # certificate covering those names; the serving ALB's name follows the environment.
    hosts: Sequence[pulumi.Input[str]] = ()
    certificate_arn: pulumi.Input[str] | None = None
    # The region's managed Prometheus query root and region (contract: observability.prometheusQueryUrls);
    # required by requests-per-second autoscaling.
    prometheus_url: pulumi.Input[str] | None = None
    region: str | None = None
    # The region's AWS provider and VPC (contract: regions.<region>.vpcId / vpcCidr): the versions' target groups.
    aws_provider: pulumi.ProviderResource | None = None
    vpc_id: pulumi.Input[str] = ""
    vpc_cidr: pulumi.Input[str] = ""
    tags: dict[str, str] = field(default_factory=dict)
    # Private networking (the platform contract's `trust`): the CA bundle and proxy in the pods, a certificate per
    # version's Service from the issuer, and the serving ALB listener the model's rules go on (443, or the
    # client-certificate listener for a team that requires client certificates).
    trust: PodTrust | pulumi.Output[PodTrust | None] | None = None
    issuer: IssuerRef | pulumi.Output[IssuerRef] | None = None
    listen_port: int = 443

    # The team's first canary step and the account whose ECR holds its images: the release annotations the
    # policy pack reads (policies/release.py).
    canary_first_step: int = 10
    account_id: pulumi.Input[str] | None = None


def release_annotations(
    args: ModelDeploymentArgs, version: ModelVersion, first: bool
) -> dict[str, pulumi.Input[str]]:
    """What the policy pack needs to know of a version's release (policies/release.py reads these keys)."""
    annotations: dict[str, pulumi.Input[str]] = {
        # The names the policy looks up in the base revision's traffic (model -> version -> weight).
        "mlops.platform/model": args.model.name,
        "mlops.platform/version": version.name,
        "mlops.platform/traffic-weight": str(version.weight),
        "mlops.platform/canary-first-step": str(args.canary_first_step),
        "mlops.platform/version-position": "first" if first else "later",
    }
    if args.account_id is not None:
        annotations["mlops.platform/image-account"] = args.account_id
    if version.stepped_from is not None:
        annotations["mlops.platform/stepped-from"] = str(version.stepped_from)
    if version.canary_override is not None:
        annotations["mlops.platform/canary-override"] = version.canary_override
    return annotations


class ModelDeployment(pulumi.ComponentResource):
    """Serves one model: Deployments, Services, weighted routing, autoscaling and a disruption budget."""

    deployments: dict[str, k8s.apps.v1.Deployment]
    services: dict[str, k8s.core.v1.Service]
    stable_service: k8s.core.v1.Service
    target_groups: dict[str, aws.lb.TargetGroup]
    bindings: dict[str, pulumi.CustomResource]
    ingress: k8s.networking.v1.Ingress
    scalers: dict[str, pulumi.CustomResource]
    disruption_budget: k8s.policy.v1.PodDisruptionBudget

    def __init__(self, name: str, args: ModelDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:serving:ModelDeployment", name, None, opts)
        model = args.model
        base_labels = {
            **args.labels,
            "app.kubernetes.io/name": model.name,
            "app": model.name,
            "team": args.team,
        }
        self.deployments, self.services, self.scalers = {}, {}, {}
        self.target_groups, self.bindings = {}, {}
        for version in model.versions:
            self._serve_version(name, args, version, base_labels)

        self.stable_service = k8s.core.v1.Service(
            f"{name}-stable",
            k8s.core.v1.ServiceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=model.name, namespace=args.namespace, labels=base_labels
                ),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    selector={"app": model.name},
                    ports=[k8s.core.v1.ServicePortArgs(name="http", port=model.port, target_port="http")],
                ),
            ),
            opts=child_opts(self),
        )
        self.ingress = model_route(self, name, args, base_labels)
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            k8s.policy.v1.PodDisruptionBudgetInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=model.name, namespace=args.namespace, labels=base_labels
                ),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app": model.name}),
                ),
            ),
            opts=child_opts(self),
        )
        self.register_outputs(
            {
                "deployments": {key: dep.metadata.name for key, dep in self.deployments.items()},
                "weights": {version.name: version.weight for version in model.versions},
                "service": self.stable_service.metadata.name,
            }
        )

    def _serve_version(
        self, name: str, args: ModelDeploymentArgs, version: ModelVersion, base_labels: dict[str, str]
    ) -> None:
        """One version: its Deployment and Service, its autoscaler, and its target group with the binding."""
        model = args.model
        # The recommended labels and the version's provenance go on the objects and the pods, never into the
        # selector (a Deployment's selector is immutable: a change would replace it); notes and run stay on the
        # Deployment (a pod template change rolls the pods).
        labels = {
            **base_labels,
            "version": version.name,
            **version_labels(args.namespace_name, model.name, version.name),
        }
        annotations = provenance_annotations(version)
        selector = {"app": model.name, "version": version.name}
        service = version_service(model, version.name)
        certificate = None
        if args.issuer is not None:
            certificate = service_certificate(
                self,
                f"{name}-{version.name}-cert",
                service=service,
                namespace=args.namespace,
                namespace_name=args.namespace_name,
                issuer=args.issuer,
                labels=labels,
            )

        def pod_spec(
            trust: PodTrust | None, account: pulumi.Input[str], env: dict[str, pulumi.Input[str]]
        ) -> k8s.core.v1.PodSpecArgs:
            if certificate is not None:
                trust = replace(
                    trust or PodTrust(), tls_secret=tls_secret_name(service), serves_tls=model.serves_tls
                )
            container = hardened_container(
                ContainerSpec(
                    name="model",
                    image=version.image,
                    port=model.port,
                    health_path=model.health_path,
                    cpu=model.resources.cpu,
                    memory=model.resources.memory,
                    gpus=model.resources.gpus,
                    env=env,
                ),
                trust,
            )
            return hardened_pod_spec(
                [container],
                account,
                gpu=model.resources.gpus > 0,
                spread_labels=selector,
                trust=trust,
            )

        env = {"MODEL_NAME": model.name, "MODEL_VERSION": version.name, **artifact_env(args)}
        if isinstance(args.trust, pulumi.Output):
            # The platform's trust comes from its contract in a team stack: every Output the pod spec holds is
            # resolved in one step, so the callback returns plain values (and no Output's dependencies leak).
            spec: pulumi.Input[k8s.core.v1.PodSpecArgs] = pulumi.Output.all(
                args.trust, args.service_account, pulumi.Output.all(**env)
            ).apply(lambda values: pod_spec(*values))
        else:
            spec = pod_spec(args.trust, args.service_account, env)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-{version.name}",
            k8s.apps.v1.DeploymentInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=version_service(model, version.name),
                    namespace=args.namespace,
                    labels=labels,
                    annotations={
                        **annotations,
                        **release_annotations(args, version, version is model.versions[0]),
                    },
                ),
                spec=k8s.apps.v1.DeploymentSpecArgs(
                    replicas=max(model.autoscaling.min_replicas, 1),
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                    strategy=k8s.apps.v1.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(
                            max_surge="25%", max_unavailable=0
                        ),
                    ),
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            labels=labels,
                            annotations={
                                **pod_annotations(version),
                                **(scrape_annotations(model) if model.autoscaling.rps_target else {}),
                            }
                            or None,
                        ),
                        spec=spec,
                    ),
                ),
            ),
            # The autoscaler owns the replica count once the Deployment exists; the pods mount the certificate's
            # Secret, so the Certificate comes first.
            opts=child_opts(
                self, ignore_changes=["spec.replicas"], depends_on=[certificate] if certificate else None
            ),
        )
        self.deployments[version.name] = deployment
        self.services[version.name] = k8s.core.v1.Service(
            f"{name}-{version.name}-svc",
            k8s.core.v1.ServiceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=version_service(model, version.name), namespace=args.namespace, labels=labels
                ),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    selector=selector,
                    ports=[k8s.core.v1.ServicePortArgs(name="http", port=model.port, target_port="http")],
                ),
            ),
            opts=child_opts(self),
        )
        self.scalers[version.name] = version_scaler(self, name, args, version.name, deployment)
        version_target_group(self, name, args, version, labels)


def artifact_env(args: ModelDeploymentArgs) -> dict[str, pulumi.Input[str]]:
    """Where the model reads its artifacts: the region's bucket, and the region an S3 client must sign for."""
    if args.artifact_bucket is None:
        return {}
    return {"ARTIFACT_BUCKET": args.artifact_bucket, **({"AWS_REGION": args.region} if args.region else {})}


def model_route(
    owner: ModelDeployment, name: str, args: ModelDeploymentArgs, base_labels: dict[str, str]
) -> k8s.networking.v1.Ingress:
    """The model's rules on the shared serving ALB: its hosts, HTTPS only, split between the versions by weight."""
    model = args.model
    action = "weighted"
    if not args.certificate_arn or not args.hosts:
        raise ValueError(f"model {model.name}: an HTTPS-only ingress needs host names and a certificate")
    # The serving group's load balancer settings (components/serving/ingress.py) and the weighted split between the
    # versions' target groups (health-checked by the target groups themselves).
    names = [version.name for version in model.versions]
    annotations = {
        **internal_alb_annotations(
            certificate_arn=args.certificate_arn,
            health_path=None,
            load_balancer_name=serving_load_balancer_name(args.environment),
            group=SERVING_GROUP,
            listen_port=args.listen_port,
        ),
        # The pods' metrics are for the collector inside the VPC, not for clients of the load balancer.
        f"alb.ingress.kubernetes.io/actions.{NO_METRICS_ACTION}": json.dumps(
            METRICS_NOT_FOUND, sort_keys=True
        ),
        f"alb.ingress.kubernetes.io/actions.{action}": pulumi.Output.all(
            *[owner.target_groups[v].arn for v in names]
        ).apply(
            lambda arns: json.dumps(
                weighted_forward_action(model, dict(zip(names, arns, strict=True))), sort_keys=True
            )
        ),
    }
    # The controller orders an Ingress's Prefix paths longest first (aws-load-balancer-controller v2.13.2
    # pkg/ingress/model_build_listener_rules.go sortIngressPaths), so /metrics is matched before /.
    route = k8s.networking.v1.HTTPIngressRuleValueArgs(
        paths=[
            k8s.networking.v1.HTTPIngressPathArgs(
                path=path,
                path_type="Prefix",
                backend=k8s.networking.v1.IngressBackendArgs(
                    service=k8s.networking.v1.IngressServiceBackendArgs(
                        name=target,
                        port=k8s.networking.v1.ServiceBackendPortArgs(name="use-annotation"),
                    )
                ),
            )
            for path, target in (("/metrics", NO_METRICS_ACTION), ("/", action))
        ]
    )
    return k8s.networking.v1.Ingress(
        f"{name}-route",
        k8s.networking.v1.IngressInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=model.name, namespace=args.namespace, labels=base_labels, annotations=annotations
            ),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name="alb",
                rules=[k8s.networking.v1.IngressRuleArgs(host=host, http=route) for host in args.hosts],
            ),
        ),
        # Traffic goes to a version once its binding registers the pods; on destroy the Ingress (and the
        # controller's listener rules) goes before the bindings and target groups.
        opts=child_opts(owner, depends_on=[*owner.services.values(), *owner.bindings.values()]),
    )


def version_target_group(
    owner: ModelDeployment, name: str, args: ModelDeploymentArgs, spec: ModelVersion, labels: dict[str, str]
) -> None:
    """The version's target group (Pulumi's), tagged with the version's provenance, and the binding that puts
    the version's pods in it."""
    model, version = args.model, spec.name
    if args.aws_provider is None:
        raise ValueError(f"model {model.name}: its target groups need the region's AWS provider")
    service = version_service(model, version)
    # A model that serves TLS is reached over HTTPS; the ALB does not validate a target's certificate (ELB User
    # Guide, "Target groups for your Application Load Balancers", routing configuration), so the traffic is
    # encrypted to the pod and the certificate is the pod's proof of identity to in-cluster clients.
    protocol = "HTTPS" if model.serves_tls else "HTTP"
    group = aws.lb.TargetGroup(
        f"{name}-{version}-tg",
        aws.lb.TargetGroupArgs(
            name=pulumi.Output.from_input(args.vpc_id).apply(
                lambda vpc: target_group_name(args.team, model.name, version, model.port, vpc, protocol)
            ),
            port=model.port,
            protocol=protocol,
            protocol_version="HTTP1",
            target_type="ip",
            vpc_id=args.vpc_id,
            # The model's readiness path: the ALB sends traffic only to pods the kubelet also finds ready.
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol=protocol,
                port="traffic-port",
                path=model.health_path,
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=2,
            ),
            tags={
                **args.tags,
                "Name": f"{args.namespace_name}/{service}",
                "model": model.name,
                "version": version,
                **provenance_tags(spec),
            },
        ),
        opts=child_opts(owner, provider=args.aws_provider),
    )
    owner.target_groups[version] = group
    owner.bindings[version] = k8s.apiextensions.CustomResource(
        f"{name}-{version}-tgb",
        api_version=LBC_API,
        kind="TargetGroupBinding",
        # Named as its target group: spec.targetGroupARN and spec.vpcID are immutable (the controller's
        # webhook, webhooks/elbv2/targetgroupbinding_validator.go checkImmutableFields, v2.13.2), so a new
        # target group (new port or VPC, new name) gets a new binding, created before the old one goes.
        metadata=k8s.meta.v1.ObjectMetaArgs(name=group.name, namespace=args.namespace, labels=labels),
        spec=pulumi.Output.all(group.arn, args.vpc_id, args.vpc_cidr).apply(
            lambda values: target_group_binding_spec(service, model.port, *values)
        ),
        opts=child_opts(owner, depends_on=[owner.services[version]]),
    )


def version_scaler(
    owner: ModelDeployment, name: str, args: ModelDeploymentArgs, version: str, deployment
) -> pulumi.CustomResource:
    scaling = args.model.autoscaling
    target_name = version_service(args.model, version)
    metadata = k8s.meta.v1.ObjectMetaArgs(name=target_name, namespace=args.namespace, labels=args.labels)
    if scaling.cpu_target is not None:
        return k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-{version}-hpa",
            k8s.autoscaling.v2.HorizontalPodAutoscalerInitArgs(
                metadata=metadata,
                spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                    scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                        api_version="apps/v1", kind="Deployment", name=target_name
                    ),
                    min_replicas=scaling.min_replicas,
                    max_replicas=scaling.max_replicas,
                    metrics=[
                        k8s.autoscaling.v2.MetricSpecArgs(
                            type="Resource",
                            resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                                name="cpu",
                                target=k8s.autoscaling.v2.MetricTargetArgs(
                                    type="Utilization", average_utilization=scaling.cpu_target
                                ),
                            ),
                        )
                    ],
                ),
            ),
            opts=child_opts(owner, depends_on=[deployment]),
        )
    fallback = None
    if scaling.rps_target is not None:
        if args.prometheus_url is None or args.region is None:
            raise ValueError(
                f"model {args.model.name}: rps-target needs the region's managed Prometheus query URL"
            )
        trigger = rps_trigger(
            args.namespace_name,
            args.model.name,
            version,
            scaling.rps_target,
            args.prometheus_url,
            args.region,
        )
        fallback = {
            "failureThreshold": FALLBACK_FAILURES,
            "replicas": scaling.min_replicas,
            "behavior": "currentReplicasIfHigher",
        }
    else:
        assert scaling.keda is not None
        trigger = {"type": scaling.keda.type, "metadata": dict(scaling.keda.metadata)}
    return k8s.apiextensions.CustomResource(
        f"{name}-{version}-scaledobject",
        api_version=KEDA_API,
        kind="ScaledObject",
        metadata=metadata,
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target_name},
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": 15,
            "cooldownPeriod": 300,
            "triggers": [trigger],
            **({"fallback": fallback} if fallback else {}),
        },
        opts=child_opts(owner, depends_on=[deployment]),
    )
