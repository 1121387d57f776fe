"""Customer-managed KMS keys, one per purpose, so that a grant on one kind of data never opens another.

Every key has rotation on, an explicit key policy (the account administers it; only the AWS services that must
use it can, and only through themselves or for the account's own resources), an alias, and a 30-day deletion
window in prod. The primary region's keys are multi-region primaries in every stack, and every other region
holds replicas of them, so data replicated across regions (artifacts, images) stays decryptable there and a
region can be added without replacing a key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import (
    PlatformContext,
    document,
    key_root_statement,
    key_service_statement,
    service_principal,
)

PURPOSES = ("artifacts", "logs", "cluster-secrets", "database", "images", "volumes")
# The keys of data a destroy leaves behind outside dev (the database's final snapshot, buckets destroy does not
# empty, governance logs): deleting such a key would make that data unreadable, so destroy leaves the key.
KEPT_PURPOSES = ("artifacts", "logs", "database")

# The AWS service each key serves through kms:ViaService (logs use service principals instead; volumes open the
# EC2 path to every principal of the account, see ebs_through_ec2_statement).
VIA_SERVICE = {
    "artifacts": "s3",
    "cluster-secrets": "eks",
    "database": "rds",
    "images": "ecr",
}
USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]


def alias_name(environment: str, purpose: str) -> str:
    return f"alias/mlops-{environment}-{purpose}"


def _via_service(
    sid: str, root: str, actions: list[str], service: str, region: str, account_id: str
) -> dict[str, Any]:
    """The account may use the key, but only through ``service`` in ``region`` and only as itself."""
    return key_service_statement(
        sid,
        {"AWS": root},
        actions,
        {
            "StringEquals": {
                "kms:ViaService": f"{service}.{region}.amazonaws.com",
                "kms:CallerAccount": account_id,
            }
        },
    )


def key_policy(purpose: str, ctx: PlatformContext, *, eventbridge_topics: bool = False) -> dict[str, Any]:
    """The explicit key policy of one purpose's key in the context's region (``eventbridge_topics``: EventBridge
    publishes to topics under the logs key, see ``logs_service_statements``)."""
    region, account_id = ctx.region, ctx.account_id
    root = ctx.arn.root()
    statements: list[dict[str, Any]] = [key_root_statement(root)]
    if purpose == "logs":
        statements += logs_service_statements(ctx, eventbridge_topics=eventbridge_topics)
    elif purpose == "volumes":
        statements.append(ebs_through_ec2_statement(ctx))
    else:
        service = VIA_SERVICE[purpose]
        statements.append(
            _via_service(
                f"UseThrough{service.upper()}Only",
                root,
                [*USE_ACTIONS, "kms:CreateGrant"],
                service,
                region,
                account_id,
            )
        )
    if purpose == "database":
        # RDS keeps the managed master password in Secrets Manager under this key; readers decrypt through it.
        statements.append(
            _via_service(
                "UseThroughSecretsManagerForManagedDatabaseSecrets",
                root,
                ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "secretsmanager",
                region,
                account_id,
            )
        )
    if purpose == "volumes":
        statements += autoscaling_volume_statements(ctx)
    return document(*statements, policy_id=f"mlops-{purpose}")


@dataclass(frozen=True)
class KeyRingArgs:
    context: PlatformContext  # the keys' region is the context's
    # Primary key ARNs by purpose: set in secondary regions, whose keys are then replicas of these.
    primaries: Mapping[str, pulumi.Input[str]] | None = None
    # False only for a one-region stack deployed with single-Region keys, which keeps them (see below).
    multi_region: bool = True
    # EventBridge rules publish to the region's alert topic, encrypted under the logs key (GuardDuty findings).
    eventbridge_topics: bool = False


class KeyRing(pulumi.ComponentResource):
    """One region's customer-managed keys, one per purpose, with aliases; replicas in secondary regions."""

    keys: dict[str, aws.kms.Key | aws.kms.ReplicaKey]
    aliases: dict[str, aws.kms.Alias]

    def __init__(self, name: str, args: KeyRingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:encryption:KeyRing", name, None, opts)
        ctx = args.context
        deletion_window = 30 if ctx.is_prod else 7
        self.keys, self.aliases = {}, {}
        for purpose in PURPOSES:
            stateful = child_opts(
                self,
                protect=ctx.is_prod,
                retain_on_delete=ctx.keeps_data and purpose in KEPT_PURPOSES,
            )
            policy = json.dumps(key_policy(purpose, ctx, eventbridge_topics=args.eventbridge_topics))
            description = f"mlops {ctx.environment} {purpose} ({ctx.region})"
            tags = ctx.tagged(purpose=purpose)
            if args.primaries is not None:
                key: aws.kms.Key | aws.kms.ReplicaKey = aws.kms.ReplicaKey(
                    f"{name}-{purpose}",
                    aws.kms.ReplicaKeyArgs(
                        primary_key_arn=args.primaries[purpose],
                        description=description,
                        policy=policy,
                        deletion_window_in_days=deletion_window,
                        enabled=True,
                        tags=tags,
                    ),
                    opts=stateful,
                )
            else:
                key = aws.kms.Key(
                    f"{name}-{purpose}",
                    aws.kms.KeyArgs(
                        description=description,
                        policy=policy,
                        enable_key_rotation=True,
                        rotation_period_in_days=365,
                        deletion_window_in_days=deletion_window,
                        # Multi-region from the start, in every stack: KMS cannot turn a regional key into a
                        # multi-region one (the provider replaces the key), so adding a region later replicates the
                        # keys that exist instead of replacing them with their data. A one-region stack deployed
                        # with regional keys keeps them (kms-multi-region: false), and cannot add a region.
                        multi_region=args.multi_region,
                        key_usage="ENCRYPT_DECRYPT",
                        customer_master_key_spec="SYMMETRIC_DEFAULT",
                        tags=tags,
                    ),
                    opts=stateful,
                )
            self.keys[purpose] = key
            self.aliases[purpose] = aws.kms.Alias(
                f"{name}-{purpose}-alias",
                aws.kms.AliasArgs(name=alias_name(ctx.environment, purpose), target_key_id=key.key_id),
                opts=child_opts(self),
            )
        self.register_outputs({"keyArns": {purpose: key.arn for purpose, key in self.keys.items()}})

    def arn(self, purpose: str) -> pulumi.Output[str]:
        return self.keys[purpose].arn


def logs_service_statements(
    ctx: PlatformContext, *, eventbridge_topics: bool = False
) -> list[dict[str, Any]]:
    """What CloudWatch Logs, CloudTrail and CloudWatch alarms need on the logs key, as AWS documents it.

    CloudWatch Logs: the key-policy statement of "Encrypt log data in CloudWatch Logs using AWS KMS" (step 2),
    its cryptographic actions limited by the log group in the encryption context. CloudTrail: the statements of
    "Configure AWS KMS key policies for CloudTrail" (granting encrypt permissions; enable CloudTrail to describe
    KMS key properties), limited to this account's trails by ``aws:SourceArn``. DescribeKey carries no
    encryption context (the AWS KMS condition keys of DescribeKey include no kms:EncryptionContext key), so it
    sits in statements of its own: under an encryption-context condition it would never be allowed.

    With ``eventbridge_topics``, EventBridge may use the key for the topics it publishes to: the statement of
    "Troubleshooting Amazon EventBridge" (My rule runs, but I don't see any messages published into my Amazon SNS
    topic, scenario 2). It carries no condition: EventBridge passes no source context to KMS on this path, so a
    condition would block delivery; which rules may publish is limited by each topic's policy instead.
    """
    arns, account_id = ctx.arn, ctx.account_id
    trails = arns.of("cloudtrail", "trail/*", region="*")
    cloudtrail = {"Service": service_principal("cloudtrail")}
    return [
        *cloudwatch_logs_statements(ctx),
        key_service_statement(
            "CloudTrailEncryptsOwnTrails",
            cloudtrail,
            "kms:GenerateDataKey*",
            {
                "ArnLike": {"aws:SourceArn": trails},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
            },
        ),
        key_service_statement(
            "CloudTrailDescribesKey", cloudtrail, "kms:DescribeKey", {"ArnLike": {"aws:SourceArn": trails}}
        ),
        key_service_statement(
            "AlarmsPublishToEncryptedTopics",
            {"Service": service_principal("cloudwatch")},
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            {"StringEquals": {"aws:SourceAccount": account_id}},
        ),
        # AWS Budgets publishes teams' budget notifications to the alert topics: like the alarms above, it needs
        # the topic's key (Amazon SNS Developer Guide, "Key management": a service publishing to an encrypted topic
        # needs kms:GenerateDataKey* and kms:Decrypt on its key), for this account's budgets only: the source
        # conditions of the topic policy AWS Budgets documents ("Creating an Amazon SNS topic for budget
        # notifications").
        key_service_statement(
            "BudgetsPublishToEncryptedTopics",
            {"Service": service_principal("budgets")},
            ["kms:Decrypt", "kms:GenerateDataKey*"],
            {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": arns.of("budgets", "*")},
            },
        ),
        *(
            [
                key_service_statement(
                    "EventBridgePublishesToEncryptedTopics",
                    {"Service": service_principal("events")},
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                )
            ]
            if eventbridge_topics
            else []
        ),
    ]


def cloudwatch_logs_statements(ctx: PlatformContext) -> list[dict[str, Any]]:
    """CloudWatch Logs of the context's region encrypts and decrypts the account's log groups there with the
    key ("Encrypt log data in CloudWatch Logs using AWS KMS", step 2), and describes it (without a condition:
    DescribeKey carries no encryption context)."""
    logs = {"Service": f"logs.{ctx.region}.amazonaws.com"}
    return [
        key_service_statement(
            "CloudWatchLogsEncryptsOwnLogGroups",
            logs,
            ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": ctx.arn.log_group("*")}},
        ),
        key_service_statement("CloudWatchLogsDescribesKey", logs, "kms:DescribeKey"),
    ]


# What EBS needs of a volumes key for every principal of the account that launches through EC2, as Karpenter
# documents it (troubleshooting, "Node terminates before ready on failed encrypted EBS volume", v1.5.0).
EBS_THROUGH_EC2_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:DescribeKey",
]


