"""A model team's space on the platform: namespace, quotas, network isolation, identity and repositories.

Everything a team owns lives here, so that a team stack never touches platform resources: a namespace per
serving cluster (Pod Security `restricted`), a ResourceQuota and LimitRange from the team's quotas, a
default-deny NetworkPolicy plus the few allows models need, a ServiceAccount whose IAM role (through EKS Pod
Identity) reaches only the team's bucket prefixes and repositories, the team's ECR repositories, and an EKS
access entry giving the team's owners edit rights in their namespace only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.base import child_opts
from components.blocks.context import Arns, PlatformContext
from components.blocks.iam import pod_identity_trust, to_json
from components.blocks.netpol import dns_egress, ip_peer, role_policy
from components.blocks.roles import Association, PodIdentityRole
from components.blocks.workload import POD_IDENTITY_AGENT, RESTRICTED_POD_SECURITY
from components.identity.deploy_policies import deploy_group
from components.identity.policies import access_policy_arn
from components.quantity import cpu_millis, memory_bytes
from components.registry import model_repository
from components.serving.config import TeamConfig
from components.serving.ingress import DOMAIN_ANNOTATION

EDIT_POLICY = "AmazonEKSEditPolicy"
MODELS_SERVICE_ACCOUNT = "models"  # the service account the models run as, which the team role is given to


@dataclass(frozen=True)
class ClusterTarget:
    """One serving cluster the team deploys to, with the providers that reach it."""

    region: str
    cluster_name: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    aws_provider: aws.Provider
    k8s_provider: k8s.Provider
    # The region's artifact bucket (the primary's, or its replica: contract registry.replicaBucketArns): pods
    # reach only their own region's S3, and an internet-free bucket admits only its own region's endpoint.
    artifact_bucket_arn: pulumi.Input[str] = ""
    # The region's S3 prefix-list CIDRs (the platform's contract): S3 traffic leaves through the gateway endpoint.
    s3_cidrs: pulumi.Input[list[str]] = ()
    vpc_id: pulumi.Input[str] = ""  # the serving VPC: the models' target groups live in it


@dataclass(frozen=True)
class TeamSpaceArgs:
    team: TeamConfig
    partition: str
    account_id: pulumi.Input[str]
    # The primary region's artifact bucket, where read-write prefixes are written (replicas are read-only copies:
    # replication goes one way), or None when the team serves in no primary region and only reads.
    write_bucket_arn: pulumi.Input[str] | None
    artifacts_key_arns: Sequence[pulumi.Input[str]]
    images_key_arn: pulumi.Input[str]
    clusters: Sequence[ClusterTarget]
    repository_aws_provider: aws.Provider
    tags: dict[str, str] = field(default_factory=dict)
    mlflow_namespace: str = "mlflow"
    mlflow_port: int = 5000
    # The domain the team's models are named in: the serving ALB's admission policy reads it from the
    # namespace (components.serving.ingress.team_ingress_policy_spec).
    ingress_domain: pulumi.Input[str] | None = None
    # The platform's permissions boundary (its contract's identity.permissionsBoundaryArn), which the team's
    # role carries when the platform has one; None (or an input resolving to None) for none.
    permissions_boundary: pulumi.Input[str | None] | None = None
    # The platform serves data itself (its `data` section, components.data): the role carries no per-prefix
    # S3 statements; the platform's data policy and S3 Access Grants give the team's data-access.
    data_through_platform: bool = False


def team_access_policy(
    read_bucket_arns: Sequence[str],
    write_bucket_arn: str | None,
    key_arns: Sequence[str],
    prefixes: Sequence[tuple[str, str]],
    repository_arns: Sequence[str],
) -> dict[str, Any]:
    """The team role's policy: its own prefixes of its regions' buckets (read), of the primary's (write), the
    artifacts keys through S3 only, its own repositories."""
    readable = [prefix for prefix, _ in prefixes]
    writable = [prefix for prefix, access in prefixes if access == "read-write"]
    if writable and write_bucket_arn is None:
        raise ValueError(f"read-write prefixes {writable} need the primary region's bucket")
    buckets = list(dict.fromkeys(read_bucket_arns))
    statements: list[dict[str, Any]] = []
    if readable:
        statements += [
            {
                "Sid": "ListOwnPrefixes",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": buckets,
                "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in readable]}},
            },
            {
                "Sid": "ReadOwnPrefixes",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [f"{bucket}/{prefix}*" for bucket in buckets for prefix in readable],
            },
        ]
    if writable:
        statements.append(
            {
                "Sid": "WriteOwnPrefixes",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": [f"{write_bucket_arn}/{prefix}*" for prefix in writable],
            }
        )
    if readable:
        statements.append(
            {
                "Sid": "UseArtifactsKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if writable else ["kms:Decrypt"],
                "Resource": list(key_arns),
                "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            }
        )
    statements += [
        {
            "Sid": "PullOwnImages",
            "Effect": "Allow",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            "Resource": list(repository_arns),
        },
        # GetAuthorizationToken has no resource-level permissions: AWS requires "*" for it.
        {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def models_trust(args: TeamSpaceArgs) -> pulumi.Output[str]:
    """The models role's trust: EKS Pod Identity from the platform's account only, for the team's ``models``
    service account in its namespace of the team's clusters (components.blocks.iam.pod_identity_trust)."""
    regions = [target.region for target in args.clusters]

    def trust(values: list[Any]) -> str:
        account, names = values[0], values[1:]
        return to_json(
            pod_identity_trust(
                account_id=account,
                cluster_arn=[
                    Arns(args.partition, account, r).cluster(n) for r, n in zip(regions, names, strict=True)
                ],
                namespace=args.team.namespace,
                service_account=MODELS_SERVICE_ACCOUNT,
            )
        )

    return pulumi.Output.all(args.account_id, *[target.cluster_name for target in args.clusters]).apply(trust)


