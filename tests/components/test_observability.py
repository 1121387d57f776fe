"""CloudTrail, alert topics, alarms, the dashboard, managed Prometheus, Container Insights and Grafana."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from components.blocks import PlatformContext
from components.observability.config import AlarmThresholds
from components.observability.guardduty import findings_rule_name
from components.observability.monitoring import alarm_specs, dashboard_body
from components.observability.prometheus import scrape_configuration
from components.observability.signals import RegionSignals
from components.observability.topics import alert_topic_policy
from tests.conftest import by_name, states

ACCOUNT = "333333333333"
KEY = {
    region: f"arn:aws:kms:{region}:{ACCOUNT}:key/mrk-0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
    for region in ("us-east-1", "us-west-2")
}
LB = {
    "us-east-1": "app/mlops-prod-serving/50dc6c495c0c9188",
    "us-west-2": "app/mlops-prod-serving/6e3f2b1a0c9d8e7f",
}
GIB = 1024**3


def alarms(document) -> dict[str, dict]:
    """The regions' monitoring alarms (the zone's DNSSEC alarms are tests/components/test_dnssec_alarms.py's)."""
    return {
        s["inputs"]["name"]: s
        for s in states(document, "aws:cloudwatch/metricAlarm:MetricAlarm")
        if "::dns-dnssec-alarms-" not in s["urn"]
    }


def topic_arn(region: str) -> str:
    return f"arn:aws:sns:{region}:{ACCOUNT}:mlops-prod-{region}-alerts"


# ---------------------------------------------------------------------------------------------------------
# Pure logic


def test_alarm_specs_only_for_the_signals_a_region_has():
    thresholds = AlarmThresholds()
    bare = RegionSignals(region="eu-west-1", provider=None, logs_key_arn="k")  # type: ignore[arg-type]
    assert alarm_specs(bare, thresholds) == []
    cluster_only = RegionSignals(region="eu-west-1", provider=None, logs_key_arn="k", cluster_name="c")  # type: ignore[arg-type]
    assert [spec.signal for spec in alarm_specs(cluster_only, thresholds)] == [
        "node-cpu",
        "node-memory",
        "failed-nodes",
    ]


def test_topic_policy_lets_only_this_accounts_alarms_publish():
    policy = alert_topic_policy(
        "arn:aws:sns:us-east-1:1:t", PlatformContext("prod", "aws", "111111111111", "us-east-1")
    )
    publish = next(s for s in policy["Statement"] if s["Sid"] == "CloudWatchAlarmsPublish")
    assert publish == {
        "Sid": "CloudWatchAlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": "arn:aws:sns:us-east-1:1:t",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": "111111111111"},
            "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:111111111111:alarm:*"},
        },
    }


def test_dashboard_rows_follow_the_signals():
    regions = [
        RegionSignals(
            region="us-east-1",
            provider=None,
            logs_key_arn="k",
            cluster_name="c1",  # type: ignore[arg-type]
            load_balancer="app/a/0123456789abcdef",
            db_instance_identifier="db",
            interruption_queue_name="q1",
        ),
        RegionSignals(region="us-west-2", provider=None, logs_key_arn="k", cluster_name="c2"),  # type: ignore[arg-type]
    ]
    body = dashboard_body(regions, ["arn:alarm"], 60)
    metric_widgets = [w for w in body["widgets"] if w["type"] == "metric"]
    assert [(w["properties"]["region"], w["x"], w["y"]) for w in metric_widgets] == [
        ("us-east-1", 0, 4),
        ("us-east-1", 8, 4),
        ("us-east-1", 16, 4),
        ("us-east-1", 0, 10),
        ("us-east-1", 8, 10),
        ("us-east-1", 16, 10),
        ("us-west-2", 0, 16),
    ]
    assert body["widgets"][0]["properties"]["alarms"] == ["arn:alarm"]


# ---------------------------------------------------------------------------------------------------------
# The synthesised fixture program: CloudTrail


