"""Model serving: one Deployment per model version, weighted traffic between them, autoscaling, disruption budget.

Each version runs as its own Deployment and Service so that versions scale and roll independently. A stable
Service selects every version; the weighted split is an internal ALB Ingress whose forward action carries one
target group per version with its weight (the AWS Load Balancer Controller's weighted target groups), so a
90/10 canary is a config change. Scaling is an autoscaling/v2 HPA on CPU, or a KEDA ScaledObject for
requests-per-second (Prometheus) or any other KEDA trigger, which can also scale to zero outside prod.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.cluster import KEDA_AWS_AUTHENTICATION
from components.config import ModelSpec
from components.ingress import SERVING_GROUP, internal_alb_annotations, serving_load_balancer_name
from components.workload import ContainerSpec, hardened_container, hardened_pod_spec

KEDA_API = "keda.sh/v1alpha1"


def weighted_forward_action(model: ModelSpec) -> dict:
    """The ALB controller's forward action with one weighted target group per version (weights sum to 100)."""
    return {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                # An integer port: the controller looks a string servicePort up by port *name*
                # (aws-load-balancer-controller v2.13.2 pkg/k8s/service_utils.go LookupServicePort).
                {"serviceName": version_service(model, version.name), "servicePort": model.port, "weight": version.weight}
                for version in model.versions
            ],
            "targetGroupStickinessConfig": {"enabled": False},
        },
    }


def version_service(model: ModelSpec, version: str) -> str:
    return f"{model.name}-{version}"


