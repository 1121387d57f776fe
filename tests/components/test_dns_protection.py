"""DNSSEC signing and query logging of the public zone: the prod preview, a stack without us-east-1, the config.

Each AWS rule the resources rely on is a test named after it, citing the page that states it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from components.config import parse_platform
from components.dns.protection import ksk_name, query_log_group_name
from components.loader import ConfigError
from components.outputs import DnsOutputs
from tests.conftest import by_name, states

ACCOUNT = "333333333333"  # the prod stack's account


def provider_region(document: dict[str, Any], state: dict[str, Any]) -> str:
    """The region of the AWS provider a resource is created with (its ``provider`` is ``<urn>::<id>``)."""
    urn = state["provider"].rsplit("::", 1)[0]
    (provider,) = [s for s in states(document, "pulumi:providers:aws") if s["urn"] == urn]
    return provider["inputs"]["region"]


def policy(state: dict[str, Any], key: str = "policy") -> dict[str, Any]:
    return json.loads(state["inputs"][key])


@pytest.fixture
def prod(synth) -> dict[str, Any]:
    return synth("prod")


# -- DNSSEC ---------------------------------------------------------------------------------------------


def test_dnssec_key_is_an_ecc_nist_p256_signing_key_in_us_east_1(prod):
    """Route 53 Developer Guide, "Working with customer managed keys for DNSSEC": the key must be in US East
    (N. Virginia) and an asymmetric key with the ECC_NIST_P256 key spec, used for signing and verification."""
    key = by_name(prod, "dns-dnssec-key")
    inputs = key["inputs"]
    assert (inputs["customerMasterKeySpec"], inputs["keyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert provider_region(prod, key) == "us-east-1"
    # As the platform's prod keys: a 30-day deletion window, protected.
    assert inputs["deletionWindowInDays"] == 30 and key["protect"] is True
    assert inputs["tags"]["purpose"] == "dnssec" and inputs["tags"]["environment"] == "prod"


def test_asymmetric_keys_do_not_rotate_automatically(prod):
    """AWS KMS Developer Guide, "Rotate AWS KMS keys": automatic rotation is supported only on symmetric
    encryption KMS keys, so the signing key asks for none (EnableKeyRotation would be refused)."""
    assert by_name(prod, "dns-dnssec-key")["inputs"]["enableKeyRotation"] is False


def test_dnssec_key_policy_grants_route53_what_the_developer_guide_requires(prod):
    """Route 53 Developer Guide, "Route 53 customer managed key permissions required for DNSSEC signing":
    ``dnssec-route53.amazonaws.com`` gets kms:DescribeKey, kms:GetPublicKey and kms:Sign (with aws:SourceAccount
    and aws:SourceArn against the confused deputy) and kms:CreateGrant with kms:GrantIsForAWSResource; beside
    them the account-root statement every platform key has."""
    zone_id = by_name(prod, "dns-zone")["id"]
    assert policy(by_name(prod, "dns-dnssec-key")) == {
        "Version": "2012-10-17",
        "Id": "mlops-dnssec",
        "Statement": [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Route53DnssecSignsForThisZone",
                "Effect": "Allow",
                "Principal": {"Service": "dnssec-route53.amazonaws.com"},
                "Action": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone_id}"},
                },
            },
            {
                "Sid": "Route53DnssecCreatesGrantsForAwsResources",
                "Effect": "Allow",
                "Principal": {"Service": "dnssec-route53.amazonaws.com"},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
        ],
    }


def test_ksk_name_has_only_letters_digits_and_underscores():
    """Route 53 API Reference, CreateKeySigningKey: Name can include numbers, letters and underscores, and is
    3 to 128 characters long (a hyphen is refused)."""
    for environment in ("dev", "staging", "prod"):
        assert re.fullmatch(r"[A-Za-z0-9_]{3,128}", ksk_name(environment))


def test_signing_is_enabled_only_after_an_active_ksk_exists(prod):
    """Route 53 API Reference, EnableHostedZoneDNSSEC fails with KeySigningKeyWithActiveStatusNotFound without an
    ACTIVE key-signing key; DeactivateKeySigningKey fails with KeySigningKeyInUse on the only key of a signing
    zone. So the KSK is ACTIVE, on the zone and the signing key, and signing depends on it (created after it,
    destroyed before it)."""
    zone, key = by_name(prod, "dns-zone"), by_name(prod, "dns-dnssec-key")
    ksk, dnssec = by_name(prod, "dns-ksk"), by_name(prod, "dns-dnssec")
    assert ksk["inputs"] == {
        "hostedZoneId": zone["id"],
        "keyManagementServiceArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key['id']}",
        "name": "mlops_prod_ksk",
        "status": "ACTIVE",
    }
    assert ksk["propertyDependencies"]["hostedZoneId"] == [zone["urn"]]
    assert ksk["propertyDependencies"]["keyManagementServiceArn"] == [key["urn"]]
    assert dnssec["inputs"] == {"hostedZoneId": zone["id"], "signingStatus": "SIGNING"}
    assert dnssec["propertyDependencies"]["hostedZoneId"] == [zone["urn"]]
    assert ksk["urn"] in dnssec["dependencies"]
    # Unsigning a prod zone whose parent holds the DS record breaks resolution: both are protected there.
    assert ksk["protect"] is True and dnssec["protect"] is True
    assert dnssec["parent"] == ksk["parent"] == zone["parent"]
    assert zone["parent"].endswith("mlops:dns:ServingDns::dns")


def test_ds_record_is_published_in_the_dns_outputs(prod):
    """RFC 4034 section 5.3: a DS record reads ``<key tag> <algorithm> <digest type> <digest>``; Route 53 signs
    with ECDSAP256SHA256 (algorithm 13, RFC 6605) and publishes a SHA-256 digest (type 2, 64 hex digits)."""
    dns = prod["outputs"]["dns"]
    assert re.fullmatch(r"\d{1,5} 13 2 [0-9A-F]{64}", dns["dsRecord"])
    assert DnsOutputs.model_validate(dns).ds_record == dns["dsRecord"]


def test_outputs_without_a_ds_record_still_satisfy_the_contract():
    """A platform deployed before signing (or an unsigned zone) publishes no dsRecord; team stacks still read it."""
    old = {
        "hostedZoneId": "Z1",
        "nameServers": ["ns-1.awsdns-00.org"],
        "zoneName": "models.example.com",
        "routing": "failover",
        "certificateArns": {},
    }
    assert DnsOutputs.model_validate(old).ds_record is None


# -- query logging --------------------------------------------------------------------------------------


def test_query_log_group_is_in_us_east_1(prod):
    """Route 53 API Reference, CreateQueryLoggingConfig: "You must create the log group in the us-east-1
    region", in the hosted zone's account; the prefix /aws/route53/<zone> is the one it recommends."""
    group = by_name(prod, "dns-query-logs")
    assert provider_region(prod, group) == "us-east-1"
    assert (
        group["inputs"]["name"]
        == "/aws/route53/models.example.com"
        == query_log_group_name("models.example.com")
    )
    assert group["inputs"]["retentionInDays"] == 365  # the prod stack's log-retention-days
    assert group["inputs"]["tags"]["environment"] == "prod"


