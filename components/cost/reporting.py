"""CostReporting: what a platform stack reports its real cost with.

- The platform's tag keys (team, cost-center, environment) activated as cost allocation tags, so Cost Explorer,
  Budgets and the Cost and Usage Report group by them (account-wide: once per stack, each stack owns an account).
- A Cost and Usage Report 2.0 export (BCM Data Exports, an API of us-east-1) with split cost allocation data for
  EKS, as Parquet, refreshed as AWS updates the bill, into a bucket of the primary region: the SecureBucket
  baseline with a key of its own whose policy lets the export services write, the bucket policy the Data
  Exports guide requires, and expiry after the configured months.
- A Glue database and table over the export's Parquet files (partition projection on the billing period), so
  Athena queries the report without a crawler.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import (
    AccessLogTarget,
    PlatformContext,
    SecureBucket,
    SecureBucketArgs,
    document,
    key_root_statement,
    key_service_statement,
)
from components.cost.config import COST_ALLOCATION_TAG_KEYS, CostConfig

# Data Exports and Cost Explorer are served from us-east-1 only (the export ARNs name it:
# arn:aws:bcm-data-exports:us-east-1:<account>:export/<name>).
BILLING_REGION = "us-east-1"
EXPORT_PREFIX = "cur2"
ACCESS_LOG_PREFIX = "cur2-bucket/"
ACCESS_LOG_DAYS = 365
# The services that deliver exports (the Data Exports guide's bucket policy names both: bcm-data-exports for CUR
# 2.0 and other exports, billingreports for legacy reports in the same bucket).
EXPORT_SERVICES = ("billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com")

# The CUR 2.0 columns the export selects, with their Athena/Glue types (AWS Data Exports table dictionary:
# identity, bill, line item and product columns; "Split line item details" for the split_line_item_* columns,
# present with INCLUDE_SPLIT_COST_ALLOCATION_DATA). resource_tags holds the activated tags (user_team, ...)
# and, for split rows, the pods' Kubernetes labels imported as cost allocation tags.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("identity_line_item_id", "string"),
    ("identity_time_interval", "string"),
    ("bill_billing_period_start_date", "timestamp"),
    ("line_item_usage_account_id", "string"),
    ("line_item_line_item_type", "string"),
    ("line_item_usage_start_date", "timestamp"),
    ("line_item_usage_end_date", "timestamp"),
    ("line_item_product_code", "string"),
    ("line_item_usage_type", "string"),
    ("line_item_operation", "string"),
    ("line_item_resource_id", "string"),
    ("line_item_usage_amount", "double"),
    ("line_item_unblended_cost", "double"),
    ("line_item_currency_code", "string"),
    ("product_region_code", "string"),
    ("resource_tags", "map<string,string>"),
    ("split_line_item_actual_usage", "double"),
    ("split_line_item_net_split_cost", "double"),
    ("split_line_item_net_unused_cost", "double"),
    ("split_line_item_parent_resource_id", "string"),
    ("split_line_item_public_on_demand_split_cost", "double"),
    ("split_line_item_public_on_demand_unused_cost", "double"),
    ("split_line_item_reserved_usage", "double"),
    ("split_line_item_split_cost", "double"),
    ("split_line_item_split_usage", "double"),
    ("split_line_item_split_usage_ratio", "double"),
    ("split_line_item_unused_cost", "double"),
)


def export_name(environment: str) -> str:
    return f"mlops-{environment}-cur2"


def query_statement() -> str:
    """The export's query: the columns above, from CUR 2.0's table."""
    return f"SELECT {', '.join(name for name, _ in COLUMNS)} FROM COST_AND_USAGE_REPORT"


def table_configuration(granularity: str) -> dict[str, dict[str, str]]:
    """CUR 2.0's table properties: split cost allocation data (EKS pods), resource ids, the time granularity."""
    return {
        "COST_AND_USAGE_REPORT": {
            "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "TRUE",
            "INCLUDE_RESOURCES": "TRUE",
            "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
            "TIME_GRANULARITY": granularity,
        }
    }


def retention_days(months: int) -> int:
    """Lifecycle expiry in days (S3 counts days): the months at the calendar's mean 30.44 days, rounded up."""
    return math.ceil(months * 365.25 / 12)


def export_source_arns(partition: str, account_id: str) -> list[str]:
    """What may deliver into the bucket: this account's legacy report definitions and its exports."""
    return [
        f"arn:{partition}:cur:{BILLING_REGION}:{account_id}:definition/*",
        f"arn:{partition}:bcm-data-exports:{BILLING_REGION}:{account_id}:export/*",
    ]