def aws_endpoint_egress(
    vpc_cidr: str, s3_cidrs: Sequence[str]
) -> list[k8s.networking.v1.NetworkPolicyEgressRuleArgs]:
    """HTTPS to the interface endpoints (in the VPC) and to S3 (its prefix list), and the Pod Identity agent.

    An egress rule without peers allows every destination, and without S3's rule models cannot read their
    artifacts: no S3 CIDRs is an error, never a dropped rule.
    """
    if not s3_cidrs:
        raise ValueError("no S3 prefix-list CIDRs: models could not reach their artifacts")
    https = [k8s.networking.v1.NetworkPolicyPortArgs(port=443, protocol="TCP")]
    rules = [
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[ip_peer(vpc_cidr)], ports=https),
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=[ip_peer(c) for c in s3_cidrs], ports=https),
    ]
    rules.append(
        k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[ip_peer(POD_IDENTITY_AGENT)],
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=80, protocol="TCP")],
        )
    )
    return rules


def limit_defaults(team: TeamConfig) -> dict[str, str]:
    """A container default no larger than the smallest model asks for, so unlabelled pods stay small."""
    cpu = min(cpu_millis(model.resources.cpu) for model in team.models)
    memory = min(memory_bytes(model.resources.memory) for model in team.models)
    return {"cpu": f"{cpu}m", "memory": f"{memory // 2**20}Mi"}


def repository_name(team: str, model: str) -> str:
    return f"models/{team}/{model}"