def test_trail_is_multi_region_validated_and_encrypted(observe):
    trail = by_name(observe, "observability-trail-trail")
    bucket = by_name(observe, "observability-trail-bucket")
    log_group = by_name(observe, "observability-trail-log-group")
    role = by_name(observe, "observability-trail-logs-role")
    inputs = trail["inputs"]
    assert inputs["isMultiRegionTrail"] is True
    assert inputs["enableLogFileValidation"] is True
    assert inputs["includeGlobalServiceEvents"] is True
    assert inputs["kmsKeyId"] == KEY["us-east-1"]
    assert inputs["name"] == "mlops-prod-trail"
    assert inputs["s3BucketName"] == bucket["id"]
    assert (
        inputs["cloudWatchLogsGroupArn"]
        == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/cloudtrail/mlops-prod:*"
    )
    assert inputs["cloudWatchLogsRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{role['id']}"
    assert by_name(observe, "observability-trail-bucket-policy")["urn"] in trail["dependencies"]
    assert log_group["inputs"]["kmsKeyId"] == KEY["us-east-1"]
    assert log_group["inputs"]["retentionInDays"] == 365
    assert bucket["protect"] is True
    assert by_name(observe, "observability-trail")["type"] == "mlops:observability:GovernanceTrail"
    assert (
        observe["outputs"]["observability"]["trailArn"]
        == f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/mlops-prod-trail"
    )


def test_trail_bucket_is_hardened(observe):
    bucket_id = by_name(observe, "observability-trail-bucket")["id"]
    pab = by_name(observe, "observability-trail-public-access-block")["inputs"]
    assert pab == {
        "bucket": bucket_id,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    sse = by_name(observe, "observability-trail-encryption")["inputs"]["rules"]
    assert sse == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": KEY["us-east-1"],
            },
            "bucketKeyEnabled": True,
        }
    ]
    versioning = by_name(observe, "observability-trail-versioning")["inputs"]
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    rule = by_name(observe, "observability-trail-lifecycle")["inputs"]["rules"][0]
    assert rule["transitions"] == [{"days": 90, "storageClass": "GLACIER"}]
    assert rule["expiration"] == {"days": 2557}
    assert rule["status"] == "Enabled"
    # The platform creates no access-log bucket of its own, so the trail's server access logs go to the
    # trail's own access-log bucket.
    logging = by_name(observe, "observability-trail-access-logging")["inputs"]
    assert logging["targetBucket"] == by_name(observe, "observability-trail-access-logs")["id"]
    policy = json.loads(by_name(observe, "observability-trail-bucket-policy")["inputs"]["policy"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/mlops-prod-trail"
    assert by_sid["CloudTrailWrite"] == {
        "Sid": "CloudTrailWrite",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket_id}/AWSLogs/{ACCOUNT}/*",
        "Condition": {
            "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"},
            "ArnEquals": {"aws:SourceArn": trail_arn},
        },
    }
    assert by_sid["CloudTrailAclCheck"]["Condition"] == {"ArnEquals": {"aws:SourceArn": trail_arn}}
    assert by_sid["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert by_sid["DenyInsecureTransport"]["Effect"] == "Deny"


def test_trail_access_log_bucket_is_sse_s3_and_written_only_by_log_delivery_of_this_account(synth):
    """A stack without a platform access-log bucket gives the trail bucket one of its own. S3 User Guide,
    "Enabling Amazon S3 server access logging": the destination bucket's default encryption may only be SSE-S3
    (AES256), and log delivery is granted by a bucket policy for the logging.s3.amazonaws.com principal limited
    by aws:SourceAccount ("Permissions for log delivery")."""
    prod = synth("prod")
    bucket = by_name(prod, "observability-trail-access-logs")
    assert bucket["protect"] is True
    assert bucket["inputs"]["forceDestroy"] is False
    sse = by_name(prod, "observability-trail-access-logs-encryption")["inputs"]["rules"]
    assert sse == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    logging = by_name(prod, "observability-trail-access-logging")["inputs"]
    assert logging["targetBucket"] == bucket["id"]
    assert logging["targetPrefix"] == "cloudtrail/"
    policy = json.loads(by_name(prod, "observability-trail-access-logs-policy")["inputs"]["policy"])
    arn = f"arn:aws:s3:::{bucket['id']}"
    assert policy["Statement"] == [
        {
            "Action": "s3:PutObject",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},  # stacks/Pulumi.prod.yaml
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Resource": f"{arn}/cloudtrail/*",
            "Sid": "S3ServerAccessLogsWrite",
        },
        {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": [arn, f"{arn}/*"],
            "Sid": "DenyInsecureTransport",
        },
    ]
    lifecycle = by_name(prod, "observability-trail-access-logs-lifecycle")["inputs"]["rules"]
    assert [(rule["id"], rule["expiration"]) for rule in lifecycle] == [("expire", {"days": 365})]


def test_trail_log_role_trusts_only_this_trail_and_writes_only_its_group(observe):
    trust = json.loads(by_name(observe, "observability-trail-logs-role")["inputs"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/mlops-prod-trail"
    }
    policy = json.loads(by_name(observe, "observability-trail-logs-role-policy")["inputs"]["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "WriteTrailLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/cloudtrail/mlops-prod:log-stream:*",
        }
    ]


# ---------------------------------------------------------------------------------------------------------
# Alert topics and alarms


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_alert_topic_per_region_encrypted_with_policy_and_subscriptions(observe, region):
    topic = by_name(observe, f"observability-{region}-alerts")
    assert topic["inputs"]["kmsMasterKeyId"] == KEY[region]
    assert topic["provider"].split("::")[-2] == f"aws-{region}"
    policy = json.loads(by_name(observe, f"observability-{region}-alerts-policy")["inputs"]["policy"])
    # A prod fixture runs GuardDuty: its findings rule publishes too.
    rules = [findings_rule_name(f"mlops-prod-{region}")]
    assert policy == alert_topic_policy(
        topic_arn(region), PlatformContext("prod", "aws", ACCOUNT, region), rules
    )
    subscriptions = [
        s["inputs"]
        for s in states(observe, "aws:sns/topicSubscription:TopicSubscription")
        if s["inputs"]["topic"] == topic_arn(region)
    ]
    assert sorted((s["protocol"], s["endpoint"]) for s in subscriptions) == [
        ("email", "ml-platform-oncall@example.com"),
        ("https", "https://events.pagerduty.com/integration/abc123/enqueue"),
    ]


def test_alarms_are_wired_to_their_regions_topic(observe):
    found = alarms(observe)
    assert len(found) == 15
    for name, alarm in found.items():
        region = "us-east-1" if "-us-east-1-" in name else "us-west-2"
        assert alarm["inputs"]["alarmActions"] == [topic_arn(region)], name
        assert alarm["inputs"]["okActions"] == [topic_arn(region)], name
        assert alarm["inputs"]["evaluationPeriods"] == 5
        assert alarm["inputs"]["datapointsToAlarm"] == 3
        assert alarm["provider"].split("::")[-2] == f"aws-{region}"


def metric_of(alarm: dict) -> tuple:
    inputs = alarm["inputs"]
    return (
        inputs["namespace"],
        inputs["metricName"],
        inputs["dimensions"],
        inputs.get("statistic"),
        inputs.get("extendedStatistic"),
        inputs["comparisonOperator"],
        inputs["threshold"],
        inputs["period"],
    )


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_serving_and_node_alarms_by_value(observe, region):
    found = alarms(observe)
    cluster = {"ClusterName": f"mlops-prod-{region}"}
    assert metric_of(found[f"mlops-prod-{region}-serving-p99-latency"]) == (
        "AWS/ApplicationELB",
        "TargetResponseTime",
        {"LoadBalancer": LB[region]},
        None,
        "p99",
        "GreaterThanThreshold",
        1.5,
        60,
    )
    assert metric_of(found[f"mlops-prod-{region}-node-cpu"]) == (
        "ContainerInsights",
        "node_cpu_utilization",
        cluster,
        "Average",
        None,
        "GreaterThanThreshold",
        75,
        60,
    )
    assert metric_of(found[f"mlops-prod-{region}-node-memory"]) == (
        "ContainerInsights",
        "node_memory_utilization",
        cluster,
        "Average",
        None,
        "GreaterThanThreshold",
        80,
        60,
    )
    assert metric_of(found[f"mlops-prod-{region}-failed-nodes"]) == (
        "ContainerInsights",
        "cluster_failed_node_count",
        cluster,
        "Maximum",
        None,
        "GreaterThanThreshold",
        0,
        60,
    )
    assert metric_of(found[f"mlops-prod-{region}-interruption-queue-age"]) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"QueueName": f"mlops-prod-{region}-interruptions"},
        "Maximum",
        None,
        "GreaterThanThreshold",
        120,
        60,
    )
    rate = found[f"mlops-prod-{region}-serving-5xx-rate"]["inputs"]
    assert rate["threshold"] == 2.5
    assert "metricName" not in rate and "namespace" not in rate
    lb = {"LoadBalancer": LB[region]}
    assert rate["metricQueries"] == [
        {
            "id": "errors",
            "returnData": False,
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metricName": "HTTPCode_Target_5XX_Count",
                "stat": "Sum",
                "period": 60,
                "dimensions": lb,
            },
        },
        {
            "id": "requests",
            "returnData": False,
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metricName": "RequestCount",
                "stat": "Sum",
                "period": 60,
                "dimensions": lb,
            },
        },
        {
            "id": "rate",
            "expression": "IF(requests > 0, 100 * errors / requests, 0)",
            "label": "serving-5xx-rate",
            "returnData": True,
        },
    ]


def test_database_alarms_only_in_the_primary_region(observe):
    found = alarms(observe)
    db = {"DBInstanceIdentifier": "mlops-prod-registry"}
    assert metric_of(found["mlops-prod-us-east-1-rds-cpu"]) == (
        "AWS/RDS",
        "CPUUtilization",
        db,
        "Average",
        None,
        "GreaterThanThreshold",
        70,
        60,
    )
    assert metric_of(found["mlops-prod-us-east-1-rds-free-storage"]) == (
        "AWS/RDS",
        "FreeStorageSpace",
        db,
        "Minimum",
        None,
        "LessThanThreshold",
        20 * GIB,
        60,
    )
    assert metric_of(found["mlops-prod-us-east-1-rds-connections"]) == (
        "AWS/RDS",
        "DatabaseConnections",
        db,
        "Maximum",
        None,
        "GreaterThanThreshold",
        150,
        60,
    )
    assert not [name for name in found if name.startswith("mlops-prod-us-west-2-rds")]


def test_dashboard_body_is_json_naming_the_alarm_metrics(observe):
    dashboard = by_name(observe, "observability-dashboard")
    assert dashboard["inputs"]["dashboardName"] == "mlops-prod"
    body = json.loads(dashboard["inputs"]["dashboardBody"])
    metrics = {
        (widget["properties"]["region"], line[0], line[1], line[3])
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
    }
    for region in ("us-east-1", "us-west-2"):
        cluster = f"mlops-prod-{region}"
        assert {
            (region, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", LB[region]),
            (region, "AWS/ApplicationELB", "RequestCount", LB[region]),
            (region, "AWS/ApplicationELB", "TargetResponseTime", LB[region]),
            (region, "ContainerInsights", "node_cpu_utilization", cluster),
            (region, "ContainerInsights", "node_memory_utilization", cluster),
            (region, "AWS/SQS", "ApproximateAgeOfOldestMessage", f"{cluster}-interruptions"),
        } <= metrics
    assert {
        ("us-east-1", "AWS/RDS", m, "mlops-prod-registry")
        for m in ("CPUUtilization", "FreeStorageSpace", "DatabaseConnections")
    } <= metrics
    alarm_widget = body["widgets"][0]
    assert alarm_widget["type"] == "alarm"
    expected = [
        f"arn:aws:cloudwatch:{'us-east-1' if '-us-east-1-' in name else 'us-west-2'}:{ACCOUNT}:alarm:{name}"
        for name in alarms(observe)
    ]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(expected)


# ---------------------------------------------------------------------------------------------------------
# Metrics: managed Prometheus, Container Insights, Grafana


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_prometheus_workspace_and_container_insights_per_region(observe, region):
    workspace = by_name(observe, f"observability-{region}-prometheus")
    assert workspace["inputs"]["alias"] == f"mlops-prod-{region}"
    # AWS owned keys by default: the managed collector writes with its service-linked role.
    assert "kmsKeyArn" not in workspace["inputs"]
    assert workspace["inputs"]["loggingConfiguration"] == {
        "logGroupArn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/vendedlogs/prometheus/mlops-prod-{region}:*"
    }
    assert observe["outputs"]["observability"]["ampWorkspaceIds"][region] == workspace["id"]
    addon = by_name(observe, f"observability-{region}-container-insights")["inputs"]
    role = by_name(observe, f"observability-{region}-insights-role")
    assert addon["addonName"] == "amazon-cloudwatch-observability"
    assert addon["clusterName"] == f"mlops-prod-{region}"
    assert addon["podIdentityAssociations"] == [
        {"serviceAccount": "cloudwatch-agent", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role['id']}"}
    ]
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"]["ArnLike"] == {
        "aws:SourceArn": f"arn:aws:eks:{region}:{ACCOUNT}:cluster/mlops-prod-{region}"
    }
    insights_logs = by_name(observe, f"observability-{region}-insights-logs")["inputs"]
    assert insights_logs["name"] == f"/aws/containerinsights/mlops-prod-{region}/performance"
    assert insights_logs["kmsKeyId"] == KEY[region]


def test_grafana_with_sso_reads_prometheus_and_cloudwatch(observe):
    grafana = by_name(observe, "observability-grafana")
    inputs = grafana["inputs"]
    assert inputs["authenticationProviders"] == ["AWS_SSO"]
    assert inputs["dataSources"] == ["PROMETHEUS", "CLOUDWATCH"]
    assert inputs["permissionType"] == "CUSTOMER_MANAGED"
    assert inputs["accountAccessType"] == "CURRENT_ACCOUNT"
    role = by_name(observe, "observability-grafana-role")
    assert inputs["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{role['id']}"
    policy = json.loads(by_name(observe, "observability-grafana-read")["inputs"]["policy"])
    prometheus = policy["Statement"][0]
    assert prometheus["Resource"] == [
        f"arn:aws:aps:{region}:{ACCOUNT}:workspace/{by_name(observe, f'observability-{region}-prometheus')['id']}"
        for region in ("us-east-1", "us-west-2")
    ]
    associations = {
        s["inputs"]["role"]: s["inputs"]["groupIds"]
        for s in states(observe, "aws:grafana/roleAssociation:RoleAssociation")
    }
    assert associations == {
        "ADMIN": ["9a6712f4-5011-70e1-4b3c-2f1e0d9c8b7a"],
        "EDITOR": ["9a6712f4-5011-70e1-4b3c-2f1e0d9c8b7b"],
        "VIEWER": ["9a6712f4-5011-70e1-4b3c-2f1e0d9c8b7c"],
    }
    assert observe["outputs"]["observability"]["grafanaUrl"] == (
        f"https://{grafana['id']}.grafana-workspace.us-east-1.amazonaws.com"
    )


# ---------------------------------------------------------------------------------------------------------
# Managed Prometheus collector on the primary cluster


def test_scrape_configuration_keeps_annotated_pods_and_the_api_server():
    config = yaml.safe_load(scrape_configuration(15))
    assert config["global"]["scrape_interval"] == "15s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == ["kubernetes-apiservers", "annotated-pods", "annotated-services"]
    keep = jobs["annotated-pods"]["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "true",
    }
    port = jobs["annotated-pods"]["relabel_configs"][2]
    assert re.fullmatch(port["regex"], "10.0.1.7:8080;9090").expand(
        port["replacement"].replace("$", "\\")
    ) == ("10.0.1.7:9090")


def test_collector_scrapes_the_cluster_into_its_regions_workspace(observe):
    scraper = by_name(observe, "observability-us-east-1-scraper")
    workspace = by_name(observe, "observability-us-east-1-prometheus")
    assert scraper["inputs"]["source"] == {
        "eks": {
            "clusterArn": f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/mlops-prod-us-east-1",
            "subnetIds": ["subnet-us-east-1-a", "subnet-us-east-1-b"],
            "securityGroupIds": ["sg-us-east-1-cluster"],
        }
    }
    assert scraper["inputs"]["destination"] == {
        "amp": {"workspaceArn": f"arn:aws:aps:us-east-1:{ACCOUNT}:workspace/{workspace['id']}"}
    }
    assert scraper["inputs"]["scrapeConfiguration"] == scrape_configuration()
    # Only the primary region's fixture cluster has collector subnets.
    assert not [s for s in states(observe, "aws:amp/scraper:Scraper") if "us-west-2" in s["urn"]]


def manifest(state: dict) -> dict:
    body = {key: value for key, value in state["inputs"].items() if key != "stringData"}
    if "stringData" in state["inputs"]:
        body["stringData"] = {"clientID": "x", "clientSecret": "y"}
    return body


def test_a_managed_collector_writes_to_a_customer_key_workspace_only_through_a_role_configuration(
    observe, observe_latency
):
    """Amazon Managed Service for Prometheus User Guide, "Using an AWS managed collector", section "Creating
    scraper for workspaces enabled with customer managed keys": a scraper ingests into a workspace encrypted
    with a customer managed key only with --role-configuration (source and target roles in the same account).
    The platform builds no role configuration, so a customer-key workspace gets no managed collector."""
    for document in (observe, observe_latency):
        workspaces = {w["id"]: w for w in states(document, "aws:amp/workspace:Workspace")}
        for scraper in states(document, "aws:amp/scraper:Scraper"):
            workspace_id = scraper["inputs"]["destination"]["amp"]["workspaceArn"].rsplit("/", 1)[-1]
            if "kmsKeyArn" in workspaces[workspace_id]["inputs"]:
                assert "roleConfiguration" in scraper["inputs"], scraper["urn"]
    assert states(observe, "aws:amp/scraper:Scraper")
    (workspace,) = states(observe_latency, "aws:amp/workspace:Workspace")
    # The region's logs key, as the fixture program passes it.
    assert (
        workspace["inputs"]["kmsKeyArn"]
        == "arn:aws:kms:eu-west-1:222222222222:key/mrk-0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
    )
    assert states(observe_latency, "aws:amp/scraper:Scraper") == []


def test_no_explicit_access_entry_or_rbac_for_the_collector(observe):
    """Amazon Managed Service for Prometheus User Guide, "Configure Amazon EKS for scraper access with access
    entries": on a cluster in API mode the scraper gets its access entry and policy when it is created, and
    EKS CreateAccessEntry allows one access entry per principal ARN."""
    principals = [e["inputs"]["principalArn"] for e in states(observe, "aws:eks/accessEntry:AccessEntry")]
    assert not [p for p in principals if "AWSServiceRoleForAmazonPrometheusScraper" in p]
    assert not [
        s
        for s in states(observe)
        if s["urn"].rsplit("::", 1)[-1].endswith(("scraper-role", "scraper-binding"))
    ]


def test_oidc_secret_is_valid_kubernetes(observe):
    import kubernetes_validate

    kubernetes_validate.validate(manifest(by_name(observe, "mlflow-oidc-client")), "1.31", strict=True)
