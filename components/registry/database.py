"""The MLflow database: RDS PostgreSQL in the isolated subnets, reached only from the serving cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.blocks import PlatformContext, service_trust
from components.blocks.roles import ServiceRole
from components.registry.args import ModelRegistryArgs

DB_LOG_EXPORTS = ("postgresql", "upgrade")
DB_USER = "mlflow_admin"
# The AWS managed policy of the Enhanced Monitoring role (RDS User Guide, "Setting up and enabling Enhanced
# Monitoring"): it lets RDS create the RDSOSMetrics log group and write the OS metrics into it.
MONITORING_POLICY = "service-role/AmazonRDSEnhancedMonitoringRole"


@dataclass(frozen=True)
class Database:
    instance: aws.rds.Instance
    security_group: aws.ec2.SecurityGroup
    ingress: aws.vpc.SecurityGroupIngressRule | None
    log_groups: list[aws.cloudwatch.LogGroup]
    monitoring_role: ServiceRole | None = None


def monitoring_trust(ctx: PlatformContext, region: str, identifier: str) -> dict:
    """The Enhanced Monitoring role's trust: ``monitoring.rds.amazonaws.com`` for this account's one database
    (``aws:SourceAccount`` and ``aws:SourceArn``, the confused-deputy protection the RDS User Guide shows in
    "Setting up and enabling Enhanced Monitoring")."""
    return service_trust(
        ctx.service_principal("monitoring.rds"),
        account_id=ctx.account_id,
        source_arn=ctx.arn.of("rds", f"db:{identifier}", region=region),
    )


def monitoring_role(
    owner: pulumi.Resource,
    name: str,
    ctx: PlatformContext,
    provider: pulumi.ProviderResource,
    region: str,
    identifier: str,
) -> ServiceRole:
    """The role RDS assumes to send the database's OS metrics to CloudWatch Logs (RDSOSMetrics)."""
    return ServiceRole(
        f"{name}-db-monitoring",
        ctx,
        parent=owner,
        trust=monitoring_trust(ctx, region, identifier),
        managed_policy_arns=[MONITORING_POLICY],
        description=f"RDS Enhanced Monitoring of {identifier}",
        provider=provider,
    )