class TeamSpace(pulumi.ComponentResource):
    """A team's namespace on every serving cluster, its IAM role, repositories and access entries."""

    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    repositories: dict[str, aws.ecr.Repository]
    namespaces: dict[str, k8s.core.v1.Namespace]
    service_accounts: dict[str, k8s.core.v1.ServiceAccount]
    network_policies: dict[str, list[k8s.networking.v1.NetworkPolicy]]
    pod_identities: dict[str, aws.eks.PodIdentityAssociation]
    access_entries: dict[str, aws.eks.AccessEntry]

    def __init__(self, name: str, args: TeamSpaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:team:TeamSpace", name, None, opts)
        team = args.team
        labels = {
            "team": team.name,
            "environment": team.environment,
            "app.kubernetes.io/managed-by": "pulumi",
        }
        on_repos = child_opts(self, provider=args.repository_aws_provider)

        self.repositories = {}
        for model in team.models:
            self.repositories[model.name], _ = model_repository(
                f"{name}-{model.name}-repo",
                repository_name(team.name, model.name),
                args.images_key_arn,
                {**args.tags, "model": model.name},
                on_repos,
                force_delete=team.environment != "prod",
            )

        self.namespaces, self.service_accounts, self.network_policies, self.access_entries = {}, {}, {}, {}
        for target in args.clusters:
            self._team_namespace(f"{name}-{target.region}", target, args, labels)
            owners_access(self, f"{name}-{target.region}", target, args)

        prefixes = (
            []
            if args.data_through_platform
            else [(access.prefix, access.access) for access in team.data_access]
        )
        policy = pulumi.Output.all(
            pulumi.Output.all(*[target.artifact_bucket_arn for target in args.clusters]),
            args.write_bucket_arn,
            pulumi.Output.all(*args.artifacts_key_arns),
            pulumi.Output.all(*[repo.arn for repo in self.repositories.values()]),
        ).apply(lambda v: to_json(team_access_policy(v[0], v[1], v[2], prefixes, v[3])))
        # The models' role, given to the `models` service account in every cluster by EKS Pod Identity.
        # Its account is known only from the platform's outputs, and nothing here builds an ARN from it.
        ctx = PlatformContext(
            team.environment,
            args.partition,
            "",
            args.clusters[0].region,
            args.tags,
            permissions_boundary=args.permissions_boundary,
        )
        models_role = PodIdentityRole(
            f"{name}-models",
            ctx,
            parent=self,
            provider=args.repository_aws_provider,
            trust=models_trust(args),
            policy=policy,
            role_name=f"mlops-{team.environment}-team-{team.name}-models",
            max_session_duration=3600,
            associations=[
                Association(
                    target.cluster_name,
                    team.namespace,
                    MODELS_SERVICE_ACCOUNT,
                    opts=pulumi.ResourceOptions(
                        provider=target.aws_provider, depends_on=[self.service_accounts[target.region]]
                    ),
                    resource_name=f"{name}-{target.region}-pod-identity",
                )
                for target in args.clusters
            ],
        )
        self.role, self.role_policy = models_role.role, models_role.policy
        self.pod_identities = {
            target.region: association
            for target, association in zip(args.clusters, models_role.associations, strict=True)
        }
        self.register_outputs(
            {
                "namespace": team.namespace,
                "roleArn": self.role.arn,
                "repositories": {key: repo.repository_url for key, repo in self.repositories.items()},
            }
        )

    def _team_namespace(
        self, suffix: str, target: ClusterTarget, args: TeamSpaceArgs, labels: dict[str, str]
    ) -> None:
        """The team's namespace in one cluster: restricted pod security, quota, limits, policies, service account."""
        team, namespace = args.team, args.team.namespace
        ns = k8s.core.v1.Namespace(
            f"{suffix}-ns",
            k8s.core.v1.NamespaceInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=namespace,
                    labels={
                        **labels,
                        **RESTRICTED_POD_SECURITY,
                    },
                    annotations={DOMAIN_ANNOTATION: args.ingress_domain} if args.ingress_domain else None,
                )
            ),
            opts=child_opts(self, provider=target.k8s_provider),
        )
        self.namespaces[target.region] = ns
        in_ns = child_opts(self, provider=target.k8s_provider, depends_on=[ns])
        k8s.core.v1.ResourceQuota(
            f"{suffix}-quota",
            k8s.core.v1.ResourceQuotaInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="team-quota", namespace=namespace, labels=labels),
                spec=k8s.core.v1.ResourceQuotaSpecArgs(
                    hard={
                        "requests.cpu": team.quotas.cpu,
                        "limits.cpu": team.quotas.cpu,
                        "requests.memory": team.quotas.memory,
                        "limits.memory": team.quotas.memory,
                        "requests.nvidia.com/gpu": str(team.quotas.gpus),
                        "pods": str(team.quotas.pods),
                        "services.loadbalancers": "0",
                        "services.nodeports": "0",
                    }
                ),
            ),
            opts=in_ns,
        )
        defaults = limit_defaults(team)
        k8s.core.v1.LimitRange(
            f"{suffix}-limits",
            k8s.core.v1.LimitRangeInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="team-limits", namespace=namespace, labels=labels),
                spec=k8s.core.v1.LimitRangeSpecArgs(
                    limits=[
                        k8s.core.v1.LimitRangeItemArgs(
                            type="Container", default=defaults, default_request=defaults
                        )
                    ]
                ),
            ),
            opts=in_ns,
        )
        self.network_policies[target.region] = team_network_policies(
            self, suffix, namespace, labels, target, args, in_ns
        )
        self.service_accounts[target.region] = k8s.core.v1.ServiceAccount(
            f"{suffix}-sa",
            k8s.core.v1.ServiceAccountInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=MODELS_SERVICE_ACCOUNT, namespace=namespace, labels=labels
                ),
                automount_service_account_token=False,
            ),
            opts=in_ns,
        )
        # The team's GitHub deploy role (its access entry's group, components/identity/github.py) administers
        # this namespace only: a RoleBinding grants `cluster-admin`'s verbs within its own namespace (Kubernetes
        # docs, "Using RBAC Authorization": a RoleBinding may reference a ClusterRole), which covers the custom
        # resources the team stack manages and the built-in `admin` role does not aggregate.
        k8s.rbac.v1.RoleBinding(
            f"{suffix}-deployer",
            k8s.rbac.v1.RoleBindingInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name="mlops-deployer", namespace=namespace, labels=labels
                ),
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"
                ),
                subjects=[
                    k8s.rbac.v1.SubjectArgs(
                        api_group="rbac.authorization.k8s.io", kind="Group", name=deploy_group(team.name)
                    )
                ],
            ),
            opts=in_ns,
        )


