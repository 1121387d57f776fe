"""The EKS control plane: its IAM role, the KMS-encrypted log group, the cluster, its OIDC provider, who may
reach and administer it, and the Kubernetes provider built from its outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks import ServiceRole, service_principal, service_trust
from components.cluster.args import ServingClusterArgs
from components.cluster.naming import DISCOVERY_TAG

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def kubeconfig_document(name: str, endpoint: str, ca_data: str, region: str) -> dict[str, Any]:
    """A kubeconfig whose user fetches a short-lived token with `aws eks get-token` (no static credentials)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": [
                            "eks",
                            "get-token",
                            "--cluster-name",
                            name,
                            "--region",
                            region,
                            "--output",
                            "json",
                        ],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
    }


@dataclass(frozen=True)
class ControlPlane:
    """The control plane's resources and the outputs the rest of the cluster reads."""

    role: ServiceRole
    role_policy: aws.iam.RolePolicyAttachment
    log_group: aws.cloudwatch.LogGroup
    cluster: aws.eks.Cluster
    security_group_id: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    oidc_provider: aws.iam.OpenIdConnectProvider
    security_group_discovery_tag: aws.ec2.Tag
    deployer_rules: list[aws.vpc.SecurityGroupIngressRule]


def build_control_plane(
    parent: pulumi.Resource, name: str, args: ServingClusterArgs, tags: dict[str, str]
) -> ControlPlane:
    """The cluster (API auth mode, secrets envelope encryption, every log type, private endpoint in prod) with
    its role, log group and OIDC provider, and HTTPS to the API from the deployer's networks."""
    cfg = args.cluster
    cname = args.name
    role = ServiceRole(
        f"{name}-cluster",
        args.context,
        parent=parent,
        trust=service_trust(service_principal("eks"), tag_session=True),
        description=f"EKS control plane of {cname}",
        managed_policy_arns=("AmazonEKSClusterPolicy",),
        attachment_resource=lambda role_resource, _policy: f"{role_resource}-policy",
        tags=tags,
    )
    role_policy = role.attachments[0]
    # EKS would create this group itself, unencrypted and kept forever; owning it sets KMS and retention.
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-control-plane-logs",
        aws.cloudwatch.LogGroupArgs(
            name=f"/aws/eks/{cname}/cluster",
            kms_key_id=args.logs_key_arn,
            retention_in_days=args.log_retention_days,
            tags=tags,
        ),
        opts=child_opts(parent),
    )
    public = cfg.endpoint_public_access
    prod = args.context.is_prod
    cluster = aws.eks.Cluster(
        f"{name}-eks",
        aws.eks.ClusterArgs(
            name=cname,
            version=cfg.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(args.private_subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(cfg.public_access_cidrs or []) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=args.cluster_secrets_key_arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            # The add-ons are managed and pinned; no unmanaged copies installed at creation.
            bootstrap_self_managed_addons=False,
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            # Prod: EKS refuses DeleteCluster while deletion protection is on (EKS User Guide, "Protect EKS
            # clusters from accidental deletion"), so the cluster is also protected: a destroy then stops before
            # it deletes anything, instead of after the node groups, add-ons and charts are gone.
            deletion_protection=prod,
            tags=tags,
        ),
        opts=child_opts(parent, depends_on=[log_group, role_policy], protect=prod),
    )
    security_group_id = cluster.vpc_config.apply(lambda vpc: vpc.cluster_security_group_id)
    oidc_issuer = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
    oidc_provider = aws.iam.OpenIdConnectProvider(
        f"{name}-oidc",
        aws.iam.OpenIdConnectProviderArgs(url=oidc_issuer, client_id_lists=["sts.amazonaws.com"], tags=tags),
        opts=child_opts(parent),
    )
    # Karpenter finds the node security group by the same discovery tag as the subnets.
    discovery_tag = aws.ec2.Tag(
        f"{name}-cluster-sg-discovery",
        aws.ec2.TagArgs(resource_id=security_group_id, key=DISCOVERY_TAG, value=cname),
        opts=child_opts(parent),
    )
    # The private endpoint's network interfaces carry the cluster security group, which admits only itself:
    # the deployer's networks get HTTPS to the API server, nothing else.
    deployer_rules = [
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-deployer-{index}",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=security_group_id,
                cidr_ipv4=cidr,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="Kubernetes API from the deployer's network",
                tags={**tags, "Name": f"{cname}-deployer-{index}"},
            ),
            opts=child_opts(parent),
        )
        for index, cidr in enumerate(args.deployer_networks)
    ]
    return ControlPlane(
        role,
        role_policy,
        log_group,
        cluster,
        security_group_id,
        oidc_issuer,
        oidc_provider,
        discovery_tag,
        deployer_rules,
    )


@dataclass(frozen=True)
class AdminAccess:
    """One STANDARD access entry with the cluster-admin access policy per configured admin role."""

    entries: list[aws.eks.AccessEntry]
    policy_associations: list[aws.eks.AccessPolicyAssociation]


def build_admin_access(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    tags: dict[str, str],
) -> AdminAccess:
    """Who may administer the cluster: access entries (API auth mode), never the aws-auth ConfigMap."""
    access = AdminAccess([], [])
    admin_policy = args.context.arn.of(
        "eks", "cluster-access-policy/AmazonEKSClusterAdminPolicy", account="aws"
    )
    for index, arn in enumerate(args.cluster.admin_role_arns or []):
        entry = aws.eks.AccessEntry(
            f"{name}-admin-{index}",
            aws.eks.AccessEntryArgs(cluster_name=cluster.name, principal_arn=arn, type="STANDARD", tags=tags),
            opts=child_opts(parent),
        )
        association = aws.eks.AccessPolicyAssociation(
            f"{name}-admin-{index}-policy",
            aws.eks.AccessPolicyAssociationArgs(
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=admin_policy,
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            ),
            opts=child_opts(parent),
        )
        access.entries.append(entry)
        access.policy_associations.append(association)
    return access


def kubernetes_provider(
    parent: pulumi.Resource,
    name: str,
    args: ServingClusterArgs,
    cluster: aws.eks.Cluster,
    depends_on: list[pulumi.Resource],
) -> tuple[pulumi.Output[str], k8s.Provider]:
    """The cluster's kubeconfig (an `aws eks get-token` user) and the Kubernetes provider every object uses."""
    kubeconfig = pulumi.Output.all(
        cluster.endpoint, cluster.certificate_authority.apply(lambda ca: ca.data)
    ).apply(lambda values: json.dumps(kubeconfig_document(args.name, values[0], values[1], args.region)))
    provider = k8s.Provider(
        f"{name}-k8s",
        k8s.ProviderArgs(kubeconfig=kubeconfig, enable_server_side_apply=True),
        opts=child_opts(parent, depends_on=depends_on),
    )
    return kubeconfig, provider