def mlflow_database(owner: pulumi.Resource, name: str, args: ModelRegistryArgs) -> Database:
    """MLflow's PostgreSQL: isolated subnets, a security group open to the serving cluster only, TLS-only
    parameters, exported logs in log groups of its own, managed master password, final snapshot outside dev."""
    cfg, ctx, primary = args.config, args.context, args.regions[0]
    tags = dict(ctx.tags)
    on_primary = pulumi.ResourceOptions(parent=owner, provider=primary.provider)
    subnets = aws.rds.SubnetGroup(
        f"{name}-db-subnets",
        aws.rds.SubnetGroupArgs(
            subnet_ids=list(args.isolated_subnet_ids), description="MLflow database, isolated tier", tags=tags
        ),
        opts=on_primary,
    )
    # The group has no inline rules: its one ingress rule names the cluster's security group, which exists only
    # once the cluster does, so it is a resource of its own and the database never waits for the cluster.
    security_group = aws.ec2.SecurityGroup(
        f"{name}-db-sg",
        aws.ec2.SecurityGroupArgs(
            vpc_id=args.vpc_id,
            description="PostgreSQL from the serving cluster only",
            egress=[],
            tags=tags,
        ),
        opts=on_primary,
    )
    ingress = None
    if args.cluster_security_group_id is not None:
        ingress = aws.vpc.SecurityGroupIngressRule(
            f"{name}-db-from-cluster",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=security_group.id,
                referenced_security_group_id=args.cluster_security_group_id,
                ip_protocol="tcp",
                from_port=5432,
                to_port=5432,
                description="MLflow on the serving cluster",
                tags=tags,
            ),
            opts=on_primary,
        )
    # One group per major (the family is the major): a major upgrade replaces it, the new group first (no
    # explicit name, no delete-before-replace), so the instance moves to it before the old one is deleted.
    parameters = aws.rds.ParameterGroup(
        f"{name}-db-parameters",
        aws.rds.ParameterGroupArgs(
            family=f"postgres{cfg.postgres_major}",
            description="TLS only, connection and statement logging",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
                aws.rds.ParameterGroupParameterArgs(name="log_disconnections", value="1"),
            ],
            tags=tags,
        ),
        opts=on_primary,
    )
    identifier = f"{ctx.prefix}-mlflow"
    # RDS would create the exported log groups itself, unencrypted and kept forever: own them first.
    log_groups = [
        aws.cloudwatch.LogGroup(
            f"{name}-db-logs-{export}",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/rds/instance/{identifier}/{export}",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags=tags,
            ),
            opts=on_primary,
        )
        for export in DB_LOG_EXPORTS
    ]
    snapshot = final_snapshot(owner, name, identifier) if ctx.keeps_data else None
    interval = cfg.monitoring_interval(ctx.is_prod)
    monitoring = (
        monitoring_role(owner, name, ctx, primary.provider, primary.region, identifier) if interval else None
    )
    # RDS checks the role when the instance is created or modified: it must exist with its policy attached.
    monitoring_ready = [monitoring.role, *monitoring.attachments] if monitoring is not None else []
    instance = aws.rds.Instance(
        f"{name}-db",
        aws.rds.InstanceArgs(
            identifier=identifier,
            engine="postgres",
            # A major alone: RDS applies minor upgrades and the version stays what it was set to (no diff).
            engine_version=cfg.postgres_version,
            auto_minor_version_upgrade=not cfg.postgres_minor_pinned,
            # A new major in the stack file is an intended upgrade: let RDS apply it instead of failing. It
            # needs db-apply-immediately for that deployment: RDS would otherwise defer it to the maintenance
            # window while the old major's parameter group, which the instance still uses, is deleted.
            allow_major_version_upgrade=True,
            apply_immediately=cfg.db_apply_immediately,
            instance_class=cfg.db_instance_class,
            allocated_storage=cfg.db_allocated_storage,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.database_key_arn,
            db_name="mlflow",
            username=DB_USER,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.database_key_arn,
            iam_database_authentication_enabled=True,
            multi_az=ctx.is_prod,
            backup_retention_period=30 if ctx.is_prod else 7,
            deletion_protection=ctx.keeps_data,
            publicly_accessible=False,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            parameter_group_name=parameters.name,
            enabled_cloudwatch_logs_exports=list(DB_LOG_EXPORTS),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=args.database_key_arn,
            monitoring_interval=interval,
            monitoring_role_arn=monitoring.arn if monitoring is not None else None,
            copy_tags_to_snapshot=True,
            skip_final_snapshot=snapshot is None,
            final_snapshot_identifier=snapshot,
            tags=tags,
        ),
        opts=pulumi.ResourceOptions(
            parent=owner,
            provider=primary.provider,
            protect=ctx.keeps_data,  # deletion protection: a destroy must stop before, not at, it
            depends_on=[*log_groups, *monitoring_ready],
        ),
    )
    return Database(instance, security_group, ingress, log_groups, monitoring)


def final_snapshot(owner: pulumi.Resource, name: str, identifier: str) -> pulumi.Output[str]:
    """A final snapshot name no earlier destroy used: the suffix is drawn once per database (stored in state,
    so previews do not change), and drawn again when the database is created anew."""
    suffix = random.RandomId(
        f"{name}-db-final-snapshot-suffix",
        random.RandomIdArgs(byte_length=4, keepers={"identifier": identifier}),
        opts=pulumi.ResourceOptions(parent=owner),
    )
    return suffix.hex.apply(lambda value: f"{identifier}-final-{value}")
