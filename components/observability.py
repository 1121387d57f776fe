"""Governance logging, alerting and metrics: CloudTrail, SNS alert topics, CloudWatch alarms and dashboard,
Amazon Managed Prometheus, Container Insights and Amazon Managed Grafana.

``PlatformObservability`` is built once per environment from plain inputs per region (cluster name, logs key
ARN, database identifier, Karpenter interruption queue name, serving load balancer), so it does not depend on
how the clusters, keys or the registry are built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from components.base import child_opts
from components.config import AlarmThresholds, ObservabilityConfig, TrailConfig

GIB = 1024**3
CONTAINER_INSIGHTS_ADDON = "amazon-cloudwatch-observability"
CLOUDWATCH_AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"
CLOUDWATCH_AGENT_NAMESPACE = "amazon-cloudwatch"

# ---------------------------------------------------------------------------------------------------------
# Pure logic: alarm specifications and policy documents


@dataclass(frozen=True)
class MetricQuery:
    id: str
    namespace: str
    metric_name: str
    stat: str
    dimensions: Mapping[str, pulumi.Input[str]]


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm: a single metric (statistic or percentile) or a metric-math expression."""

    signal: str
    description: str
    namespace: str
    metric_name: str
    comparison: str
    threshold: float
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statistic: str | None = None
    extended_statistic: str | None = None
    expression: str | None = None
    queries: Sequence[MetricQuery] = ()


@dataclass(frozen=True)
class RegionSignals:
    """What one region exposes to monitoring; every field but ``region``/``provider``/``logs_key_arn`` optional.

    ``load_balancer`` is the CloudWatch dimension of the serving ALB (``app/mlops-<env>-serving/<id>``), read
    back by the platform once the controller has made it (components/ingress.py ServingEntry).
    """

    region: str
    provider: pulumi.ProviderResource
    logs_key_arn: pulumi.Input[str]
    cluster_name: pulumi.Input[str] | None = None
    interruption_queue_name: pulumi.Input[str] | None = None
    db_instance_identifier: pulumi.Input[str] | None = None
    load_balancer: pulumi.Input[str] | None = None
    # A managed Prometheus collector scrapes the cluster when its subnets (two or more AZs) and security
    # group are given; with a Kubernetes provider its in-cluster read access is created too.
    scraper_subnet_ids: Sequence[pulumi.Input[str]] = ()
    scraper_security_group_ids: Sequence[pulumi.Input[str]] = ()
    kubernetes_provider: pulumi.ProviderResource | None = None
    # The KEDA operator's role on the region's cluster; it is allowed to query this region's workspace.
    keda_role_name: pulumi.Input[str] | None = None
    # What the cluster's own agents need before their add-on can become active: nodes and the Pod Identity agent.
    nodes_ready: Sequence[pulumi.Resource] = ()


