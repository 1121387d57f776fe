"""The registry's images: ECR replication of `models/` to every region, and the repository creation templates
that give repositories created by replication or on push the platform's defaults (immutable tags, KMS, scans,
lifecycle); ``model_repository`` is what team stacks create theirs with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.blocks import PlatformContext, ServiceRole, allow, document, to_json
from components.registry.args import ModelRegistryArgs

IMAGE_LIFECYCLE = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "Drop untagged layers after 14 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Keep the newest 200 tagged images",
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 200},
            "action": {"type": "expire"},
        },
    ]
}
MODELS_PREFIX = "models"


def ecr_template_role_policy(repository_arns: Sequence[str], key_arns: Sequence[str]) -> dict[str, Any]:
    """What ECR needs to create repositories from a template with KMS encryption and tags."""
    return document(
        allow(
            ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
            list(repository_arns),
            sid="CreateFromTemplate",
        ),
        allow(
            ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"],
            list(key_arns),
            sid="EncryptWithImagesKeys",
        ),
    )


def ecr_template_role(
    name: str,
    what: str,
    ctx: PlatformContext,
    repository_arns: Sequence[str],
    key_arns: Sequence[pulumi.Input[str]],
    *,
    parent: pulumi.Resource,
    provider: pulumi.ProviderResource | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role ECR assumes to create repositories from templates (with KMS and tags), and its policy."""
    role = ServiceRole(
        name,
        ctx,
        parent=parent,
        provider=provider,
        service="ecr",
        description=f"ECR creates {what} from the platform's templates",
        policy=pulumi.Output.all(*key_arns).apply(
            lambda keys: to_json(ecr_template_role_policy(list(repository_arns), keys))
        ),
    )
    assert role.policy is not None  # a policy was given, so the builder made it
    return role.role, role.policy


def model_repository(
    name: str,
    repository: str,
    images_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    force_delete: bool = False,
) -> tuple[aws.ecr.Repository, aws.ecr.LifecyclePolicy]:
    """A model image repository with the platform's defaults; team stacks create theirs with this.

    ``force_delete``: destroy deletes the repository with its images (DeleteRepository refuses a repository that
    holds images unless forced); set outside prod, where images are rebuilt rather than kept.
    """
    repo = aws.ecr.Repository(
        name,
        aws.ecr.RepositoryArgs(
            name=repository,
            force_delete=force_delete or None,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=images_key_arn)
            ],
            tags=dict(tags),
        ),
        opts=opts,
    )
    policy = aws.ecr.LifecyclePolicy(
        f"{name}-lifecycle",
        aws.ecr.LifecyclePolicyArgs(repository=repo.name, policy=to_json(IMAGE_LIFECYCLE)),
        opts=opts,
    )
    return repo, policy


def image_replication(
    owner: pulumi.Resource, name: str, args: ModelRegistryArgs
) -> aws.ecr.ReplicationConfiguration | None:
    """ECR replicates `models/` from the primary region to every other region of the stack."""
    primary, secondaries = args.regions[0], list(args.regions[1:])
    if not secondaries:
        return None
    rule = aws.ecr.ReplicationConfigurationReplicationConfigurationRuleArgs(
        destinations=[
            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleDestinationArgs(
                region=store.region, registry_id=args.context.account_id
            )
            for store in secondaries
        ],
        repository_filters=[
            aws.ecr.ReplicationConfigurationReplicationConfigurationRuleRepositoryFilterArgs(
                filter=f"{MODELS_PREFIX}/", filter_type="PREFIX_MATCH"
            )
        ],
    )
    return aws.ecr.ReplicationConfiguration(
        f"{name}-image-replication",
        aws.ecr.ReplicationConfigurationArgs(
            replication_configuration=aws.ecr.ReplicationConfigurationReplicationConfigurationArgs(
                rules=[rule]
            )
        ),
        opts=pulumi.ResourceOptions(parent=owner, provider=primary.provider),
    )


def repository_templates(owner: pulumi.Resource, name: str, args: ModelRegistryArgs) -> aws.iam.Role:
    """Repositories created by replication or on push get the platform's defaults. ECR needs a role of ours
    to create KMS-encrypted, tagged repositories from a template; returns that role."""
    ctx, primary = args.context, args.regions[0]
    repositories = [
        ctx.in_region(store.region).arn.repository(f"{MODELS_PREFIX}/*") for store in args.regions
    ]
    role, policy = ecr_template_role(
        f"{name}-image-template",
        "model repositories",
        ctx,
        repositories,
        [store.images_key_arn for store in args.regions],
        parent=owner,
        provider=primary.provider,
    )
    for store in args.regions:
        aws.ecr.RepositoryCreationTemplate(
            f"{name}-image-template-{store.region}",
            aws.ecr.RepositoryCreationTemplateArgs(
                prefix=MODELS_PREFIX,
                applied_fors=["REPLICATION", "CREATE_ON_PUSH"],
                description="Model images: immutable tags, KMS, expiring untagged layers",
                image_tag_mutability="IMMUTABLE",
                encryption_configurations=[
                    aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=store.images_key_arn
                    )
                ],
                lifecycle_policy=to_json(IMAGE_LIFECYCLE),
                resource_tags=dict(ctx.tags),
                custom_role_arn=role.arn,
            ),
            opts=pulumi.ResourceOptions(parent=owner, provider=store.provider, depends_on=[policy]),
        )
    return role
