"""A team's pipelines on the platform's primary cluster, in the team namespace.

- The workflow service account `workflow` and its executor Role (workflowtaskresults create and patch, the
  minimum of Argo v3.4+, docs/workflow-rbac.md); its Pod Identity role reaches the team's artifact prefix
  `pipelines/<team>/` (read-write) and the team's data-access prefixes, in the primary bucket only.
- The `artifact-repositories` ConfigMap (docs/artifact-repository-ref.md): S3 with `useSDKCreds: true`, so the
  executor signs with the pod's Pod Identity credentials; no access key exists anywhere.
- The SSO account `<team>-sso` (docs/argo-server-sso.md, "SSO RBAC Namespace Delegation"): signed-in members of
  the team's SSO group act in the team namespace through it (rule `'<group>' in groups`, precedence above the
  platform's login account), with its token Secret (docs/service-account-secrets.md).
- WorkflowTemplates of the standard shape prepare -> train -> evaluate -> register; with a Kueue LocalQueue
  named in the team spec, their pods carry `kueue.x-k8s.io/queue-name` (Kueue docs, "Run An Argo Workflow":
  `spec.podMetadata` for the whole workflow, `spec.templates[].metadata` per template).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from components.base import child_opts
from components.blocks import (
    Association,
    PlatformContext,
    PodIdentityRole,
    allow,
    document,
    pod_identity_trust,
    to_json,
)
from components.blocks.context import Arns
from components.pipelines.argo import RBAC_PRECEDENCE, RBAC_RULE
from components.pipelines.config import PipelineTemplate, TeamPipelines

WORKFLOW_SERVICE_ACCOUNT = "workflow"
ARTIFACT_REPOSITORIES = "artifact-repositories"
DEFAULT_REPOSITORY_KEY = "default-v1"
DEFAULT_REPOSITORY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
STEPS = ("prepare", "train", "evaluate", "register")
WORK = "/work"


def artifact_prefix(team: str) -> str:
    return f"pipelines/{team}/"


def sso_service_account(team: str) -> str:
    return f"{team}-sso"


def sso_rule(group: str) -> str:
    """The Argo server's rule (an expr-lang expression over the OIDC claims) for members of ``group``."""
    escaped = group.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}' in groups"


def workflow_access_policy(
    bucket_arn: str, key_arn: str, team: str, data_prefixes: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The workflow role: its artifact prefix read-write, the team's data prefixes as granted, in the primary
    region's bucket; the artifacts key through S3 only."""
    own = artifact_prefix(team)
    readable = [own, *[prefix for prefix, _ in data_prefixes]]
    writable = [own, *[prefix for prefix, access in data_prefixes if access == "read-write"]]
    return document(
        allow(
            "s3:ListBucket",
            bucket_arn,
            sid="ListOwnPrefixes",
            condition={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in readable]}},
        ),
        allow(
            ["s3:GetObject", "s3:GetObjectVersion"],
            [f"{bucket_arn}/{prefix}*" for prefix in readable],
            sid="ReadOwnPrefixes",
        ),
        allow(
            ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            [f"{bucket_arn}/{prefix}*" for prefix in writable],
            sid="WriteOwnPrefixes",
        ),
        allow(
            ["kms:Decrypt", "kms:GenerateDataKey"],
            key_arn,
            sid="UseArtifactsKeyThroughS3",
            condition={"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        ),
    )


def artifact_repository(bucket: str, region: str, team: str, key_arn: str) -> dict[str, Any]:
    """The team's default artifact repository (Argo's S3ArtifactRepository): keyless, encrypted with the
    platform's artifacts key, every key under the team's prefix."""
    return {
        "archiveLogs": True,
        "s3": {
            "bucket": bucket,
            "endpoint": f"s3.{region}.amazonaws.com",
            "region": region,
            "insecure": False,
            "useSDKCreds": True,
            "keyFormat": f"{artifact_prefix(team)}{{{{workflow.name}}}}/{{{{pod.name}}}}",
            "encryptionOptions": {"enableEncryption": True, "kmsKeyId": key_arn},
        },
    }


def step_container(template: PipelineTemplate, step: str, env: Mapping[str, str]) -> dict[str, Any]:
    """A step's container: the team's image running `python -m pipeline.<step>`, the platform baseline."""
    amounts = {"cpu": template.cpu, "memory": template.memory}
    return {
        "image": template.image,
        "command": ["python", "-m", f"pipeline.{step}"],
        "args": ["--input", f"{WORK}/in", "--output", f"{WORK}/out"],
        "env": [{"name": key, "value": value} for key, value in sorted(env.items())],
        "resources": {"requests": amounts, "limits": amounts},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "work", "mountPath": WORK}, {"name": "tmp", "mountPath": "/tmp"}],
    }


