"""ClusterTrust: one cluster's certificate issuer (cert-manager with the AWS Private CA issuer) and its CA bundle
distribution (trust-manager)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import to_json
from components.cluster.charts import labelled_namespace, pinned_release, service_account_role
from components.trust.charts import (
    CERT_MANAGER_NAMESPACE,
    PCA_ISSUER_SERVICE_ACCOUNT,
    cert_manager_values,
    pca_issuer_values,
    trust_manager_values,
)
from components.trust.pca import issuer_policy

ISSUER_NAME = "mlops-private-ca"
ISSUER_KIND = "AWSPCAClusterIssuer"
ISSUER_GROUP = "awspca.cert-manager.io"
BUNDLE_NAME = "mlops-ca-bundle"
BUNDLE_KEY = "ca-bundle.pem"
# Every namespace the platform and the team stacks create carries Pod Security admission labels
# (components.cluster.charts.labelled_namespace, RESTRICTED_POD_SECURITY): the bundle goes to each of them.
BUNDLE_NAMESPACE_LABEL = "pod-security.kubernetes.io/enforce"
CA_BUNDLE_MOUNT = "/etc/mlops/ca"


def bundle_spec(sources: Sequence[str]) -> dict:
    """A trust.cert-manager.io/v1alpha1 Bundle: the public CAs, the private CA chain and any custom CA bundle, as
    ConfigMap `mlops-ca-bundle` (key ca-bundle.pem) in every namespace with Pod Security labels."""
    return {
        "sources": [{"useDefaultCAs": True}, *({"inLine": pem} for pem in sources)],
        "target": {
            "configMap": {"key": BUNDLE_KEY},
            "namespaceSelector": {
                "matchExpressions": [{"key": BUNDLE_NAMESPACE_LABEL, "operator": "Exists"}]
            },
        },
    }


def issuer_spec(ca_arn: str, region: str, template_name: str) -> dict:
    """The AWSPCAClusterIssuer: the CA, its region and the only template it issues with
    (spec.pcaTemplate.defaultTemplateName "locks all certificate requests made to that issuer into using the
    specified template", the issuer's README v1.9.0, "Using AWS PCA Template ARNs")."""
    return {"arn": ca_arn, "region": region, "pcaTemplate": {"defaultTemplateName": template_name}}


@dataclass(frozen=True)
class ClusterTrustArgs:
    cluster: object  # components.cluster.component.ServingCluster
    ca_arn: pulumi.Input[str] | None
    ca_region: str
    template_arn: str
    template_name: str
    charts: Mapping[str, str]  # chart -> pinned version
    bundle_sources: Sequence[pulumi.Input[str]] = ()
    proxy_env: Mapping[str, str] = field(default_factory=dict)
    mirror: str | None = None
    depends_on: Sequence[pulumi.Resource] = ()


class ClusterTrust(pulumi.ComponentResource):
    """cert-manager, the AWS Private CA issuer (Pod Identity role limited to issuing from the CA with the
    template), trust-manager, the cluster's AWSPCAClusterIssuer and the CA Bundle, in namespace cert-manager."""

    def __init__(self, name: str, args: ClusterTrustArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:trust:ClusterTrust", name, None, opts)
        serving = args.cluster
        cargs = serving.args  # type: ignore[attr-defined]
        provider = serving.k8s_provider  # type: ignore[attr-defined]
        ready = [serving.system_node_group, *args.depends_on]  # type: ignore[attr-defined]
        self.namespace = labelled_namespace(self, name, CERT_MANAGER_NAMESPACE, "restricted", provider, ready)

        def release(chart: str, values: dict, depends_on: Sequence[pulumi.Resource]) -> k8s.helm.v3.Release:
            return pinned_release(
                self,
                name,
                chart,
                args.charts[chart],
                CERT_MANAGER_NAMESPACE,
                values,
                provider,
                depends_on,
                mirror=args.mirror,
            )

        self.cert_manager = release(
            "cert-manager", cert_manager_values(args.proxy_env, args.mirror), [self.namespace]
        )
        self.trust_manager = release("trust-manager", trust_manager_values(args.mirror), [self.cert_manager])
        self.bundle = k8s.apiextensions.CustomResource(
            f"{name}-bundle",
            api_version="trust.cert-manager.io/v1alpha1",
            kind="Bundle",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=BUNDLE_NAME),
            spec=pulumi.Output.all(*args.bundle_sources).apply(lambda pems: bundle_spec(list(pems))),
            opts=child_opts(self, provider=provider, depends_on=[self.trust_manager]),
        )
        self.issuer_role = self.pca_issuer = self.issuer = None
        if args.ca_arn is not None:
            self._issuer(name, args, cargs, serving, provider, release)
        self.register_outputs(
            {"issuer": ISSUER_NAME if args.ca_arn is not None else None, "bundle": BUNDLE_NAME}
        )

    def _issuer(self, name, args, cargs, serving, provider, release) -> None:
        """The Private CA issuer: its Pod Identity role, its release and the cluster's AWSPCAClusterIssuer."""
        self.issuer_role = service_account_role(
            self,
            f"{name}-pca-issuer",
            cargs,
            serving.eks_cluster,
            CERT_MANAGER_NAMESPACE,
            PCA_ISSUER_SERVICE_ACCOUNT,
            f"AWS Private CA issuer of {cargs.name}: issues from the platform's CA with one template",
            serving.addon_pod_identity_agent,
            dict(cargs.tags),
            pulumi.Output.from_input(args.ca_arn).apply(
                lambda arn: to_json(issuer_policy(arn, args.template_arn))
            ),
        )
        self.pca_issuer = release(
            "aws-privateca-issuer",
            pca_issuer_values(args.proxy_env, args.mirror),
            [
                self.cert_manager,
                *self.issuer_role.associations,
                *([self.issuer_role.policy] if self.issuer_role.policy else []),
            ],
        )
        self.issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version=f"{ISSUER_GROUP}/v1beta1",
            kind=ISSUER_KIND,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ISSUER_NAME),
            spec=pulumi.Output.from_input(args.ca_arn).apply(
                lambda arn: issuer_spec(arn, args.ca_region, args.template_name)
            ),
            opts=child_opts(self, provider=provider, depends_on=[self.pca_issuer]),
        )