def scrape_annotations(model: ModelSpec) -> dict[str, str]:
    """What the managed collector's pod job keeps (components/observability.py scrape_configuration): the
    model server publishes `http_requests_total` on /metrics of its port."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(model.port), "prometheus.io/path": "/metrics"}


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
            # No series yet (no traffic since start) counts as zero requests, not as a scaler error.
            "ignoreNullValues": "true",
        },
        "authenticationRef": {"name": KEDA_AWS_AUTHENTICATION, "kind": "ClusterTriggerAuthentication"},
    }


def rps_query(namespace: str, model: str, version: str) -> str:
    """Requests per second of one version, as the managed Prometheus sees them (labels set by the collector)."""
    return (
        f'sum(rate(http_requests_total{{namespace="{namespace}",app="{model}",version="{version}"}}[2m]))'
    )


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
    # Where the model answers (components.ingress.model_host and regional_model_host) and the region's
    # certificate covering those names; the serving ALB's name follows the environment.
    hosts: Sequence[pulumi.Input[str]] = ()
    certificate_arn: pulumi.Input[str] | None = None
    # The region's managed Prometheus query root and region (contract: observability.prometheusQueryUrls);
    # required by requests-per-second autoscaling.
    prometheus_url: pulumi.Input[str] | None = None
    region: str | None = None


class ModelDeployment(pulumi.ComponentResource):
    """Serves one model: Deployments, Services, weighted routing, autoscaling and a disruption budget."""

    deployments: dict[str, k8s.apps.v1.Deployment]
    services: dict[str, k8s.core.v1.Service]
    stable_service: k8s.core.v1.Service
    ingress: k8s.networking.v1.Ingress
    scalers: dict[str, pulumi.CustomResource]
    disruption_budget: k8s.policy.v1.PodDisruptionBudget

    def __init__(self, name: str, args: ModelDeploymentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:serving:ModelDeployment", name, None, opts)
        model = args.model
        base_labels = {**args.labels, "app.kubernetes.io/name": model.name, "app": model.name, "team": args.team}
        self.deployments, self.services, self.scalers = {}, {}, {}
        for version in model.versions:
            labels = {**base_labels, "version": version.name}
            selector = {"app": model.name, "version": version.name}
            container = hardened_container(
                ContainerSpec(
                    name="model",
                    image=version.image,
                    port=model.port,
                    health_path=model.health_path,
                    cpu=model.resources.cpu,
                    memory=model.resources.memory,
                    gpus=model.resources.gpus,
                    env={"MODEL_NAME": model.name, "MODEL_VERSION": version.name, **artifact_env(args)},
                )
            )
            deployment = k8s.apps.v1.Deployment(
                f"{name}-{version.name}",
                k8s.apps.v1.DeploymentInitArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=version_service(model, version.name), namespace=args.namespace, labels=labels
                    ),
                    spec=k8s.apps.v1.DeploymentSpecArgs(
                        replicas=max(model.autoscaling.min_replicas, 1),
                        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                        strategy=k8s.apps.v1.DeploymentStrategyArgs(
                            type="RollingUpdate",
                            rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge="25%", max_unavailable=0),
                        ),
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(
                                labels=labels,
                                annotations=scrape_annotations(model) if model.autoscaling.rps_target else None,
                            ),
                            spec=hardened_pod_spec(
                                [container],
                                args.service_account,
                                gpu=model.resources.gpus > 0,
                                spread_labels=selector,
                            ),
                        ),
                    ),
                ),
                # The autoscaler owns the replica count once the Deployment exists.
                opts=child_opts(self, ignore_changes=["spec.replicas"]),
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
            self.scalers[version.name] = self._scaler(name, args, version.name, deployment)

        self.stable_service = k8s.core.v1.Service(
            f"{name}-stable",
            k8s.core.v1.ServiceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=model.name, namespace=args.namespace, labels=base_labels),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    selector={"app": model.name},
                    ports=[k8s.core.v1.ServicePortArgs(name="http", port=model.port, target_port="http")],
                ),
            ),
            opts=child_opts(self),
        )
        action = "weighted"
        if not args.certificate_arn or not args.hosts:
            raise ValueError(f"model {model.name}: an HTTPS-only ingress needs host names and a certificate")
        # The serving group's load balancer settings (components/ingress.py), this model's health check and
        # its weighted split between versions.
        annotations = {
            **internal_alb_annotations(
                certificate_arn=args.certificate_arn, health_path=model.health_path,
                load_balancer_name=serving_load_balancer_name(args.environment), group=SERVING_GROUP,
            ),
            f"alb.ingress.kubernetes.io/actions.{action}": json.dumps(weighted_forward_action(model), sort_keys=True),
        }
        route = k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[k8s.networking.v1.HTTPIngressPathArgs(
            path="/",
            path_type="Prefix",
            backend=k8s.networking.v1.IngressBackendArgs(service=k8s.networking.v1.IngressServiceBackendArgs(
                name=action, port=k8s.networking.v1.ServiceBackendPortArgs(name="use-annotation"),
            )),
        )])
        self.ingress = k8s.networking.v1.Ingress(
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
            opts=child_opts(self, depends_on=list(self.services.values())),
        )
        self.disruption_budget = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            k8s.policy.v1.PodDisruptionBudgetInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=model.name, namespace=args.namespace, labels=base_labels),
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

    def _scaler(self, name: str, args: ModelDeploymentArgs, version: str, deployment) -> pulumi.CustomResource:
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
                opts=child_opts(self, depends_on=[deployment]),
            )
        if scaling.rps_target is not None:
            if args.prometheus_url is None or args.region is None:
                raise ValueError(f"model {args.model.name}: rps-target needs the region's managed Prometheus query URL")
            trigger = rps_trigger(args.namespace_name, args.model.name, version, scaling.rps_target,
                                  args.prometheus_url, args.region)
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
            },
            opts=child_opts(self, depends_on=[deployment]),
        )


def artifact_env(args: ModelDeploymentArgs) -> dict[str, pulumi.Input[str]]:
    """Where the model reads its artifacts: the region's bucket, and the region an S3 client must sign for."""
    if args.artifact_bucket is None:
        return {}
    return {"ARTIFACT_BUCKET": args.artifact_bucket, **({"AWS_REGION": args.region} if args.region else {})}