def alarm_specs(signals: RegionSignals, thresholds: AlarmThresholds) -> list[AlarmSpec]:
    """The alarms of one region: only for the signals that region has (a region without RDS has no RDS alarm)."""
    specs: list[AlarmSpec] = []
    if signals.load_balancer:
        lb = {"LoadBalancer": signals.load_balancer}
        specs.append(
            AlarmSpec(
                signal="serving-5xx-rate",
                description=f"Serving load balancer: targets answer 5xx for more than "
                f"{thresholds.load_balancer_5xx_percent:g}% of requests",
                namespace="AWS/ApplicationELB",
                metric_name="HTTPCode_Target_5XX_Count",
                comparison="GreaterThanThreshold",
                threshold=thresholds.load_balancer_5xx_percent,
                expression="IF(requests > 0, 100 * errors / requests, 0)",
                queries=(
                    MetricQuery("errors", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", lb),
                    MetricQuery("requests", "AWS/ApplicationELB", "RequestCount", "Sum", lb),
                ),
            )
        )
        specs.append(
            AlarmSpec(
                signal="serving-p99-latency",
                description=f"Serving load balancer: p99 target response time above {thresholds.p99_latency_seconds:g}s",
                namespace="AWS/ApplicationELB",
                metric_name="TargetResponseTime",
                comparison="GreaterThanThreshold",
                threshold=thresholds.p99_latency_seconds,
                dimensions=lb,
                extended_statistic="p99",
            )
        )
    if signals.cluster_name is not None:
        cluster = {"ClusterName": signals.cluster_name}
        specs.append(
            AlarmSpec(
                signal="node-cpu",
                description=f"Serving cluster nodes: average CPU above {thresholds.node_cpu_percent:g}%",
                namespace="ContainerInsights",
                metric_name="node_cpu_utilization",
                comparison="GreaterThanThreshold",
                threshold=thresholds.node_cpu_percent,
                dimensions=cluster,
                statistic="Average",
            )
        )
        specs.append(
            AlarmSpec(
                signal="node-memory",
                description=f"Serving cluster nodes: average memory above {thresholds.node_memory_percent:g}%",
                namespace="ContainerInsights",
                metric_name="node_memory_utilization",
                comparison="GreaterThanThreshold",
                threshold=thresholds.node_memory_percent,
                dimensions=cluster,
                statistic="Average",
            )
        )
        specs.append(
            AlarmSpec(
                signal="failed-nodes",
                description="Serving cluster: nodes failing their health checks",
                namespace="ContainerInsights",
                metric_name="cluster_failed_node_count",
                comparison="GreaterThanThreshold",
                threshold=0.0,
                dimensions=cluster,
                statistic="Maximum",
            )
        )
    if signals.db_instance_identifier is not None:
        db = {"DBInstanceIdentifier": signals.db_instance_identifier}
        specs += [
            AlarmSpec(
                signal="rds-cpu",
                description=f"Model registry database: CPU above {thresholds.rds_cpu_percent:g}%",
                namespace="AWS/RDS",
                metric_name="CPUUtilization",
                comparison="GreaterThanThreshold",
                threshold=thresholds.rds_cpu_percent,
                dimensions=db,
                statistic="Average",
            ),
            AlarmSpec(
                signal="rds-free-storage",
                description=f"Model registry database: free storage below {thresholds.rds_free_storage_gib:g} GiB",
                namespace="AWS/RDS",
                metric_name="FreeStorageSpace",
                comparison="LessThanThreshold",
                threshold=thresholds.rds_free_storage_gib * GIB,
                dimensions=db,
                statistic="Minimum",
            ),
            AlarmSpec(
                signal="rds-connections",
                description=f"Model registry database: more than {thresholds.rds_connections} connections",
                namespace="AWS/RDS",
                metric_name="DatabaseConnections",
                comparison="GreaterThanThreshold",
                threshold=float(thresholds.rds_connections),
                dimensions=db,
                statistic="Maximum",
            ),
        ]
    if signals.interruption_queue_name is not None:
        specs.append(
            AlarmSpec(
                signal="interruption-queue-age",
                description="Karpenter interruption queue: messages wait longer than "
                f"{thresholds.interruption_queue_age_seconds}s (spot interruptions not handled)",
                namespace="AWS/SQS",
                metric_name="ApproximateAgeOfOldestMessage",
                comparison="GreaterThanThreshold",
                threshold=float(thresholds.interruption_queue_age_seconds),
                dimensions={"QueueName": signals.interruption_queue_name},
                statistic="Maximum",
            )
        )
    return specs


def prometheus_query_url(region: str, workspace_id: str, partition: str = "aws") -> str:
    """The workspace's Prometheus-compatible query root, without a trailing slash: KEDA's prometheus scaler
    appends `/api/v1/query` to `serverAddress` (kedacore/keda v2.17.1 pkg/scalers/prometheus_scaler.go; the
    upstream AMP test uses this form)."""
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://aps-workspaces.{region}.{suffix}/workspaces/{workspace_id}"


def keda_query_policy(workspace_arn: str) -> dict[str, Any]:
    """KEDA's prometheus scaler only runs instant queries (`/api/v1/query`), which AMP authorises as
    aps:QueryMetrics, on this one workspace."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "QueryThisRegionsWorkspace", "Effect": "Allow", "Action": "aps:QueryMetrics",
             "Resource": workspace_arn},
        ],
    }


def scrape_configuration(interval_seconds: int = 30) -> str:
    """Prometheus scrape configuration of the managed collector: the API server and every pod or service
    annotated ``prometheus.io/scrape: "true"`` (model servers publish request and latency metrics this way)."""

    def annotated(role: str) -> dict[str, Any]:
        meta = f"__meta_kubernetes_{role}_annotation"
        return {
            "job_name": f"annotated-{role}s",
            "kubernetes_sd_configs": [{"role": "endpoints" if role == "service" else role}],
            "relabel_configs": [
                {"source_labels": [f"{meta}_prometheus_io_scrape"], "action": "keep", "regex": "true"},
                {"source_labels": [f"{meta}_prometheus_io_path"], "action": "replace",
                 "target_label": "__metrics_path__", "regex": "(.+)"},
                {"source_labels": ["__address__", f"{meta}_prometheus_io_port"], "action": "replace",
                 "regex": "([^:]+)(?::\\d+)?;(\\d+)", "replacement": "$1:$2", "target_label": "__address__"},
                {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                {"source_labels": [f"__meta_kubernetes_{role}_name"], "target_label": role},
                # Model pods carry app and version labels; the requests-per-second queries select on them.
                {"source_labels": [f"__meta_kubernetes_{role}_label_app"], "target_label": "app"},
                {"source_labels": [f"__meta_kubernetes_{role}_label_version"], "target_label": "version"},
            ],
        }

    config = {
        "global": {"scrape_interval": f"{interval_seconds}s", "external_labels": {"collector": "managed"}},
        "scrape_configs": [
            {
                "job_name": "kubernetes-apiservers",
                "kubernetes_sd_configs": [{"role": "endpoints"}],
                "scheme": "https",
                "bearer_token_file": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                "tls_config": {"ca_file": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                               "insecure_skip_verify": False},
                "relabel_configs": [
                    {"source_labels": ["__meta_kubernetes_namespace", "__meta_kubernetes_service_name",
                                       "__meta_kubernetes_endpoint_port_name"],
                     "action": "keep", "regex": "default;kubernetes;https"},
                ],
            },
            annotated("pod"),
            annotated("service"),
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def alert_topic_policy(topic_arn: str, *, partition: str, account_id: str, region: str) -> dict[str, Any]:
    """Topic policy: CloudWatch alarms of this account and region may publish; the account manages it; TLS only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManagesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                "Action": [
                    "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe",
                    "sns:ListSubscriptionsByTopic", "sns:Publish",
                ],
                "Resource": topic_arn,
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:*"},
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def trail_bucket_policy(bucket_arn: str, *, trail_arn: str, account_id: str) -> dict[str, Any]:
    """CloudTrail may check the ACL and write its own prefix, for this trail only; nobody may use plain HTTP."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"},
                    "ArnEquals": {"aws:SourceArn": trail_arn},
                },
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def service_trust(service: str, *, account_id: str, source_arn: str | None = None, tag_session: bool = False) -> dict:
    """A trust policy for an AWS service principal, pinned to this account (and a source ARN when known)."""
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": ["sts:AssumeRole", "sts:TagSession"] if tag_session else "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------------------
# CloudTrail


@dataclass(frozen=True)
class GovernanceTrailArgs:
    environment: str
    account_id: str
    partition: str
    region: str
    logs_key_arn: pulumi.Input[str]
    log_retention_days: int
    trail: TrailConfig
    tags: Mapping[str, str]
    protect: bool = False
    # Server access logs of the trail bucket go here when a platform access-log bucket exists.
    access_log_bucket: pulumi.Input[str] | None = None

    @property
    def trail_name(self) -> str:
        return f"mlops-{self.environment}-trail"

    @property
    def trail_arn(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.account_id}:trail/{self.trail_name}"


class GovernanceTrail(pulumi.ComponentResource):
    """A multi-region CloudTrail with log file validation, KMS, a hardened bucket and a CloudWatch log group."""

    def __init__(self, name: str, args: GovernanceTrailArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:GovernanceTrail", name, None, opts)
        tags = dict(args.tags)
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            # Dev is disposable: its trail bucket is emptied on destroy; elsewhere the audit trail outlives it.
            aws.s3.BucketArgs(force_destroy=args.environment == "dev", tags={**tags, "Name": f"{name}-bucket"}),
            opts=child_opts(self, protect=args.protect),
        )
        self.ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=self.bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            opts=child_opts(self),
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=self.bucket.id,
                block_public_acls=True, block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            ),
            opts=child_opts(self),
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=self.bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=args.logs_key_arn
                        ),
                        bucket_key_enabled=True,
                    )
                ],
            ),
            opts=child_opts(self),
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child_opts(self),
        )
        self.lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=self.bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="archive-then-expire",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        transitions=[
                            aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                                days=args.trail.glacier_after_days, storage_class="GLACIER"
                            )
                        ],
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=args.trail.retention_days
                        ),
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=30
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=7
                        ),
                    )
                ],
            ),
            opts=child_opts(self, depends_on=[self.versioning]),
        )
        # Server access logs go to the platform's access-log bucket, or to one of the trail's own.
        self.access_log_bucket: aws.s3.Bucket | None = None
        target = args.access_log_bucket
        if target is None:
            self._own_access_log_bucket(name, args, tags)
            target = self.access_log_bucket.id
        self.access_logging = aws.s3.BucketLogging(
            f"{name}-access-logging",
            aws.s3.BucketLoggingInitArgs(bucket=self.bucket.id, target_bucket=target, target_prefix="cloudtrail/"),
            opts=child_opts(self, depends_on=[self.access_log_policy] if self.access_log_bucket else None),
        )
        self.bucket_policy = aws.s3.BucketPolicy(
            f"{name}-bucket-policy",
            aws.s3.BucketPolicyArgs(
                bucket=self.bucket.id,
                policy=self.bucket.arn.apply(
                    lambda arn: json.dumps(
                        trail_bucket_policy(arn, trail_arn=args.trail_arn, account_id=args.account_id), sort_keys=True
                    )
                ),
            ),
            # The public access block must exist first: it is what makes a Deny-to-"*" policy safe to apply.
            opts=child_opts(self, depends_on=[self.public_access_block, self.ownership]),
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-log-group",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/cloudtrail/mlops-{args.environment}",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags={**tags, "Name": f"{name}-log-group"},
            ),
            opts=child_opts(self),
        )
        self.logs_role = aws.iam.Role(
            f"{name}-logs-role",
            aws.iam.RoleArgs(
                description="CloudTrail delivers the platform's trail to its CloudWatch log group",
                assume_role_policy=json.dumps(
                    service_trust("cloudtrail.amazonaws.com", account_id=args.account_id, source_arn=args.trail_arn)
                ),
                tags={**tags, "Name": f"{name}-logs-role"},
            ),
            opts=child_opts(self),
        )
        self.logs_role_policy = aws.iam.RolePolicy(
            f"{name}-logs-role-policy",
            aws.iam.RolePolicyArgs(
                role=self.logs_role.id,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "WriteTrailLogStreams",
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": pulumi.Output.concat(self.log_group.arn, ":log-stream:*"),
                            }
                        ],
                    }
                ),
            ),
            opts=child_opts(self),
        )
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            aws.cloudtrail.TrailArgs(
                name=args.trail_name,
                s3_bucket_name=self.bucket.id,
                kms_key_id=args.logs_key_arn,
                is_multi_region_trail=True,
                include_global_service_events=True,
                enable_log_file_validation=True,
                enable_logging=True,
                cloud_watch_logs_group_arn=pulumi.Output.concat(self.log_group.arn, ":*"),
                cloud_watch_logs_role_arn=self.logs_role.arn,
                event_selectors=[
                    aws.cloudtrail.TrailEventSelectorArgs(read_write_type="All", include_management_events=True)
                ],
                tags={**tags, "Name": args.trail_name},
            ),
            opts=child_opts(
                self, depends_on=[self.bucket_policy, self.encryption, self.logs_role_policy]
            ),
        )
        self.register_outputs(
            {"trailArn": self.trail.arn, "bucket": self.bucket.id, "logGroupArn": self.log_group.arn}
        )

    def _own_access_log_bucket(self, name: str, args: GovernanceTrailArgs, tags: dict) -> None:
        """A bucket for the trail bucket's server access logs: private, versioned, TLS-only, expiring.

        S3 server access logging only delivers to SSE-S3 buckets, so this one cannot use the logs key.
        """
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            aws.s3.BucketArgs(force_destroy=args.environment == "dev", tags={**tags, "Name": f"{name}-access-logs"}),
            opts=child_opts(self, protect=args.protect),
        )
        self.access_log_bucket = bucket
        self.access_log_public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs-public-access-block",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket.id,
                block_public_acls=True, block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True,
            ),
            opts=child_opts(self),
        )
        self.access_log_encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        ),
                    )
                ],
            ),
            opts=child_opts(self),
        )
        self.access_log_versioning = aws.s3.BucketVersioning(
            f"{name}-access-logs-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child_opts(self),
        )
        self.access_log_lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=365),
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=30
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=7
                        ),
                    )
                ],
            ),
            opts=child_opts(self, depends_on=[self.access_log_versioning]),
        )
        self.access_log_policy = aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            aws.s3.BucketPolicyArgs(
                bucket=bucket.id,
                policy=bucket.arn.apply(
                    lambda arn: json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Sid": "S3ServerAccessLogsWrite",
                                    "Effect": "Allow",
                                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                                    "Action": "s3:PutObject",
                                    "Resource": f"{arn}/cloudtrail/*",
                                    "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                                },
                                {
                                    "Sid": "DenyInsecureTransport",
                                    "Effect": "Deny",
                                    "Principal": "*",
                                    "Action": "s3:*",
                                    "Resource": [arn, f"{arn}/*"],
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                },
                            ],
                        },
                        sort_keys=True,
                    )
                ),
            ),
            opts=child_opts(self, depends_on=[self.access_log_public_access_block]),
        )


# ---------------------------------------------------------------------------------------------------------
# Per-region monitoring: alert topic, alarms, managed Prometheus and Container Insights


@dataclass(frozen=True)
class RegionalMonitoringArgs:
    environment: str
    account_id: str
    partition: str
    signals: RegionSignals
    config: ObservabilityConfig
    log_retention_days: int
    tags: Mapping[str, str]


class RegionalMonitoring(pulumi.ComponentResource):
    """One region's alert topic (KMS, CloudWatch-only publishing) with its subscriptions, the region's alarms
    wired to it, a managed Prometheus workspace and, on the region's cluster, Container Insights.

    CloudWatch alarms can only notify a topic in their own region, so each region has its own topic with the
    same subscribers.
    """

    def __init__(self, name: str, args: RegionalMonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:RegionalMonitoring", name, None, opts)
        signals, env, tags = args.signals, args.environment, dict(args.tags)
        prefix = f"mlops-{env}-{signals.region}"
        self.topic = aws.sns.Topic(
            f"{name}-alerts",
            aws.sns.TopicArgs(
                name=f"{prefix}-alerts",
                display_name=f"mlops {env} {signals.region} alerts",
                kms_master_key_id=signals.logs_key_arn,
                tags={**tags, "Name": f"{prefix}-alerts"},
            ),
            opts=child_opts(self),
        )
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            aws.sns.TopicPolicyArgs(
                arn=self.topic.arn,
                policy=self.topic.arn.apply(
                    lambda arn: json.dumps(
                        alert_topic_policy(
                            arn, partition=args.partition, account_id=args.account_id, region=signals.region
                        ),
                        sort_keys=True,
                    )
                ),
            ),
            opts=child_opts(self),
        )
        self.subscriptions = [
            aws.sns.TopicSubscription(
                f"{name}-alerts-{subscription.protocol}-{index}",
                aws.sns.TopicSubscriptionArgs(
                    topic=self.topic.arn, protocol=subscription.protocol, endpoint=subscription.endpoint
                ),
                opts=child_opts(self),
            )
            for index, subscription in enumerate(args.config.subscriptions)
        ]

        thresholds = args.config.thresholds
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for spec in alarm_specs(signals, thresholds):
            common = dict(
                name=f"{prefix}-{spec.signal}",
                alarm_description=spec.description,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                evaluation_periods=thresholds.evaluation_periods,
                datapoints_to_alarm=thresholds.datapoints_to_alarm,
                # No traffic or no data is not an incident; a missing cluster shows up in other alarms.
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic.arn],
                ok_actions=[self.topic.arn],
                tags={**tags, "Name": f"{prefix}-{spec.signal}"},
            )
            if spec.expression is not None:
                alarm_args = aws.cloudwatch.MetricAlarmArgs(
                    **common,
                    metric_queries=[
                        *[
                            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                                id=query.id,
                                return_data=False,
                                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                                    namespace=query.namespace,
                                    metric_name=query.metric_name,
                                    stat=query.stat,
                                    period=thresholds.period_seconds,
                                    dimensions=dict(query.dimensions),
                                ),
                            )
                            for query in spec.queries
                        ],
                        aws.cloudwatch.MetricAlarmMetricQueryArgs(
                            id="rate", expression=spec.expression, label=spec.signal, return_data=True
                        ),
                    ],
                )
            else:
                alarm_args = aws.cloudwatch.MetricAlarmArgs(
                    **common,
                    namespace=spec.namespace,
                    metric_name=spec.metric_name,
                    dimensions=dict(spec.dimensions),
                    period=thresholds.period_seconds,
                    statistic=spec.statistic,
                    extended_statistic=spec.extended_statistic,
                )
            self.alarms[spec.signal] = aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.signal}", alarm_args, opts=child_opts(self, depends_on=[self.topic_policy])
            )

        self.prometheus_log_group = aws.cloudwatch.LogGroup(
            f"{name}-prometheus-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/vendedlogs/prometheus/{prefix}",
                kms_key_id=signals.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags={**tags, "Name": f"{prefix}-prometheus-logs"},
            ),
            opts=child_opts(self),
        )
        customer_key = args.config.prometheus_encryption == "customer-key"
        self.prometheus = aws.amp.Workspace(
            f"{name}-prometheus",
            aws.amp.WorkspaceArgs(
                alias=prefix,
                # A managed collector writes to a customer-key workspace only through a scraper role
                # configuration, which the platform does not build (ObservabilityConfig.prometheus_encryption).
                kms_key_arn=signals.logs_key_arn if customer_key else None,
                logging_configuration=aws.amp.WorkspaceLoggingConfigurationArgs(
                    log_group_arn=pulumi.Output.concat(self.prometheus_log_group.arn, ":*")
                ),
                tags={**tags, "Name": prefix},
            ),
            opts=child_opts(self),
        )

        self.query_url = self.prometheus.id.apply(
            lambda workspace_id: prometheus_query_url(signals.region, workspace_id, args.partition)
        )
        self.keda_query_policy: aws.iam.RolePolicy | None = None
        if signals.keda_role_name is not None:
            self.keda_query_policy = aws.iam.RolePolicy(
                f"{name}-keda-query",
                aws.iam.RolePolicyArgs(
                    role=signals.keda_role_name,
                    policy=self.prometheus.arn.apply(lambda arn: json.dumps(keda_query_policy(arn))),
                ),
                opts=child_opts(self),
            )

        self.scraper: aws.amp.Scraper | None = None
        if signals.cluster_name is not None and signals.scraper_subnet_ids and not customer_key:
            self._scraper(name, args, prefix, tags)

        self.insights_log_group: aws.cloudwatch.LogGroup | None = None
        self.insights_role: aws.iam.Role | None = None
        self.insights_addon: aws.eks.Addon | None = None
        if signals.cluster_name is not None and args.config.container_insights:
            self._container_insights(name, args, prefix, tags)

        self.register_outputs(
            {
                "topicArn": self.topic.arn,
                "alarmNames": sorted(self.alarms),
                "prometheusWorkspaceId": self.prometheus.id,
                "prometheusEndpoint": self.prometheus.prometheus_endpoint,
            }
        )

    def _scraper(self, name: str, args: RegionalMonitoringArgs, prefix: str, tags: dict) -> None:
        signals = args.signals
        if len(signals.scraper_subnet_ids) < 2 or not signals.scraper_security_group_ids:
            raise ValueError(
                f"{signals.region}: the Prometheus collector needs subnets in two or more AZs and a security group"
            )
        cluster_arn = pulumi.Output.concat(
            f"arn:{args.partition}:eks:{signals.region}:{args.account_id}:cluster/", signals.cluster_name
        )
        self.scraper = aws.amp.Scraper(
            f"{name}-scraper",
            aws.amp.ScraperArgs(
                alias=f"{prefix}-models",
                scrape_configuration=scrape_configuration(),
                source=aws.amp.ScraperSourceArgs(
                    eks=aws.amp.ScraperSourceEksArgs(
                        cluster_arn=cluster_arn,
                        subnet_ids=list(signals.scraper_subnet_ids),
                        security_group_ids=list(signals.scraper_security_group_ids),
                    )
                ),
                destination=aws.amp.ScraperDestinationArgs(
                    amp=aws.amp.ScraperDestinationAmpArgs(workspace_arn=self.prometheus.arn)
                ),
                tags={**tags, "Name": f"{prefix}-models"},
            ),
            opts=child_opts(self),
        )
        # No access entry or RBAC here: on a cluster in API authentication mode the collector creates its own
        # access entry with its access policy when the scraper is created (AWS: "Configure Amazon EKS for scraper
        # access with access entries"), and EKS allows one access entry per principal.

    def _container_insights(self, name: str, args: RegionalMonitoringArgs, prefix: str, tags: dict) -> None:
        signals = args.signals
        cluster_arn = pulumi.Output.concat(
            f"arn:{args.partition}:eks:{signals.region}:{args.account_id}:cluster/", signals.cluster_name
        )
        # The agent would create this group itself, unencrypted and kept forever; create it first with KMS.
        self.insights_log_group = aws.cloudwatch.LogGroup(
            f"{name}-insights-logs",
            aws.cloudwatch.LogGroupArgs(
                name=pulumi.Output.concat("/aws/containerinsights/", signals.cluster_name, "/performance"),
                kms_key_id=signals.logs_key_arn,
                retention_in_days=args.log_retention_days,
                tags={**tags, "Name": f"{prefix}-insights-logs"},
            ),
            opts=child_opts(self),
        )
        self.insights_role = aws.iam.Role(
            f"{name}-insights-role",
            aws.iam.RoleArgs(
                description="CloudWatch agent of Container Insights (EKS Pod Identity)",
                assume_role_policy=cluster_arn.apply(
                    lambda arn: json.dumps(
                        service_trust(
                            "pods.eks.amazonaws.com", account_id=args.account_id, source_arn=arn, tag_session=True
                        )
                    )
                ),
                tags={**tags, "Name": f"{prefix}-insights-role"},
            ),
            opts=child_opts(self),
        )
        self.insights_policy = aws.iam.RolePolicyAttachment(
            f"{name}-insights-agent-policy",
            aws.iam.RolePolicyAttachmentArgs(
                role=self.insights_role.name,
                policy_arn=f"arn:{args.partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
            ),
            opts=child_opts(self),
        )
        self.insights_addon = aws.eks.Addon(
            f"{name}-container-insights",
            aws.eks.AddonArgs(
                cluster_name=signals.cluster_name,
                addon_name=CONTAINER_INSIGHTS_ADDON,
                # Metrics only: container logs would create further log groups outside this stack's control.
                configuration_values=json.dumps({"containerLogs": {"enabled": False}}, sort_keys=True),
                pod_identity_associations=[
                    aws.eks.AddonPodIdentityAssociationArgs(
                        role_arn=self.insights_role.arn, service_account=CLOUDWATCH_AGENT_SERVICE_ACCOUNT
                    )
                ],
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="PRESERVE",
                tags={**tags, "Name": f"{prefix}-container-insights"},
            ),
            opts=child_opts(self, depends_on=[self.insights_log_group, self.insights_policy, *signals.nodes_ready]),
        )


# ---------------------------------------------------------------------------------------------------------
# Dashboard


def dashboard_body(regions: Sequence[RegionSignals], alarm_arns: Sequence[pulumi.Input[str]], period: int) -> dict:
    """The dashboard: an alarm overview, then one row of widgets per region for the same metrics as the alarms.

    The result may contain Outputs (cluster names); serialise it with ``pulumi.Output.json_dumps``.
    """
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0, "y": 0, "width": 24, "height": 4,
            "properties": {"title": "Alarms", "alarms": list(alarm_arns), "sortBy": "stateUpdatedTimestamp"},
        }
    ]
    y = 4

    def metric(region: str, title: str, metrics: list[list[Any]], x: int, **extra: Any) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x, "y": y, "width": 8, "height": 6,
            "properties": {"title": f"{region}: {title}", "region": region, "view": "timeSeries",
                           "period": period, "metrics": metrics, **extra},
        }

    for signals in regions:
        region = signals.region
        row: list[dict[str, Any]] = []
        if signals.load_balancer:
            lb = signals.load_balancer
            row.append(metric(region, "serving requests and 5xx", [
                ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb, {"stat": "Sum"}],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", lb, {"stat": "Sum"}],
            ], 0))
            row.append(metric(region, "serving p99 latency", [
                ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", lb, {"stat": "p99"}],
            ], 8))
        if signals.cluster_name is not None:
            row.append(metric(region, "node CPU and memory %", [
                ["ContainerInsights", "node_cpu_utilization", "ClusterName", signals.cluster_name, {"stat": "Average"}],
                ["ContainerInsights", "node_memory_utilization", "ClusterName", signals.cluster_name,
                 {"stat": "Average"}],
                ["ContainerInsights", "cluster_failed_node_count", "ClusterName", signals.cluster_name,
                 {"stat": "Maximum", "yAxis": "right"}],
            ], 16))
        if signals.db_instance_identifier is not None:
            db = signals.db_instance_identifier
            row.append(metric(region, "registry database", [
                ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db, {"stat": "Average"}],
                ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db, {"stat": "Maximum", "yAxis": "right"}],
            ], 0))
            row.append(metric(region, "registry database free storage", [
                ["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", db, {"stat": "Minimum"}],
            ], 8))
        if signals.interruption_queue_name is not None:
            row.append(metric(region, "Karpenter interruption queue age", [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", signals.interruption_queue_name,
                 {"stat": "Maximum"}],
            ], 16))
        # Lay the row out left to right, three widgets per line.
        for index, widget in enumerate(row):
            widget["x"] = (index % 3) * 8
            widget["y"] = y + (index // 3) * 6
        widgets += row
        y += ((len(row) + 2) // 3) * 6
    return {"start": "-PT6H", "periodOverride": "inherit", "widgets": widgets}


# ---------------------------------------------------------------------------------------------------------
# The environment's observability


GRAFANA_ROLES = ("ADMIN", "EDITOR", "VIEWER")


@dataclass(frozen=True)
class PlatformObservabilityArgs:
    environment: str
    account_id: str
    partition: str
    config: ObservabilityConfig
    regions: Sequence[RegionSignals]  # the first is the primary region (trail, dashboard, Grafana)
    log_retention_days: int
    tags: Mapping[str, str]
    protect: bool = False
    access_log_bucket: pulumi.Input[str] | None = None
    # Grafana role (ADMIN/EDITOR/VIEWER) -> Identity Center group ids.
    grafana_groups: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.regions:
            raise ValueError("PlatformObservabilityArgs.regions: at least one region is needed")
        unknown = sorted(set(self.grafana_groups) - set(GRAFANA_ROLES))
        if unknown:
            raise ValueError(f"grafana_groups: unknown roles {unknown}; allowed: {', '.join(GRAFANA_ROLES)}")


class PlatformObservability(pulumi.ComponentResource):
    """The environment's governance trail (primary region, multi-region), per-region monitoring, one dashboard
    and, when enabled, a Managed Grafana workspace with Identity Center sign-in reading every region's
    Prometheus workspace and CloudWatch.

    Attributes: ``trail`` (GovernanceTrail), ``regional`` (region -> RegionalMonitoring), ``dashboard``,
    ``grafana`` / ``grafana_role`` (or None), ``alert_topic_arn`` (primary region's topic).
    """

    def __init__(self, name: str, args: PlatformObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:observability:PlatformObservability", name, None, opts)
        primary = args.regions[0]
        env, tags = args.environment, dict(args.tags)
        self.trail = GovernanceTrail(
            f"{name}-trail",
            GovernanceTrailArgs(
                environment=env, account_id=args.account_id, partition=args.partition, region=primary.region,
                logs_key_arn=primary.logs_key_arn, log_retention_days=args.log_retention_days,
                trail=args.config.trail, tags=tags, protect=args.protect, access_log_bucket=args.access_log_bucket,
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        self.regional: dict[str, RegionalMonitoring] = {
            signals.region: RegionalMonitoring(
                f"{name}-{signals.region}",
                RegionalMonitoringArgs(
                    environment=env, account_id=args.account_id, partition=args.partition, signals=signals,
                    config=args.config, log_retention_days=args.log_retention_days, tags=tags,
                ),
                opts=child_opts(self, provider=signals.provider),
            )
            for signals in args.regions
        }
        alarm_arns = [alarm.arn for monitoring in self.regional.values() for alarm in monitoring.alarms.values()]
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            aws.cloudwatch.DashboardArgs(
                dashboard_name=f"mlops-{env}",
                dashboard_body=pulumi.Output.json_dumps(
                    dashboard_body(args.regions, alarm_arns, args.config.thresholds.period_seconds)
                ),
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        self.grafana_role: aws.iam.Role | None = None
        self.grafana: aws.grafana.Workspace | None = None
        self.grafana_role_associations: dict[str, aws.grafana.RoleAssociation] = {}
        if args.config.grafana:
            self._grafana(name, args, primary, tags)
        self.alert_topic_arn = self.regional[primary.region].topic.arn
        self.register_outputs(
            {
                "trailArn": self.trail.trail.arn,
                "alertTopicArn": self.alert_topic_arn,
                "dashboardName": self.dashboard.dashboard_name,
                "grafanaEndpoint": self.grafana.endpoint if self.grafana is not None else None,
            }
        )

    def contract_values(self) -> dict[str, Any]:
        """The values of ``ObservabilityOutputs`` (components/outputs.py)."""
        return {
            "alert_topic_arn": self.alert_topic_arn,
            "alert_topic_arns": {region: monitoring.topic.arn for region, monitoring in self.regional.items()},
            "trail_arn": self.trail.trail.arn,
            "amp_workspace_ids": {region: monitoring.prometheus.id for region, monitoring in self.regional.items()},
            "prometheus_endpoints": {
                region: monitoring.prometheus.prometheus_endpoint for region, monitoring in self.regional.items()
            },
            # Only where requests-per-second scaling works: a collector fills the workspace and KEDA may query it.
            "prometheus_query_urls": {
                region: monitoring.query_url for region, monitoring in self.regional.items()
                if monitoring.scraper is not None and monitoring.keda_query_policy is not None
            },
            "grafana_url": pulumi.Output.concat("https://", self.grafana.endpoint) if self.grafana is not None else None,
            "dashboard_name": self.dashboard.dashboard_name,
            "alarm_names": {
                region: [alarm.name for _, alarm in sorted(monitoring.alarms.items())]
                for region, monitoring in self.regional.items()
            },
        }

    def _grafana(self, name: str, args: PlatformObservabilityArgs, primary: RegionSignals, tags: dict) -> None:
        env = args.environment
        workspaces = [monitoring.prometheus.arn for monitoring in self.regional.values()]
        self.grafana_role = aws.iam.Role(
            f"{name}-grafana-role",
            aws.iam.RoleArgs(
                description="Managed Grafana reads the platform's Prometheus workspaces and CloudWatch",
                assume_role_policy=json.dumps(
                    service_trust(
                        "grafana.amazonaws.com", account_id=args.account_id,
                        source_arn=f"arn:{args.partition}:grafana:{primary.region}:{args.account_id}:/workspaces/*",
                    )
                ),
                tags={**tags, "Name": f"{name}-grafana-role"},
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        self.grafana_role_policy = aws.iam.RolePolicy(
            f"{name}-grafana-read",
            aws.iam.RolePolicyArgs(
                role=self.grafana_role.id,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "QueryPlatformPrometheus",
                                "Effect": "Allow",
                                "Action": [
                                    "aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata",
                                    "aps:DescribeWorkspace",
                                ],
                                "Resource": workspaces,
                            },
                            {
                                # CloudWatch metric reads have no resource-level permissions.
                                "Sid": "ReadCloudWatchMetrics",
                                "Effect": "Allow",
                                "Action": [
                                    "cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmsForMetric",
                                    "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetMetricData",
                                    "cloudwatch:ListMetrics", "cloudwatch:GetInsightRuleReport",
                                    "ec2:DescribeRegions", "tag:GetResources",
                                ],
                                "Resource": "*",
                            },
                            {
                                "Sid": "QueryPlatformLogs",
                                "Effect": "Allow",
                                "Action": [
                                    "logs:GetLogGroupFields", "logs:StartQuery", "logs:GetQueryResults",
                                    "logs:GetLogEvents",
                                ],
                                "Resource": [
                                    f"arn:{args.partition}:logs:{signals.region}:{args.account_id}:log-group:*"
                                    for signals in args.regions
                                ],
                            },
                            {
                                # Listing log groups and stopping a query have no resource-level permissions.
                                "Sid": "ListLogGroupsAndStopQueries",
                                "Effect": "Allow",
                                "Action": ["logs:DescribeLogGroups", "logs:StopQuery"],
                                "Resource": "*",
                            },
                        ],
                    }
                ),
            ),
            opts=child_opts(self, provider=primary.provider),
        )
        self.grafana = aws.grafana.Workspace(
            f"{name}-grafana",
            aws.grafana.WorkspaceArgs(
                name=f"mlops-{env}",
                description=f"Dashboards of the mlops {env} platform",
                account_access_type="CURRENT_ACCOUNT",
                authentication_providers=["AWS_SSO"],
                permission_type="CUSTOMER_MANAGED",
                role_arn=self.grafana_role.arn,
                data_sources=["PROMETHEUS", "CLOUDWATCH"],
                tags={**tags, "Name": f"mlops-{env}-grafana"},
            ),
            opts=child_opts(self, provider=primary.provider, depends_on=[self.grafana_role_policy]),
        )
        for role, groups in args.grafana_groups.items():
            if groups:
                self.grafana_role_associations[role] = aws.grafana.RoleAssociation(
                    f"{name}-grafana-{role.lower()}",
                    aws.grafana.RoleAssociationArgs(
                        workspace_id=self.grafana.id, role=role, group_ids=list(groups)
                    ),
                    opts=child_opts(self, provider=primary.provider),
                )
