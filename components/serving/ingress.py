"""How the platform's internal HTTPS load balancers are named and configured (AWS Load Balancer Controller).

Serving: in every region one internal ALB, ``mlops-<env>-serving``, shared by all model Ingresses through the
IngressGroup ``mlops-serving``. Its name is fixed, so the platform can find it once the controller has made it,
and its settings that belong to the load balancer (scheme, listener, TLS policy, attributes, name) are the
same on every Ingress of the group, because the controller refuses conflicting values within a group.
MLflow has its own internal ALB, ``mlops-<env>-mlflow``.

Host names: a model answers on ``<model>-<team>.<domain>`` (the routed name Route 53 answers with a healthy
region) and ``<model>-<team>.<region>.<domain>`` (that region only); a certificate for ``*.<domain>`` and
``*.<region>.<domain>`` covers both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks.admission import admission_policy_args
from components.blocks.ingress import ALB, internal_alb_annotations
from components.blocks.workload import RESTRICTED_POD_SECURITY
from components.dns.records import ServingLoadBalancer
from components.serving.quotas import ALB_QUOTAS, quota_excess, serving_alb_usage  # noqa: F401  (also here)

SERVING_GROUP = "mlops-serving"
SERVING_NAMESPACE = "mlops-serving"
NOT_FOUND_ACTION = "not-found"
# The namespace annotation a team stack sets to the domain its models are named in (components.serving.team).
DOMAIN_ANNOTATION = "mlops.platform/ingress-domain"
GUARD_NAME = "mlops-team-ingress"


def serving_load_balancer_name(environment: str) -> str:
    """The serving ALB's name (at most 32 characters, unique per region and account)."""
    return f"mlops-{environment}-serving"


def model_host(model: str, team: str, domain: str) -> str:
    return f"{model}-{team}.{domain}"


def regional_model_host(model: str, team: str, region: str, domain: str) -> str:
    return f"{model}-{team}.{region}.{domain}"


def mutual_authentication(port: int, trust_store_arn: str) -> str:
    """The controller's `mutual-authentication` value: the HTTPS listener on ``port`` verifies client certificates
    against the trust store, expired ones refused (aws-load-balancer-controller v2.13.2 annotations.md,
    "mutual-authentication"; ELB User Guide, "Mutual authentication with TLS in Application Load Balancer")."""
    return json.dumps(
        [
            {
                "port": port,
                "mode": "verify",
                "trustStore": trust_store_arn,
                "ignoreClientCertificateExpiry": False,
            }
        ]
    )


def serving_entry_annotations(
    environment: str, certificate_arn: str, client_certificates: tuple[int, str] | None = None
) -> dict[str, str]:
    """The serving entry's annotations: the group's load balancer settings and a fixed 404 for unknown hosts.

    With ``client_certificates`` (port, trust store ARN) the entry also opens the HTTPS listener on that port in
    mutual-TLS verify mode. Mutual authentication belongs to a listener, so it applies to every host on it: models
    of teams that require client certificates put their rules on that listener only (their Ingresses'
    listen-ports), the others on 443, which asks for none. The annotation is "Exclusive" in an IngressGroup and set
    on this one Ingress only, as the controller's documentation asks."""
    annotations = {
        **internal_alb_annotations(
            certificate_arn=certificate_arn,
            health_path=None,
            load_balancer_name=serving_load_balancer_name(environment),
            group=SERVING_GROUP,
        ),
        f"{ALB}/actions.{NOT_FOUND_ACTION}": json.dumps(
            {
                "type": "fixed-response",
                "fixedResponseConfig": {
                    "contentType": "text/plain",
                    "statusCode": "404",
                    "messageBody": "no such model",
                },
            },
            sort_keys=True,
        ),
    }
    if client_certificates is not None:
        port, trust_store_arn = client_certificates
        annotations[f"{ALB}/listen-ports"] = json.dumps([{"HTTPS": 443}, {"HTTPS": port}])
        annotations[f"{ALB}/mutual-authentication"] = mutual_authentication(port, trust_store_arn)
    return annotations


@dataclass(frozen=True)
class ClientCertificates:
    """The serving ALB's client-certificate listener: its port and the CA chain client certificates must chain
    to (PEM, the platform's private CA), put in a trust store through an object of ``bucket`` (the region's
    artifact bucket)."""

    port: int
    ca_chain: pulumi.Input[str]
    bucket: pulumi.Input[str]
    tags: dict[str, str]