def export_bucket_statements(bucket_arn: str, *, partition: str, account_id: str) -> list[dict[str, Any]]:
    """The statement the Data Exports guide requires on the bucket ("Setting up an Amazon S3 bucket for data
    exports"): the export services may write objects and read the bucket policy, on behalf of this account's
    exports only. The guide writes both conditions under StringLike; here the account is compared with
    StringEquals (it has no wildcard) and the ARN-typed aws:SourceArn with ArnLike, the ARN operator, which
    matches the same ARNs (IAM User Guide, "Condition operators")."""
    return [
        {
            "Sid": "EnableAWSDataExportsToWriteToS3AndCheckPolicy",
            "Effect": "Allow",
            "Principal": {"Service": list(EXPORT_SERVICES)},
            "Action": ["s3:PutObject", "s3:GetBucketPolicy"],
            "Resource": [f"{bucket_arn}/*", bucket_arn],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": export_source_arns(partition, account_id)},
            },
        }
    ]


def export_key_policy(ctx: PlatformContext) -> dict[str, Any]:
    """The export key's policy: the account administers it; the export services may generate data keys (and
    decrypt them, which multipart uploads need) for this account's exports only, under the bucket policy's
    conditions; the account's principals use it only through S3 in the key's region (Athena reads)."""
    arns = ctx.arn
    return document(
        key_root_statement(arns.root()),
        key_service_statement(
            "DataExportsEncryptReports",
            {"Service": list(EXPORT_SERVICES)},
            ["kms:GenerateDataKey*", "kms:Decrypt"],
            {
                "StringEquals": {"aws:SourceAccount": ctx.account_id},
                "ArnLike": {"aws:SourceArn": export_source_arns(ctx.partition, ctx.account_id)},
            },
        ),
        key_service_statement(
            "UseThroughS3Only",
            {"AWS": arns.root()},
            ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            {
                "StringEquals": {
                    "kms:ViaService": f"s3.{ctx.region}.amazonaws.com",
                    "kms:CallerAccount": ctx.account_id,
                }
            },
        ),
        policy_id="mlops-cost-exports",
    )


def projection_parameters(location: str) -> dict[str, str]:
    """Athena partition projection over the export's billing periods (`BILLING_PERIOD=YYYY-MM` folders, "Understanding
    export delivery"): no crawler and no partition to add each month."""
    return {
        "classification": "parquet",
        "EXTERNAL": "TRUE",
        "projection.enabled": "true",
        "projection.billing_period.type": "date",
        "projection.billing_period.format": "yyyy-MM",
        "projection.billing_period.interval": "1",
        "projection.billing_period.interval.unit": "MONTHS",
        "projection.billing_period.range": "2024-01,NOW",
        "storage.location.template": location + "BILLING_PERIOD=${billing_period}/",
    }


def expiring_rule(rule_id: str, days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Whole-bucket expiry after ``days``; overwritten versions after 30 days, incomplete uploads after 7."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule_id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=days),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=30
        ),
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=7
        ),
    )


@dataclass(frozen=True)
class CostReportingArgs:
    context: PlatformContext  # the primary region's: the bucket, its key and the table live there
    config: CostConfig
    # The us-east-1 provider: Data Exports and Cost Explorer (cost allocation tags) are served there.
    billing_provider: pulumi.ProviderResource
    protect: bool = False