def workflow_template(
    template: PipelineTemplate,
    *,
    team: str,
    namespace: str,
    mlflow_url: str,
    local_queue: str | None,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The WorkflowTemplate object: a DAG prepare -> train -> evaluate -> register, each step's output handed
    to the next as an artifact (stored in the team's artifact repository), the model registered in MLflow as
    `<team>-<model>`."""
    pod_labels = {"team": team, **({KUEUE_QUEUE_LABEL: local_queue} if local_queue else {})}
    env = {"MLFLOW_TRACKING_URI": mlflow_url, "MODEL_NAME": f"{team}-{template.model}", "TEAM": team}
    previous = {"train": "prepare", "evaluate": "train", "register": "evaluate"}
    templates: list[dict[str, Any]] = [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {
                        "name": step,
                        "template": step,
                        **(
                            {
                                "dependencies": [previous[step]],
                                "arguments": {
                                    "artifacts": [
                                        {
                                            "name": "input",
                                            "from": f"{{{{tasks.{previous[step]}.outputs.artifacts.output}}}}",
                                        }
                                    ]
                                },
                            }
                            if step in previous
                            else {}
                        ),
                    }
                    for step in STEPS
                ]
            },
        }
    ]
    for step in STEPS:
        item: dict[str, Any] = {
            "name": step,
            "metadata": {"labels": dict(pod_labels)},
            "container": step_container(template, step, env),
            "outputs": {"artifacts": [{"name": "output", "path": f"{WORK}/out"}]},
        }
        if step in previous:
            item["inputs"] = {"artifacts": [{"name": "input", "path": f"{WORK}/in"}]}
        templates.append(item)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": template.name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "entrypoint": "main",
            "serviceAccountName": WORKFLOW_SERVICE_ACCOUNT,
            "podMetadata": {"labels": dict(pod_labels)},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumes": [
                {"name": "work", "emptyDir": {"sizeLimit": "20Gi"}},
                {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "256Mi"}},
            ],
            "templates": templates,
        },
    }


@dataclass(frozen=True)
class TeamPipelinesArgs:
    team: str
    sso_group: str
    environment: str
    namespace: str
    pipelines: TeamPipelines
    data_prefixes: Sequence[tuple[str, str]]
    partition: str
    account_id: pulumi.Input[str]
    region: str  # the platform's primary region, where Argo runs
    cluster_name: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    artifacts_key_arn: pulumi.Input[str]
    mlflow_url: pulumi.Input[str]
    aws_provider: aws.Provider
    k8s_provider: k8s.Provider
    after: Sequence[pulumi.Resource]  # the team namespace
    tags: Mapping[str, str]
    permissions_boundary: pulumi.Input[str | None] | None = None


class TeamWorkflows(pulumi.ComponentResource):
    """The team's workflow identity, artifact repository, SSO account and WorkflowTemplates."""

    role: aws.iam.Role
    service_account: k8s.core.v1.ServiceAccount
    sso_account: k8s.core.v1.ServiceAccount
    repositories: k8s.core.v1.ConfigMap
    templates: dict[str, k8s.apiextensions.CustomResource]

    def __init__(self, name: str, args: TeamPipelinesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:pipelines:TeamWorkflows", name, None, opts)
        labels = {
            "team": args.team,
            "environment": args.environment,
            "app.kubernetes.io/managed-by": "pulumi",
        }
        in_ns = child_opts(self, provider=args.k8s_provider, depends_on=list(args.after))
        ns = args.namespace

        def meta(resource: str, **extra: Any) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=resource, namespace=ns, labels=labels, **extra)

        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            # The executor (init and wait containers) talks to the Kubernetes API with this account's token.
            k8s.core.v1.ServiceAccountInitArgs(
                metadata=meta(WORKFLOW_SERVICE_ACCOUNT), automount_service_account_token=True
            ),
            opts=in_ns,
        )
        self._role_and_binding(
            f"{name}-executor",
            "workflow-executor",
            [
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["argoproj.io"], resources=["workflowtaskresults"], verbs=["create", "patch"]
                )
            ],
            WORKFLOW_SERVICE_ACCOUNT,
            meta,
            in_ns,
        )
        self.role = self._identity(name, args)
        self.repositories = k8s.core.v1.ConfigMap(
            f"{name}-artifact-repositories",
            k8s.core.v1.ConfigMapInitArgs(
                metadata=meta(
                    ARTIFACT_REPOSITORIES, annotations={DEFAULT_REPOSITORY_ANNOTATION: DEFAULT_REPOSITORY_KEY}
                ),
                data={
                    DEFAULT_REPOSITORY_KEY: pulumi.Output.all(args.bucket_name, args.artifacts_key_arn).apply(
                        lambda v: yaml.safe_dump(
                            artifact_repository(v[0], args.region, args.team, v[1]), sort_keys=True
                        )
                    )
                },
            ),
            opts=in_ns,
        )
        self.sso_account = self._sso_account(name, args, labels, meta, in_ns)
        self.templates = {
            template.name: k8s.apiextensions.CustomResource(
                f"{name}-template-{template.name}",
                api_version="argoproj.io/v1alpha1",
                kind="WorkflowTemplate",
                metadata=meta(template.name),
                spec=pulumi.Output.from_input(args.mlflow_url).apply(
                    lambda url, t=template: workflow_template(
                        t,
                        team=args.team,
                        namespace=ns,
                        mlflow_url=url,
                        local_queue=args.pipelines.local_queue,
                        labels=labels,
                    )["spec"]
                ),
                opts=child_opts(
                    self,
                    provider=args.k8s_provider,
                    depends_on=[*args.after, self.service_account, self.repositories],
                ),
            )
            for template in args.pipelines.templates
        }
        self.register_outputs({"roleArn": self.role.arn, "templates": sorted(self.templates)})

    def _role_and_binding(self, resource, role_name, rules, account, meta, opts) -> None:
        role = k8s.rbac.v1.Role(
            f"{resource}-role", k8s.rbac.v1.RoleInitArgs(metadata=meta(role_name), rules=rules), opts=opts
        )
        k8s.rbac.v1.RoleBinding(
            f"{resource}-binding",
            k8s.rbac.v1.RoleBindingInitArgs(
                metadata=meta(role_name),
                role_ref=k8s.rbac.v1.RoleRefArgs(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=role_name
                ),
                subjects=[
                    k8s.rbac.v1.SubjectArgs(
                        kind="ServiceAccount", name=account, namespace=meta(role_name).namespace
                    )
                ],
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
        )

    def _identity(self, name: str, args: TeamPipelinesArgs) -> aws.iam.Role:
        ctx = PlatformContext(
            args.environment,
            args.partition,
            "",
            args.region,
            dict(args.tags),
            permissions_boundary=args.permissions_boundary,
        )
        trust = pulumi.Output.all(args.account_id, args.cluster_name).apply(
            lambda v: to_json(
                pod_identity_trust(
                    account_id=v[0],
                    cluster_arn=Arns(args.partition, v[0], args.region).cluster(v[1]),
                    namespace=args.namespace,
                    service_account=WORKFLOW_SERVICE_ACCOUNT,
                )
            )
        )
        policy = pulumi.Output.all(args.bucket_arn, args.artifacts_key_arn).apply(
            lambda v: to_json(workflow_access_policy(v[0], v[1], args.team, args.data_prefixes))
        )
        role = PodIdentityRole(
            f"{name}-workflow",
            ctx,
            parent=self,
            provider=args.aws_provider,
            trust=trust,
            policy=policy,
            role_name=f"mlops-{args.environment}-team-{args.team}-workflow",
            max_session_duration=3600,
            associations=[
                Association(
                    args.cluster_name,
                    args.namespace,
                    WORKFLOW_SERVICE_ACCOUNT,
                    pulumi.ResourceOptions(depends_on=[self.service_account]),
                )
            ],
        )
        return role.role

    def _sso_account(self, name, args: TeamPipelinesArgs, labels, meta, in_ns) -> k8s.core.v1.ServiceAccount:
        """The team's SSO account, its token Secret, and what its members may do in the namespace: run and
        manage workflows and templates, read their pods' logs."""
        account_name = sso_service_account(args.team)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sso",
            k8s.core.v1.ServiceAccountInitArgs(
                metadata=meta(
                    account_name, annotations={RBAC_RULE: sso_rule(args.sso_group), RBAC_PRECEDENCE: "10"}
                ),
                automount_service_account_token=False,
            ),
            opts=in_ns,
        )
        k8s.core.v1.Secret(
            f"{name}-sso-token",
            k8s.core.v1.SecretInitArgs(
                metadata=meta(
                    f"{account_name}.service-account-token",
                    annotations={"kubernetes.io/service-account.name": account_name},
                ),
                type="kubernetes.io/service-account-token",
            ),
            opts=pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(depends_on=[account])),
        )
        self._role_and_binding(
            f"{name}-sso",
            f"{account_name}-workflows",
            [
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=["argoproj.io"],
                    resources=[
                        "workflows",
                        "workflowtemplates",
                        "cronworkflows",
                        "workfloweventbindings",
                        "workflowtaskresults",
                    ],
                    verbs=["get", "list", "watch", "create", "update", "patch", "delete"],
                ),
                k8s.rbac.v1.PolicyRuleArgs(
                    api_groups=[""], resources=["pods", "pods/log", "events"], verbs=["get", "list", "watch"]
                ),
            ],
            account_name,
            meta,
            in_ns,
        )
        return account