@dataclass(frozen=True)
class ServingEntryArgs:
    environment: str
    region: str
    domain: str  # the platform's public zone
    zone_id: pulumi.Input[str]
    certificate_arn: str
    aws_provider: pulumi.ProviderResource
    k8s_provider: pulumi.ProviderResource
    # The load balancer controller's release: the Ingress must come after it (and be deleted before it).
    depends_on: Sequence[pulumi.Resource] = ()
    labels: dict[str, str] = field(default_factory=lambda: {"app.kubernetes.io/managed-by": "pulumi"})
    client_certificates: ClientCertificates | None = None


class ServingEntry(pulumi.ComponentResource):
    """A region's serving ALB, owned by the platform: an Ingress of the serving group that only answers 404
    for unknown hosts, so the ALB exists (with a stable id) from the platform's deployment on, whatever the
    teams deploy; the ALB read back by its fixed name once the Ingress is ready; and ``*.<region>.<zone>``
    pointing at it.

    Attributes: ``namespace``, ``ingress``, ``load_balancer`` (ServingLoadBalancer), ``record``.
    """

    def __init__(self, name: str, args: ServingEntryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:ingress:ServingEntry", name, None, opts)
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            k8s.core.v1.NamespaceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=SERVING_NAMESPACE,
                    labels={
                        **args.labels,
                        **RESTRICTED_POD_SECURITY,
                    },
                )
            ),
            opts=child_opts(self, provider=args.k8s_provider, depends_on=list(args.depends_on)),
        )
        self.trust_store = None
        trust_store_arn: pulumi.Input[str] | None = None
        if args.client_certificates is not None:
            self.trust_store = client_trust_store(self, name, args)
            trust_store_arn = self.trust_store.arn
        self.ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            k8s.networking.v1.IngressInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="serving-entry",
                    namespace=SERVING_NAMESPACE,
                    labels=args.labels,
                    annotations=serving_entry_annotations(args.environment, args.certificate_arn)
                    if trust_store_arn is None
                    else pulumi.Output.from_input(trust_store_arn).apply(
                        lambda arn: serving_entry_annotations(
                            args.environment,
                            args.certificate_arn,
                            (args.client_certificates.port, arn),  # type: ignore[union-attr]
                        )
                    ),
                ),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name="alb",
                    default_backend=k8s.networking.v1.IngressBackendArgs(
                        service=k8s.networking.v1.IngressServiceBackendArgs(
                            name=NOT_FOUND_ACTION,
                            port=k8s.networking.v1.ServiceBackendPortArgs(name="use-annotation"),
                        )
                    ),
                ),
            ),
            opts=child_opts(self, provider=args.k8s_provider, depends_on=[self.namespace, *args.depends_on]),
        )
        balancer = aws.lb.get_load_balancer_output(
            # Read after the Ingress: on its creation Pulumi waits until the controller has put the ALB's
            # address into its status (pulumi-kubernetes' Ingress await logic); on later updates the Ingress,
            # and so its ALB, already exists. A preview of a new stack answers this lookup "unknown".
            name=self.ingress.status.apply(lambda _: serving_load_balancer_name(args.environment)),
            opts=pulumi.InvokeOutputOptions(parent=self, provider=args.aws_provider),
        )
        self.load_balancer = ServingLoadBalancer(
            dns_name=balancer.dns_name, zone_id=balancer.zone_id, arn_suffix=balancer.arn_suffix
        )
        self.record = aws.route53.Record(
            f"{name}-record",
            aws.route53.RecordArgs(
                zone_id=args.zone_id,
                name=f"*.{args.region}.{args.domain}",
                type="A",
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=balancer.dns_name,
                        zone_id=balancer.zone_id,
                        evaluate_target_health=False,
                    )
                ],
            ),
            opts=child_opts(self, provider=args.aws_provider),
        )
        self.register_outputs(
            {"loadBalancerDnsName": balancer.dns_name, "loadBalancerArnSuffix": balancer.arn_suffix}
        )

    def contract_values(self) -> dict[str, Any]:
        """The values of ``ServingOutputs`` (components/outputs.py)."""
        return {
            "load_balancer_dns_name": self.load_balancer.dns_name,
            "load_balancer_zone_id": self.load_balancer.zone_id,
            "load_balancer_arn_suffix": self.load_balancer.arn_suffix,
        }


