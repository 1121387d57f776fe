"""Cost reporting of the platform stack (components/cost/reporting.py): cost allocation tags, the CUR 2.0 export,
its bucket, key and Athena table, asserted on the synthesised prod preview by value, and the `cost` section's
config errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from components.config import parse_platform
from components.configbase import BaseTags, tags_for
from components.cost.config import COST_ALLOCATION_TAG_KEYS
from components.cost.reporting import COLUMNS, export_source_arns, query_statement, retention_days
from components.loader import ConfigError
from tests.conftest import by_name, states

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "333333333333"


@pytest.fixture(scope="module")
def prod(synth):
    return synth("prod")


def _provider_region(document, state) -> str:
    provider = state["provider"].rsplit("::", 1)[0]
    return next(s for s in states(document) if s["urn"] == provider)["inputs"]["region"]


def _raw_prod() -> dict:
    return copy.deepcopy(
        yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]
    )


def test_cost_allocation_tags_are_the_keys_every_resource_carries_spelled_as_the_tags_are(prod):
    tags = {
        s["inputs"]["tagKey"]: s["inputs"]["status"]
        for s in states(prod, "aws:costexplorer/costAllocationTag:CostAllocationTag")
    }
    assert tags == {"team": "Active", "cost-center": "Active", "environment": "Active"}
    written = tags_for(
        BaseTags.model_validate({"team": "t", "cost-center": "c", "data-classification": "internal"}), "prod"
    )
    assert set(COST_ALLOCATION_TAG_KEYS) <= set(written)
    # and the export's own tags carry them, as every taggable resource does
    assert set(COST_ALLOCATION_TAG_KEYS) <= set(by_name(prod, "cost-export")["inputs"]["tags"])


def test_data_exports_and_cost_explorer_are_called_in_us_east_1(prod):
    """Data Exports is a us-east-1 API: its export ARNs are arn:aws:bcm-data-exports:us-east-1:<account>:export/*
    (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-s3-bucket.html)."""
    assert _provider_region(prod, by_name(prod, "cost-export")) == "us-east-1"
    assert _provider_region(prod, by_name(prod, "cost-tag-team")) == "us-east-1"


def test_export_is_cur2_with_split_cost_allocation_data_as_parquet_into_the_primary_regions_bucket(prod):
    export = by_name(prod, "cost-export")["inputs"]["export"]
    bucket = by_name(prod, "cost-bucket")
    assert export["name"] == "mlops-prod-cur2"
    assert export["dataQueries"] == [
        {
            "queryStatement": query_statement(),
            "tableConfigurations": {
                "COST_AND_USAGE_REPORT": {
                    "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "TRUE",
                    "INCLUDE_RESOURCES": "TRUE",
                    "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
                    "TIME_GRANULARITY": "DAILY",
                }
            },
        }
    ]
    assert query_statement().startswith("SELECT identity_line_item_id, ")
    assert query_statement().endswith(" FROM COST_AND_USAGE_REPORT")
    assert export["destinationConfigurations"] == [
        {
            "s3Destinations": [
                {
                    "s3Bucket": by_name(prod, "cost-bucket-lifecycle")["inputs"]["bucket"],
                    "s3Prefix": "cur2",
                    "s3Region": "us-east-1",
                    "s3OutputConfigurations": [
                        {
                            "format": "PARQUET",
                            "compression": "PARQUET",
                            "outputType": "CUSTOM",
                            "overwrite": "OVERWRITE_REPORT",
                        }
                    ],
                }
            ]
        }
    ]
    assert export["refreshCadences"] == [{"frequency": "SYNCHRONOUS"}]
    # created once the bucket policy the service checks exists, and the bucket's encryption
    deps = by_name(prod, "cost-export")["dependencies"]
    assert by_name(prod, "cost-bucket-policy")["urn"] in deps
    assert by_name(prod, "cost-bucket-encryption")["urn"] in deps
    assert bucket["parent"].endswith("mlops:cost:CostReporting::cost")


def test_export_columns_include_every_split_line_item_column():
    """The split cost allocation columns of CUR 2.0 ("Split line item details",
    https://docs.aws.amazon.com/cur/latest/userguide/split-line-item-columns.html)."""
    names = [name for name, _ in COLUMNS]
    assert [n for n in names if n.startswith("split_line_item_")] == [
        "split_line_item_actual_usage",
        "split_line_item_net_split_cost",
        "split_line_item_net_unused_cost",
        "split_line_item_parent_resource_id",
        "split_line_item_public_on_demand_split_cost",
        "split_line_item_public_on_demand_unused_cost",
        "split_line_item_reserved_usage",
        "split_line_item_split_cost",
        "split_line_item_split_usage",
        "split_line_item_split_usage_ratio",
        "split_line_item_unused_cost",
    ]
    assert ("resource_tags", "map<string,string>") in COLUMNS
    assert len(set(names)) == len(names)


def test_bucket_policy_is_the_data_exports_guides_statement_and_tls_only(prod):
    """The policy the Data Exports guide requires on the destination bucket: billingreports and bcm-data-exports
    may s3:PutObject and s3:GetBucketPolicy, for the account (aws:SourceAccount) and its cur definitions and
    exports in us-east-1 (aws:SourceArn; the guide's StringLike written with ArnLike, the ARN operator)
    (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-s3-bucket.html)."""
    policy = json.loads(by_name(prod, "cost-bucket-policy")["inputs"]["policy"])
    bucket_arn = f"arn:aws:s3:::{by_name(prod, 'cost-bucket-lifecycle')['inputs']['bucket']}"
    exports = next(
        s for s in policy["Statement"] if s["Sid"] == "EnableAWSDataExportsToWriteToS3AndCheckPolicy"
    )
    assert exports == {
        "Sid": "EnableAWSDataExportsToWriteToS3AndCheckPolicy",
        "Effect": "Allow",
        "Principal": {"Service": ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]},
        "Action": ["s3:PutObject", "s3:GetBucketPolicy"],
        "Resource": [f"{bucket_arn}/*", bucket_arn],
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {
                "aws:SourceArn": [
                    f"arn:aws:cur:us-east-1:{ACCOUNT}:definition/*",
                    f"arn:aws:bcm-data-exports:us-east-1:{ACCOUNT}:export/*",
                ]
            },
        },
    }
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


def test_bucket_is_sse_kms_with_its_own_key_that_only_this_accounts_exports_may_use(prod):
    encryption = by_name(prod, "cost-bucket-encryption")["inputs"]["rules"][0]
    assert encryption["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert encryption["bucketKeyEnabled"] is True
    key = by_name(prod, "cost-key")["inputs"]
    assert key["enableKeyRotation"] is True and key["deletionWindowInDays"] == 30
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    assert statements["DataExportsEncryptReports"] == {
        "Sid": "DataExportsEncryptReports",
        "Effect": "Allow",
        "Principal": {"Service": ["billingreports.amazonaws.com", "bcm-data-exports.amazonaws.com"]},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": export_source_arns("aws", ACCOUNT)},
        },
    }
    assert statements["UseThroughS3Only"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
        "kms:CallerAccount": ACCOUNT,
    }
    # prod keeps both: protected
    assert by_name(prod, "cost-key").get("protect") is True
    assert by_name(prod, "cost-bucket").get("protect") is True


def test_retention_is_configured_in_months_and_expires_in_days(prod):
    assert retention_days(36) == 1096
    assert retention_days(13) == 396
    rule = by_name(prod, "cost-bucket-lifecycle")["inputs"]["rules"][0]
    assert rule["expiration"] == {"days": 1096}
    assert by_name(prod, "cost-bucket-logging")["inputs"]["targetPrefix"] == "cur2-bucket/"


def test_athena_table_projects_the_exports_billing_period_folders(prod):
    """CUR 2.0 data is delivered to s3://<bucket>/<prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/
    (https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html)."""
    bucket = by_name(prod, "cost-bucket-lifecycle")["inputs"]["bucket"]
    table = by_name(prod, "cost-table")["inputs"]
    location = f"s3://{bucket}/cur2/mlops-prod-cur2/data/"
    assert table["databaseName"] == by_name(prod, "cost-database")["inputs"]["name"] == "mlops_prod_cost"
    assert table["storageDescriptor"]["location"] == location
    assert table["parameters"]["storage.location.template"] == location + "BILLING_PERIOD=${billing_period}/"
    assert table["parameters"]["projection.billing_period.format"] == "yyyy-MM"
    assert table["partitionKeys"] == [{"name": "billing_period", "type": "string"}]
    assert [c["name"] for c in table["storageDescriptor"]["columns"]] == [name for name, _ in COLUMNS]


def test_no_cost_section_no_reporting(synth):
    assert states(synth("dev"), "mlops:cost:CostReporting") == []


def test_cost_section_errors_are_one_line():
    raw = _raw_prod()
    raw["cost"] = {"export-retention-months": 6}
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(caught.value) == (
        "stacks/Pulumi.prod.yaml: mlops:platform.cost.export-retention-months: must be greater than or equal to 13, got 6"
    )
    raw["cost"] = {"retention-days": 30}
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(caught.value).startswith(
        "stacks/Pulumi.prod.yaml: mlops:platform.cost.retention-days: unknown key; allowed: "
    )
    raw["cost"] = {"export-granularity": "MONTHLY"}
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(caught.value) == (
        "stacks/Pulumi.prod.yaml: mlops:platform.cost.export-granularity: 'MONTHLY' is not allowed; allowed: HOURLY, DAILY"
    )


def test_opencost_errors_are_one_line():
    """cost.opencost needs an eks cluster, the managed collector's workspace, and internet access."""
    raw = _raw_prod()
    raw["cost"]["opencost"] = "latest"
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(caught.value) == (
        "stacks/Pulumi.prod.yaml: mlops:platform.cost.opencost: 'latest' does not match the allowed pattern "
        "^\\d+\\.\\d+\\.\\d+$"
    )
    raw = _raw_prod()
    raw["observability"]["prometheus-encryption"] = "customer-key"
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(caught.value) == (
        "stacks/Pulumi.prod.yaml: mlops:platform.cost.opencost: needs observability with prometheus-encryption: "
        "aws-owned (the managed collector that fills the workspace OpenCost reads)"
    )
    raw = _raw_prod()
    del raw["observability"]
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert "mlops:platform.cost.opencost: needs observability" in str(caught.value)
    raw = _raw_prod()
    del raw["cluster"], raw["pipelines"]
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert "mlops:platform.cost.opencost: needs an `eks` cluster (cluster.mode: eks) to run on" in str(
        caught.value
    )
    assert parse_platform(_raw_prod(), "stacks/Pulumi.prod.yaml").cost.opencost == "2.5.17"


def test_no_opencost_switch_no_opencost(synth):
    assert states(synth("dev"), "mlops:cost:OpenCost") == []


def test_opencost_is_refused_in_an_internet_free_stack_in_one_line():
    """Its images (ghcr.io, public.ecr.aws) are not mirrored, and it prices nodes from AWS's public price list."""
    raw = yaml.safe_load(
        (REPO / "tests" / "fixtures" / "stacks" / "Pulumi.airgapped-cluster.yaml").read_text()
    )
    raw = raw["config"]["mlops:platform"]
    raw["observability"] = {"subscriptions": [{"protocol": "email", "endpoint": "ops@example.com"}]}
    raw["cost"] = {"opencost": "2.5.17"}
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "Pulumi.airgapped-cluster.yaml")
    assert str(caught.value) == (
        "Pulumi.airgapped-cluster.yaml: mlops:platform.cost.opencost: not available with internet-free: true (its "
        "images are not mirrored and it prices nodes from AWS's public price list)"
    )