class CostReporting(pulumi.ComponentResource):
    """Cost allocation tags, the CUR 2.0 export, its bucket and key, and the Glue table over it."""

    tags: dict[str, aws.costexplorer.CostAllocationTag]
    key: aws.kms.Key | None
    bucket: SecureBucket | None
    access_logs: SecureBucket | None
    export: aws.bcmdata.Export | None
    database: aws.glue.CatalogDatabase | None
    table: aws.glue.CatalogTable | None

    def __init__(self, name: str, args: CostReportingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:cost:CostReporting", name, None, opts)
        cfg = args.config
        on_billing = child_opts(self, provider=args.billing_provider)
        self.tags = {}
        if cfg.activate_tags:
            for key in COST_ALLOCATION_TAG_KEYS:
                self.tags[key] = aws.costexplorer.CostAllocationTag(
                    f"{name}-tag-{key}",
                    aws.costexplorer.CostAllocationTagArgs(tag_key=key, status="Active"),
                    opts=on_billing,
                )
        self.key = self.bucket = self.access_logs = self.export = self.database = self.table = None
        if cfg.export:
            self._export(name, args, on_billing)
        self.register_outputs(
            {
                "costAllocationTags": list(self.tags),
                "exportArn": self.export.export.apply(lambda e: e.export_arn) if self.export else None,
                "bucket": self.bucket.bucket.bucket if self.bucket else None,
            }
        )

    def _export(self, name: str, args: CostReportingArgs, on_billing: pulumi.ResourceOptions) -> None:
        ctx, cfg = args.context, args.config
        stateful = child_opts(self, protect=args.protect or None, retain_on_delete=ctx.keeps_data or None)
        self.key = aws.kms.Key(
            f"{name}-key",
            aws.kms.KeyArgs(
                description=f"mlops {ctx.environment} cost and usage exports ({ctx.region})",
                policy=json.dumps(export_key_policy(ctx)),
                enable_key_rotation=True,
                rotation_period_in_days=365,
                deletion_window_in_days=30 if ctx.is_prod else 7,
                key_usage="ENCRYPT_DECRYPT",
                customer_master_key_spec="SYMMETRIC_DEFAULT",
                tags=ctx.tagged(purpose="cost-exports"),
            ),
            opts=stateful,
        )
        self.access_logs = SecureBucket(
            f"{name}-access-logs",
            SecureBucketArgs(
                tags=ctx.tagged(Name=f"{name}-access-logs", **{"mlops:purpose": "access-logs"}),
                kms_key_arn=None,  # server access log delivery accepts SSE-S3 only
                lifecycle_rules=[expiring_rule("expire", ACCESS_LOG_DAYS)],
                keeps_data=ctx.keeps_data,
                protect=args.protect,
                ownership_controls=False,
                policy_statements=lambda arn: [
                    {
                        "Sid": "S3ServerAccessLogsWrite",
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"{arn}/{ACCESS_LOG_PREFIX}*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                    }
                ],
                sort_keys=True,
                policy_waits_for=("public-access-block",),
            ),
            parent=self,
        )
        self.bucket = SecureBucket(
            f"{name}-bucket",
            SecureBucketArgs(
                tags=ctx.tagged(Name=f"{name}-bucket", **{"mlops:purpose": "cost-exports"}),
                kms_key_arn=self.key.arn,
                lifecycle_rules=[expiring_rule("expire", retention_days(cfg.export_retention_months))],
                keeps_data=ctx.keeps_data,
                protect=args.protect,
                policy_statements=lambda arn: export_bucket_statements(
                    arn, partition=ctx.partition, account_id=ctx.account_id
                ),
                sort_keys=True,
                policy_waits_for=("public-access-block",),
                access_log=AccessLogTarget(self.access_logs.id, ACCESS_LOG_PREFIX),
                logging_depends_on=[self.access_logs.policy] if self.access_logs.policy else (),
            ),
            parent=self,
        )
        export = export_name(ctx.environment)
        self.export = aws.bcmdata.Export(
            f"{name}-export",
            aws.bcmdata.ExportArgs(
                export=aws.bcmdata.ExportExportArgs(
                    name=export,
                    description=f"mlops {ctx.environment}: CUR 2.0 with split cost allocation data",
                    data_queries=[
                        aws.bcmdata.ExportExportDataQueryArgs(
                            query_statement=query_statement(),
                            table_configurations=table_configuration(cfg.export_granularity),
                        )
                    ],
                    destination_configurations=[
                        aws.bcmdata.ExportExportDestinationConfigurationArgs(
                            s3_destinations=[
                                aws.bcmdata.ExportExportDestinationConfigurationS3DestinationArgs(
                                    s3_bucket=self.bucket.bucket.bucket,
                                    s3_prefix=EXPORT_PREFIX,
                                    s3_region=ctx.region,
                                    s3_output_configurations=[
                                        aws.bcmdata.ExportExportDestinationConfigurationS3DestinationS3OutputConfigurationArgs(
                                            format="PARQUET",
                                            compression="PARQUET",
                                            output_type="CUSTOM",
                                            overwrite="OVERWRITE_REPORT",
                                        )
                                    ],
                                )
                            ]
                        )
                    ],
                    refresh_cadences=[aws.bcmdata.ExportExportRefreshCadenceArgs(frequency="SYNCHRONOUS")],
                ),
                tags=ctx.tagged(Name=export),
            ),
            # Data Exports checks the bucket policy when the export is created.
            opts=pulumi.ResourceOptions.merge(
                on_billing,
                pulumi.ResourceOptions(depends_on=[self.bucket.policy, self.bucket.encryption]),
            ),
        )
        self._table(name, ctx, export)

    def _table(self, name: str, ctx: PlatformContext, export: str) -> None:
        database = f"mlops_{ctx.environment}_cost"
        self.database = aws.glue.CatalogDatabase(
            f"{name}-database",
            aws.glue.CatalogDatabaseArgs(
                name=database,
                description=f"mlops {ctx.environment}: the CUR 2.0 export {export}",
                tags=ctx.tagged(Name=database),
            ),
            opts=child_opts(self),
        )
        assert self.bucket is not None
        location = self.bucket.bucket.bucket.apply(
            lambda bucket: f"s3://{bucket}/{EXPORT_PREFIX}/{export}/data/"
        )
        self.table = aws.glue.CatalogTable(
            f"{name}-table",
            aws.glue.CatalogTableArgs(
                database_name=self.database.name,
                name="cur2",
                table_type="EXTERNAL_TABLE",
                parameters=location.apply(projection_parameters),
                partition_keys=[aws.glue.CatalogTablePartitionKeyArgs(name="billing_period", type="string")],
                storage_descriptor=aws.glue.CatalogTableStorageDescriptorArgs(
                    location=location,
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    ser_de_info=aws.glue.CatalogTableStorageDescriptorSerDeInfoArgs(
                        serialization_library="org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                    columns=[
                        aws.glue.CatalogTableStorageDescriptorColumnArgs(name=column, type=kind)
                        for column, kind in COLUMNS
                    ],
                ),
            ),
            opts=child_opts(self),
        )