def client_trust_store(owner: pulumi.Resource, name: str, args: ServingEntryArgs) -> aws.lb.TrustStore:
    """The trust store of the client-certificate listener: the CA chain as an object of the region's artifact
    bucket (versioned, SSE-KMS, access-logged and protected like the registry), read by Elastic Load Balancing
    when the store is created; a new chain is a new object version, which updates the store (ELB User Guide,
    "Mutual authentication with TLS in Application Load Balancer", trust stores)."""
    client = args.client_certificates
    assert client is not None
    bundle = aws.s3.BucketObjectv2(
        f"{name}-trust-store-bundle",
        aws.s3.BucketObjectv2Args(
            bucket=client.bucket,
            key=TRUST_STORE_KEY,
            content=client.ca_chain,
            content_type="application/x-pem-file",
            # The artifact bucket refuses uploads with another encryption than SSE-KMS (its bucket policy).
            server_side_encryption="aws:kms",
            tags=dict(client.tags),
        ),
        opts=child_opts(owner, provider=args.aws_provider),
    )
    return aws.lb.TrustStore(
        f"{name}-trust-store",
        aws.lb.TrustStoreArgs(
            name=f"{serving_load_balancer_name(args.environment)}-clients",
            ca_certificates_bundle_s3_bucket=client.bucket,
            ca_certificates_bundle_s3_key=bundle.key,
            ca_certificates_bundle_s3_object_version=bundle.version_id,
            tags=dict(client.tags),
        ),
        opts=child_opts(owner, provider=args.aws_provider),
    )


TRUST_STORE_KEY = "trust/serving-clients-ca.pem"


def group_settings(environment: str) -> dict[str, str]:
    """The serving group's load-balancer settings every member Ingress carries with the same value: the
    "Exclusive" annotations, listen-ports ("Merge": an Ingress without it would add an HTTP:80 listener) and
    the group itself (aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md)."""
    annotations = internal_alb_annotations(
        certificate_arn=None,
        health_path=None,
        load_balancer_name=serving_load_balancer_name(environment),
        group=SERVING_GROUP,
    )
    return {key.removeprefix(f"{ALB}/"): value for key, value in annotations.items()}


def _cel(value: str) -> str:
    """A CEL string literal (json.dumps escapes like CEL's double-quoted strings for these ASCII values)."""
    return json.dumps(value)


def team_ingress_policy_spec(
    environment: str, region: str, client_certificate_port: int | None = None
) -> dict[str, Any]:
    """A ValidatingAdmissionPolicy for Ingresses in team namespaces, which share the serving ALB.

    The controller's IngressGroup lets any Ingress of the group change the shared ALB ("IngressGroup feature
    should only be used when all Kubernetes users with RBAC permission to create/modify Ingress resources are
    within trust boundary", annotations.md), and teams may edit Ingresses in their namespace. So the API server
    admits a team Ingress only when it: is of class `alb`; carries the group's settings with the platform's
    values; sets no other `alb.ingress.kubernetes.io/` annotation than its certificate, actions and conditions
    (no security groups, inbound CIDRs, WAF, subnets, tags, group order, ...); has no default backend (the
    platform's serving entry owns the listener's default); and names only hosts of its own team,
    ``<model>-<team>.<domain>`` or ``<model>-<team>.<region>.<domain>``, with the team and the domain read from
    its namespace (label `team`, annotation `mlops.platform/ingress-domain`), which team members cannot edit.
    """
    fixed = group_settings(environment)
    listen_ports = [fixed["listen-ports"]]
    if client_certificate_port is not None:
        # A team Ingress's rules go on 443 or on the client-certificate listener (listen-ports is "Merge").
        listen_ports.append(json.dumps([{"HTTPS": client_certificate_port}]))
        del fixed["listen-ports"]
    allowed = sorted({*fixed, "certificate-arn", "listen-ports"})
    fixed_map = "{" + ", ".join(f"{_cel(ALB + '/' + k)}: {_cel(v)}" for k, v in sorted(fixed.items())) + "}"
    allowed_list = "[" + ", ".join(_cel(f"{ALB}/{k}") for k in allowed) + "]"
    host = (
        "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?-' + variables.team + '[.](' + "
        + _cel(region.replace(".", "[.]"))
        + " + '[.])?' + variables.domain + '$'"
    )
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["networking.k8s.io"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["ingresses"],
                }
            ]
        },
        "variables": [
            {
                "name": "annotations",
                "expression": "has(object.metadata.annotations) ? object.metadata.annotations : {}",
            },
            {
                "name": "team",
                "expression": "has(namespaceObject.metadata.labels) && 'team' in namespaceObject.metadata.labels"
                " ? namespaceObject.metadata.labels['team'] : ''",
            },
            {
                "name": "domain",
                "expression": f"has(namespaceObject.metadata.annotations) && {_cel(DOMAIN_ANNOTATION)} in "
                f"namespaceObject.metadata.annotations ? namespaceObject.metadata.annotations"
                f"[{_cel(DOMAIN_ANNOTATION)}] : ''",
            },
        ],
        "validations": [
            {
                "expression": "variables.team != '' && variables.domain != ''",
                "message": f"Ingresses are admitted only in team namespaces (label team, annotation {DOMAIN_ANNOTATION})",
            },
            {
                "expression": "has(object.spec.ingressClassName) && object.spec.ingressClassName == 'alb' && "
                "!('kubernetes.io/ingress.class' in variables.annotations)",
                "message": "a team Ingress is of class alb (spec.ingressClassName), and names no other class",
            },
            {
                "expression": f"{fixed_map}.all(k, k in variables.annotations && variables.annotations[k] == {fixed_map}[k])",
                "message": f"a team Ingress carries the serving group's settings with the platform's values: {json.dumps(fixed, sort_keys=True)}",
            },
            {
                "expression": f"variables.annotations.all(k, !k.startsWith({_cel(ALB + '/')}) || k in {allowed_list} || "
                f"k.startsWith({_cel(ALB + '/actions.')}) || k.startsWith({_cel(ALB + '/conditions.')}))",
                "message": "a team Ingress sets no load balancer annotation but the group's settings, certificate-arn, "
                "actions.* and conditions.* (the shared ALB is the platform's)",
            },
            *(
                [
                    {
                        "expression": f"{_cel(ALB + '/listen-ports')} in variables.annotations && "
                        f"variables.annotations[{_cel(ALB + '/listen-ports')}] in "
                        f"[{', '.join(_cel(v) for v in listen_ports)}]",
                        "message": f"a team Ingress listens on one of: {' or '.join(listen_ports)}",
                    }
                ]
                if len(listen_ports) > 1
                else []
            ),
            {
                "expression": "!has(object.spec.defaultBackend)",
                "message": "a team Ingress has no default backend (the platform's serving entry answers unknown hosts)",
            },
            {
                "expression": f"has(object.spec.rules) && size(object.spec.rules) > 0 && object.spec.rules.all(r, "
                f"has(r.host) && r.host.endsWith('.' + variables.domain) && r.host.matches({host}))",
                "message": "every rule of a team Ingress names a host of its team: <model>-<team>.<domain> or "
                "<model>-<team>.<region>.<domain>",
            },
        ],
    }