def ebs_through_ec2_statement(ctx: PlatformContext) -> dict[str, Any]:
    """Any principal of this account may use the volumes key, but only through EC2 in the key's region.

    The statement of Karpenter's troubleshooting guide ("Node terminates before ready on failed encrypted EBS
    volume", https://github.com/aws/karpenter-provider-aws/blob/v1.5.0/website/content/en/docs/troubleshooting.md),
    the approach of the AWS managed EBS key: ``Principal: {"AWS": "*"}`` with ``kms:ViaService``
    ``ec2.<region>.amazonaws.com`` and ``kms:CallerAccount`` the account. Naming the account root instead lets
    only principals whose own IAM policy allows the key use it, and the service-linked roles that launch nodes
    (AWSServiceRoleForEC2Spot for spot capacity, AWSServiceRoleForEC2Fleet) carry policies nobody can change:
    a spot node with a volume under this key would be terminated before it is ready.
    """
    return key_service_statement(
        "UseThroughEC2ForPrincipalsOfTheAccount",
        {"AWS": "*"},
        EBS_THROUGH_EC2_ACTIONS,
        {
            "StringEquals": {
                "kms:ViaService": f"ec2.{ctx.region}.amazonaws.com",
                "kms:CallerAccount": ctx.account_id,
            }
        },
    )


def autoscaling_role_arn(ctx: PlatformContext) -> str:
    """The Auto Scaling service-linked role, which launches managed node groups' instances."""
    return ctx.arn.service_linked_role("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling")


def autoscaling_volume_statements(ctx: PlatformContext) -> list[dict[str, Any]]:
    """Auto Scaling's use of the volumes key, granted to any principal whose ARN is its service-linked role.

    KMS rejects a key policy whose Principal names a role that does not exist yet, and the Auto Scaling role
    only exists once the account has had an Auto Scaling group (the system node group creates the first).
    Matching the role through ``aws:PrincipalArn`` with ``Principal: *`` needs no existing principal, and grants
    nothing to anyone else: the ARN names exactly that role of this account.
    """
    only_autoscaling = {"ArnEquals": {"aws:PrincipalArn": autoscaling_role_arn(ctx)}}
    anyone = {"AWS": "*"}
    return [
        key_service_statement("AutoScalingUsesVolumeKey", anyone, USE_ACTIONS, only_autoscaling),
        key_service_statement(
            "AutoScalingGrantsForVolumes",
            anyone,
            "kms:CreateGrant",
            {**only_autoscaling, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    ]