def test_query_log_group_is_encrypted_with_a_key_cloudwatch_logs_may_use_there(prod):
    """CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS KMS": the key must be in the
    log group's region and its policy must let ``logs.<region>.amazonaws.com`` use it for that log group
    (kms:EncryptionContext:aws:logs:arn)."""
    group, key = by_name(prod, "dns-query-logs"), by_name(prod, "keys-us-east-1-logs")
    assert group["propertyDependencies"]["kmsKeyId"] == [key["urn"]]
    assert provider_region(prod, key) == "us-east-1"
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/route53/models.example.com"
    (statement,) = [s for s in policy(key)["Statement"] if s["Sid"] == "CloudWatchLogsEncryptsOwnLogGroups"]
    assert statement["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"} <= set(statement["Action"])
    pattern = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert fnmatch.fnmatchcase(group_arn, pattern)


def test_query_log_resource_policy_is_the_one_create_query_logging_config_requires(prod):
    """Route 53 API Reference, CreateQueryLoggingConfig: a CloudWatch Logs resource policy in us-east-1 giving
    Route 53 logs:CreateLogStream and logs:PutLogEvents on the log group, with aws:SourceArn (the hosted zone's
    ARN) and aws:SourceAccount against the confused deputy."""
    resource_policy, zone = by_name(prod, "dns-query-log-policy"), by_name(prod, "dns-zone")
    assert provider_region(prod, resource_policy) == "us-east-1"
    assert resource_policy["inputs"]["policyName"] == "mlops-prod-route53-query-logs"
    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/route53/models.example.com"
    assert policy(resource_policy, "policyDocument") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Route53WritesThisZonesQueryLog",
                "Effect": "Allow",
                "Principal": {"Service": "route53.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [group, f"{group}:*"],
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone['id']}"},
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                },
            }
        ],
    }
    # A log stream of the group is covered (streams are named <hosted zone id>/<edge location>).
    stream = f"{group}:log-stream:{zone['id']}/DFW3"
    assert any(
        fnmatch.fnmatchcase(stream, r)
        for r in policy(resource_policy, "policyDocument")["Statement"][0]["Resource"]
    )


def test_query_log_is_created_after_its_resource_policy(prod):
    """Route 53 API Reference, CreateQueryLoggingConfig fails with InsufficientCloudWatchLogsResourcePolicy when
    no resource policy lets Route 53 write to the log group: the query log depends on the policy."""
    query_log, zone = by_name(prod, "dns-query-log"), by_name(prod, "dns-zone")
    group, resource_policy = by_name(prod, "dns-query-logs"), by_name(prod, "dns-query-log-policy")
    assert query_log["inputs"] == {
        "zoneId": zone["id"],
        "cloudwatchLogGroupArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/route53/models.example.com",
    }
    assert query_log["propertyDependencies"]["zoneId"] == [zone["urn"]]
    assert query_log["propertyDependencies"]["cloudwatchLogGroupArn"] == [group["urn"]]
    assert resource_policy["urn"] in query_log["dependencies"]