def team_ingress_binding_spec() -> dict[str, Any]:
    """Where the policy applies: every namespace but the platform's own serving entry's, and deny on failure."""
    return {
        "policyName": GUARD_NAME,
        "validationActions": ["Deny"],
        "matchResources": {
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "NotIn",
                        # The platform's own Ingresses: the serving entry and MLflow's (components.registry.MLFLOW_NAMESPACE).
                        "values": [SERVING_NAMESPACE, "mlflow", "kube-system"],
                    }
                ]
            }
        },
    }


class TeamIngressGuard(pulumi.ComponentResource):
    """The admission policy (and its binding) that keeps team Ingresses to their own hosts on the shared ALB.

    Attributes: ``policy``, ``binding`` (admissionregistration.k8s.io/v1, GA since Kubernetes 1.30).
    """

    def __init__(
        self,
        name: str,
        environment: str,
        region: str,
        k8s_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
        client_certificate_port: int | None = None,
    ):
        super().__init__("mlops:ingress:TeamIngressGuard", name, None, opts)
        labels = {"app.kubernetes.io/managed-by": "pulumi"}
        admission = k8s.admissionregistration.v1
        spec = team_ingress_policy_spec(environment, region, client_certificate_port)
        self.policy = admission.ValidatingAdmissionPolicy(
            f"{name}-policy",
            admission_policy_args(GUARD_NAME, labels, spec),
            opts=child_opts(self, provider=k8s_provider),
        )
        binding = team_ingress_binding_spec()
        [selector] = binding["matchResources"]["namespaceSelector"]["matchExpressions"]
        self.binding = admission.ValidatingAdmissionPolicyBinding(
            f"{name}-binding",
            admission.ValidatingAdmissionPolicyBindingInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=GUARD_NAME, labels=labels),
                spec=admission.ValidatingAdmissionPolicyBindingSpecArgs(
                    policy_name=binding["policyName"],
                    validation_actions=binding["validationActions"],
                    match_resources=admission.MatchResourcesArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_expressions=[k8s.meta.v1.LabelSelectorRequirementArgs(**selector)],
                        )
                    ),
                ),
            ),
            opts=child_opts(self, provider=k8s_provider, depends_on=[self.policy]),
        )
        self.register_outputs({"policy": GUARD_NAME})