def owners_access(owner: TeamSpace, suffix: str, target: ClusterTarget, args: TeamSpaceArgs) -> None:
    """The owners' role may edit the team's namespace (and only it) through an EKS access entry."""
    on_region = child_opts(owner, provider=target.aws_provider)
    entry = aws.eks.AccessEntry(
        f"{suffix}-access",
        aws.eks.AccessEntryArgs(
            cluster_name=target.cluster_name,
            principal_arn=args.team.owners.role_arn,
            type="STANDARD",
            kubernetes_groups=[],
            tags=args.tags,
        ),
        opts=on_region,
    )
    owner.access_entries[target.region] = entry
    aws.eks.AccessPolicyAssociation(
        f"{suffix}-access-edit",
        aws.eks.AccessPolicyAssociationArgs(
            cluster_name=target.cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=access_policy_arn(args.partition, EDIT_POLICY),
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                type="namespace", namespaces=[args.team.namespace]
            ),
        ),
        opts=on_region,
    )


def team_network_policies(
    owner: TeamSpace, suffix, namespace, labels, target, args, opts
) -> list[k8s.networking.v1.NetworkPolicy]:
    """Default deny in both directions, then: ALB and ingress from the VPC to model ports, DNS, MLflow, AWS."""
    model_ports = sorted({model.port for model in args.team.models})

    def policy(role: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> k8s.networking.v1.NetworkPolicy:
        return role_policy(f"{suffix}-netpol-{role}", role, namespace, spec, opts, labels)

    every_pod = k8s.meta.v1.LabelSelectorArgs()
    return [
        policy(
            "default-deny",
            k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod, policy_types=["Ingress", "Egress"]
            ),
        ),
        # The ALB (IP targets) and the ingress controller reach pods from inside the VPC.
        policy(
            "allow-ingress-from-vpc",
            k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Ingress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                ip_block=k8s.networking.v1.IPBlockArgs(cidr=target.vpc_cidr)
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP")
                            for port in model_ports
                        ],
                    )
                ],
            ),
        ),
        policy(
            "allow-dns",
            k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=[dns_egress()],
            ),
        ),
        policy(
            "allow-mlflow",
            k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                    match_labels={"kubernetes.io/metadata.name": args.mlflow_namespace}
                                )
                            )
                        ],
                        ports=[
                            k8s.networking.v1.NetworkPolicyPortArgs(port=args.mlflow_port, protocol="TCP")
                        ],
                    )
                ],
            ),
        ),
        # AWS APIs (ECR, STS, KMS, ...) through the VPC's interface endpoints, which answer on 443 inside
        # the VPC; S3 through its gateway endpoint, at the region's S3 prefix-list addresses; and the EKS Pod
        # Identity agent that hands out the team role's credentials.
        policy(
            "allow-aws-endpoints",
            k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=every_pod,
                policy_types=["Egress"],
                egress=pulumi.Output.all(target.vpc_cidr, target.s3_cidrs).apply(
                    lambda values: aws_endpoint_egress(values[0], values[1])
                ),
            ),
        ),
    ]