# -- a stack without us-east-1 --------------------------------------------------------------------------


def test_a_stack_outside_us_east_1_signs_and_logs_there_with_its_one_provider(observe_latency):
    """One region (eu-west-1), signing and logging turned on outside prod: the key, log group and resource
    policy use the stack's us-east-1 provider (the one Identity Center's home region already made), the zone the
    primary region's; the query log gets a key of its own in us-east-1 that CloudWatch Logs there may use."""
    doc = observe_latency
    providers = [s["urn"].rsplit("::", 1)[1] for s in states(doc, "pulumi:providers:aws")]
    assert sorted(providers) == ["aws-eu-west-1", "aws-us-east-1"]
    assert provider_region(doc, by_name(doc, "dns-zone")) == "eu-west-1"
    for name in ("dns-dnssec-key", "dns-query-logs", "dns-query-log-policy", "dns-query-log-key"):
        assert provider_region(doc, by_name(doc, name)) == "us-east-1", name
    key = by_name(doc, "dns-query-log-key")
    assert by_name(doc, "dns-query-logs")["propertyDependencies"]["kmsKeyId"] == [key["urn"]]
    assert key["inputs"]["enableKeyRotation"] is True and key["inputs"]["deletionWindowInDays"] == 7
    assert key["retainOnDelete"] is True and key["protect"] is False  # staging keeps logs' keys, unprotected
    statements = {s["Sid"]: s for s in policy(key)["Statement"]}
    assert set(statements) == {
        "AccountAdministersKey",
        "CloudWatchLogsEncryptsOwnLogGroups",
        "CloudWatchLogsDescribesKey",
    }
    assert statements["CloudWatchLogsEncryptsOwnLogGroups"]["Principal"] == {
        "Service": "logs.us-east-1.amazonaws.com"
    }
    assert by_name(doc, "dns-query-logs")["inputs"]["retentionInDays"] == 90
    assert by_name(doc, "dns-dnssec-key")["inputs"]["deletionWindowInDays"] == 7
    assert by_name(doc, "dns-ksk")["inputs"]["name"] == "mlops_staging_ksk"
    assert doc["outputs"]["dns"]["dsRecord"].split(" ")[1:3] == ["13", "2"]


# -- config ---------------------------------------------------------------------------------------------


def platform(environment: str, **dns: Any) -> dict[str, Any]:
    return {
        "environment": environment,
        "account-id": "111111111111",
        "log-retention-days": 365,
        "regions": [
            {
                "name": "us-east-1",
                "availability-zones": ["us-east-1a", "us-east-1b"],
                "vpc-cidr": "10.0.0.0/16",
            }
        ],
        "tags": {"team": "platform", "cost-center": "cc-1", "data-classification": "internal"},
        "dns": {"zone": "models.example.com", "routing": "latency", **dns},
        "model-licenses": {"allowed": ["Apache-2.0"]},  # required in prod
    }


def config_error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.x.yaml")
    return str(caught.value)


@pytest.mark.parametrize(("environment", "expected"), [("prod", True), ("staging", False), ("dev", False)])
def test_signing_and_query_logging_default_on_in_prod_only(environment, expected):
    dns = parse_platform(platform(environment), "f.yaml").dns
    assert (dns.signs(environment), dns.logs_queries(environment)) == (expected, expected)


def test_outside_prod_either_can_be_turned_on_or_off():
    dns = parse_platform(platform("dev", dnssec=True, **{"query-logging": False}), "f.yaml").dns
    assert (dns.signs("dev"), dns.logs_queries("dev")) == (True, False)
    staging = parse_platform(platform("staging", dnssec=False), "f.yaml").dns
    assert staging.signs("staging") is False


@pytest.mark.parametrize("key", ["dnssec", "query-logging"])
def test_prod_refuses_to_turn_signing_or_query_logging_off(key):
    assert config_error(platform("prod", **{key: False})) == (
        f"stacks/Pulumi.x.yaml: mlops:platform.dns.{key}: false is below the prod baseline; "
        "allowed in prod: true (or leave it unset)"
    )


@pytest.mark.parametrize("key", ["dnssec", "query-logging"])
def test_a_value_other_than_true_or_false_names_file_key_and_allowed_values(key):
    assert config_error(platform("dev", **{key: "sometimes"})) == (
        f"stacks/Pulumi.x.yaml: mlops:platform.dns.{key}: must be true or false, got 'sometimes'"
    )


def test_misspelt_key_lists_the_dns_keys():
    message = config_error(platform("dev", query_logging=True))
    assert message == (
        "stacks/Pulumi.x.yaml: mlops:platform.dns.query_logging: unknown key; "
        "allowed: zone, routing, certificate-arns, dnssec, query-logging"
    )
