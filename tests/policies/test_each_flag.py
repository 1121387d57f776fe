"""Policies that require several settings fail on each setting turned off alone, naming it.

tests/policies/cases.py gives each policy one violating case, which turns off one setting (or several at once): a
policy that forgot to check another of its settings would still pass that case. Here every setting a multi-setting
policy requires is turned off on its own, from a resource that passes, and the violation must name that setting.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies.aws_compute import LOG_TYPES
from policies.governance import REQUIRED_TAGS
from policies.pack import all_policies, environment_config
from tests.policies.cases import (
    ADMIN,
    DEPLOYMENT,
    EAST,
    GOOD_CLUSTER,
    GOOD_DB,
    GOOD_LT,
    KEY,
    KSK,
    MONITORED_DB,
    MONITORING_ATTACHMENT,
    MONITORING_ROLE,
    PUBLIC_ZONE,
    QUERY_LOG,
    REPLICATED_TRAIL,
    S3,
    SIGNING_KEY,
    TAGS,
    TRAIL_REPLICA,
    VPC_CONFIG_PRIVATE,
    WEST,
    ZONE_SIGNING,
    Res,
    container,
    deployment,
    document,
    object_lock,
    policy_doc,
    trust,
)
from tests.policies.validate import analyze_in_process

all_policies()

PAB = S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock"
PAB_FLAGS = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
GOOD_PAB = dict.fromkeys(PAB_FLAGS, True)
CLUSTER = "aws:eks/cluster:Cluster"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
GOOD_NODE_CLASS = {
    "spec": {
        "metadataOptions": {"httpTokens": "required"},
        "blockDeviceMappings": [{"ebs": {"encrypted": True, "kmsKeyID": KEY}}],
        "associatePublicIPAddress": False,
    }
}
SSE = S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ARTIFACTS = Res(S3 + "bucket:Bucket", "artifacts", {"bucket": "artifacts", "tags": TAGS})


def sse(default: dict) -> list[Res]:
    return [
        ARTIFACTS,
        Res(SSE, "sse", {"bucket": "artifacts", "rules": [{"applyServerSideEncryptionByDefault": default}]}),
    ]


def resource(type_: str, inputs: dict) -> list[Res]:
    return [Res(type_, "r", inputs)]


def without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


def case(policy: str, flag: str, good: list[Res], bad: list[Res], names: str, environment: str = "prod"):
    return pytest.param(policy, good, bad, names, environment, id=f"{policy}[{flag}]")


PROD_ZONE = [EAST, SIGNING_KEY, PUBLIC_ZONE, KSK, ZONE_SIGNING, QUERY_LOG]


def replace(resources: list[Res], name: str, new: Res | None) -> list[Res]:
    """``resources`` with the one named ``name`` swapped for ``new`` (or dropped)."""
    return [new if r.name == name else r for r in resources if r.name != name or new is not None]


def restated(res: Res, **inputs: Any) -> Res:
    return Res(res.type, res.name, {**res.inputs, **inputs}, res.protect, res.prop_deps, res.provider)


MONITORED = [MONITORING_ROLE, MONITORING_ATTACHMENT, MONITORED_DB]
LOCKED_TRAIL = [*REPLICATED_TRAIL, object_lock("replica-lock", "trail-replica")]

CASES = [
    # S3 public access block: all four settings.
    *(
        case(
            "s3-public-access-block-all",
            flag,
            resource(PAB, GOOD_PAB),
            resource(PAB, {**GOOD_PAB, flag: False}),
            f"leaves {flag} off",
        )
        for flag in PAB_FLAGS
    ),
    # EKS: every control-plane log type; secrets encryption's resource and key.
    *(
        case(
            "eks-control-plane-logging",
            kind,
            resource(CLUSTER, GOOD_CLUSTER),
            resource(
                CLUSTER, {**GOOD_CLUSTER, "enabledClusterLogTypes": [t for t in LOG_TYPES if t != kind]}
            ),
            f"log types missing: {kind}",
        )
        for kind in LOG_TYPES
    ),
    case(
        "eks-secrets-encryption",
        "resources",
        resource(CLUSTER, GOOD_CLUSTER),
        resource(
            CLUSTER, {**GOOD_CLUSTER, "encryptionConfig": {"resources": [], "provider": {"keyArn": KEY}}}
        ),
        "secrets are not envelope-encrypted",
    ),
    case(
        "eks-secrets-encryption",
        "keyArn",
        resource(CLUSTER, GOOD_CLUSTER),
        resource(CLUSTER, {**GOOD_CLUSTER, "encryptionConfig": {"resources": ["secrets"], "provider": {}}}),
        "secrets are not envelope-encrypted",
    ),
    # EKS endpoint: public in prod; outside prod, public only with an allow-list (none, or an open one, fails).
    case(
        "eks-private-endpoint",
        "endpointPublicAccess",
        resource(CLUSTER, GOOD_CLUSTER),
        resource(CLUSTER, {**GOOD_CLUSTER, "vpcConfig": without(VPC_CONFIG_PRIVATE, "endpointPublicAccess")}),
        "the API endpoint is public",
    ),
    *(
        case(
            "eks-private-endpoint",
            f"publicAccessCidrs={label}",
            resource(
                CLUSTER,
                {
                    **GOOD_CLUSTER,
                    "vpcConfig": {
                        **VPC_CONFIG_PRIVATE,
                        "endpointPublicAccess": True,
                        "publicAccessCidrs": ["203.0.113.0/24"],
                    },
                },
            ),
            resource(
                CLUSTER,
                {
                    **GOOD_CLUSTER,
                    "vpcConfig": {
                        **VPC_CONFIG_PRIVATE,
                        "endpointPublicAccess": True,
                        "publicAccessCidrs": cidrs,
                    },
                },
            ),
            "open to the internet",
            "dev",
        )
        for label, cidrs in (("none", []), ("ipv4-any", ["0.0.0.0/0"]), ("ipv6-any", ["::/0"]))
    ),
    # Launch templates: IMDSv2 and its hop limit; each volume's encryption and key.
    case(
        "launch-template-imdsv2",
        "httpTokens",
        resource(LT, GOOD_LT),
        resource(
            LT, {**GOOD_LT, "metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 1}}
        ),
        "allows IMDSv1",
    ),
    case(
        "launch-template-imdsv2",
        "httpPutResponseHopLimit",
        resource(LT, GOOD_LT),
        resource(
            LT, {**GOOD_LT, "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 3}}
        ),
        "IMDS hop limit 3",
    ),
    *(
        case(
            "launch-template-encrypted-volumes",
            flag,
            resource(LT, GOOD_LT),
            resource(LT, {**GOOD_LT, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": ebs}]}),
            "volume /dev/xvda is not encrypted with a customer key",
        )
        for flag, ebs in (
            ("encrypted", {"encrypted": "false", "kmsKeyId": KEY}),
            ("kmsKeyId", {"encrypted": "true"}),
        )
    ),
    # Node groups: a launch template, no SSH.
    case(
        "eks-node-group-hardened",
        "launchTemplate",
        resource("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt-1", "version": "1"}}),
        resource("aws:eks/nodeGroup:NodeGroup", {}),
        "has no launch template",
    ),
    case(
        "eks-node-group-hardened",
        "remoteAccess",
        resource("aws:eks/nodeGroup:NodeGroup", {"launchTemplate": {"id": "lt-1", "version": "1"}}),
        resource(
            "aws:eks/nodeGroup:NodeGroup",
            {"launchTemplate": {"id": "lt-1", "version": "1"}, "remoteAccess": {"ec2SshKey": "k"}},
        ),
        "opens SSH remote access",
    ),
    # Karpenter node classes: IMDSv2, volumes encrypted under a customer key, no public IPs.
    *(
        case(
            "karpenter-node-class-hardened",
            flag,
            resource(NODE_CLASS, GOOD_NODE_CLASS),
            resource(NODE_CLASS, {"spec": {**GOOD_NODE_CLASS["spec"], **spec}}),
            names,
        )
        for flag, spec, names in (
            ("httpTokens", {"metadataOptions": {"httpTokens": "optional"}}, "allows IMDSv1"),
            (
                "encrypted",
                {"blockDeviceMappings": [{"ebs": {"encrypted": False, "kmsKeyID": KEY}}]},
                "not all encrypted",
            ),
            ("kmsKeyID", {"blockDeviceMappings": [{"ebs": {"encrypted": True}}]}, "not all encrypted"),
            ("blockDeviceMappings", {"blockDeviceMappings": []}, "not all encrypted"),
            ("associatePublicIPAddress", {"associatePublicIPAddress": True}, "gives nodes public IPs"),
        )
    ),
    # S3 default encryption: SSE-KMS, and a customer key with it.
    case(
        "s3-sse-kms-customer-key",
        "sseAlgorithm",
        sse({"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}),
        sse({"sseAlgorithm": "AES256", "kmsMasterKeyId": KEY}),
        "default encryption 'AES256'",
    ),
    case(
        "s3-sse-kms-customer-key",
        "kmsMasterKeyId",
        sse({"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}),
        sse({"sseAlgorithm": "aws:kms"}),
        "SSE-KMS without a customer key",
    ),
    # ECR: KMS encryption.
    case(
        "ecr-kms-encryption",
        "encryptionType",
        resource(
            "aws:ecr/repository:Repository",
            {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}]},
        ),
        resource(
            "aws:ecr/repository:Repository",
            {"encryptionConfigurations": [{"encryptionType": "AES256", "kmsKey": KEY}]},
        ),
        "not encrypted with KMS",
    ),
    # RDS: storage encrypted, and under a customer key.
    case(
        "rds-encrypted-customer-key",
        "storageEncrypted",
        resource("aws:rds/instance:Instance", GOOD_DB),
        resource("aws:rds/instance:Instance", {**GOOD_DB, "storageEncrypted": False}),
        "storage is not encrypted",
    ),
    case(
        "rds-encrypted-customer-key",
        "kmsKeyId",
        resource("aws:rds/instance:Instance", GOOD_DB),
        resource("aws:rds/instance:Instance", without(GOOD_DB, "kmsKeyId")),
        "AWS managed key",
    ),
    # RDS enhanced monitoring: an interval, a role of the stack, its trust, its managed policy.
    case(
        "rds-enhanced-monitoring-prod",
        "monitoringInterval",
        MONITORED,
        replace(MONITORED, "db", restated(MONITORED_DB, monitoringInterval=0)),
        "enhanced monitoring is off",
    ),
    case(
        "rds-enhanced-monitoring-prod",
        "monitoringRoleArn",
        MONITORED,
        replace(MONITORED, "db", Res(MONITORED_DB.type, "db", MONITORED_DB.inputs)),
        "monitoringRoleArn does not name a role of this stack",
    ),
    case(
        "rds-enhanced-monitoring-prod",
        "trust",
        MONITORED,
        replace(
            MONITORED, "monitoring", restated(MONITORING_ROLE, assumeRolePolicy=trust("rds.amazonaws.com"))
        ),
        "does not trust monitoring.rds.amazonaws.com",
    ),
    case(
        "rds-enhanced-monitoring-prod",
        "AmazonRDSEnhancedMonitoringRole",
        MONITORED,
        replace(MONITORED, "monitoring-policy", None),
        "lacks the managed policy AmazonRDSEnhancedMonitoringRole",
    ),
    # Public zones: signing, a key-signing key, an ACTIVE one on an ECC_NIST_P256 SIGN_VERIFY key in us-east-1, a
    # query log.
    case(
        "route53-public-zone-signed-and-logged",
        "HostedZoneDnsSec",
        PROD_ZONE,
        replace(PROD_ZONE, "signing", None),
        "no DNSSEC signing",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "signingStatus",
        PROD_ZONE,
        replace(PROD_ZONE, "signing", restated(ZONE_SIGNING, signingStatus="NOT_SIGNING")),
        "no DNSSEC signing",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "KeySigningKey",
        PROD_ZONE,
        replace(PROD_ZONE, "ksk", None),
        "no key-signing key",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "ksk-status",
        PROD_ZONE,
        replace(PROD_ZONE, "ksk", restated(KSK, status="INACTIVE")),
        "key-signing key ksk is 'INACTIVE'",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "customerMasterKeySpec",
        PROD_ZONE,
        replace(PROD_ZONE, "dnssec-key", restated(SIGNING_KEY, customerMasterKeySpec="RSA_2048")),
        "Route 53 needs ECC_NIST_P256/SIGN_VERIFY",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "keyUsage",
        PROD_ZONE,
        replace(PROD_ZONE, "dnssec-key", restated(SIGNING_KEY, keyUsage="ENCRYPT_DECRYPT")),
        "Route 53 needs ECC_NIST_P256/SIGN_VERIFY",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "key-region",
        [WEST, *PROD_ZONE],
        [
            WEST,
            *replace(
                PROD_ZONE,
                "dnssec-key",
                Res(SIGNING_KEY.type, "dnssec-key", SIGNING_KEY.inputs, provider="aws-us-west-2"),
            ),
        ],
        "is in us-west-2; Route 53 uses keys in us-east-1 only",
    ),
    case(
        "route53-public-zone-signed-and-logged",
        "QueryLog",
        PROD_ZONE,
        replace(PROD_ZONE, "queries", None),
        "no query logging",
    ),
    # The trail's bucket in prod: locked, replicated to its replica, the replica locked.
    case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        "trail-lock",
        LOCKED_TRAIL,
        replace(LOCKED_TRAIL, "trail-lock", None),
        "trail-bucket has no object lock configuration",
    ),
    case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        "replication",
        LOCKED_TRAIL,
        replace(LOCKED_TRAIL, "trail-replication", None),
        "does not replicate to a bucket tagged mlops:purpose=governance-trail-replica",
    ),
    case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        "replica-lock",
        LOCKED_TRAIL,
        replace(LOCKED_TRAIL, "replica-lock", None),
        f"{TRAIL_REPLICA.name} has no object lock configuration",
    ),
    # Tags: each required tag.
    *(
        case(
            "aws-required-tags",
            tag,
            resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "tags": TAGS}),
            resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "tags": without(TAGS, tag)}),
            f"missing tags: {tag}",
        )
        for tag in REQUIRED_TAGS
    ),
    # KMS keys: an explicit policy with statements.
    case(
        "kms-explicit-key-policy",
        "Statement",
        resource("aws:kms/key:Key", {"policy": policy_doc([ADMIN])}),
        resource("aws:kms/key:Key", {"policy": policy_doc([])}),
        "no explicit key policy",
    ),
    # Kubernetes workloads: each requirement of the multi-setting container and pod rules.
    *(
        case(
            "k8s-requests-and-limits",
            f"{kind}.{what}",
            resource(DEPLOYMENT, deployment()),
            resource(
                DEPLOYMENT,
                deployment(
                    resources={
                        **container()["resources"],
                        kind: without(container()["resources"][kind], what),
                    }
                ),
            ),
            f"no {kind}.{what}",
        )
        for kind in ("requests", "limits")
        for what in ("cpu", "memory")
    ),
    *(
        case(
            "k8s-probes",
            probe,
            resource(DEPLOYMENT, deployment()),
            resource(DEPLOYMENT, deployment(**{probe: None})),
            f"no {probe}",
        )
        for probe in ("readinessProbe", "livenessProbe")
    ),
    *(
        case(
            "k8s-no-host-access",
            key,
            resource(DEPLOYMENT, deployment()),
            resource(DEPLOYMENT, deployment({key: True})),
            f"uses {key}",
        )
        for key in ("hostNetwork", "hostPID", "hostIPC")
    ),
    case(
        "k8s-no-host-access",
        "hostPath",
        resource(DEPLOYMENT, deployment()),
        resource(DEPLOYMENT, deployment({"volumes": [{"name": "node", "hostPath": {"path": "/"}}]})),
        "mounts hostPath volume 'node'",
    ),
    case(
        "k8s-run-as-non-root",
        "runAsNonRoot",
        resource(DEPLOYMENT, deployment()),
        resource(DEPLOYMENT, deployment(securityContext={"runAsNonRoot": False})),
        "runAsNonRoot is not true",
    ),
    case(
        "k8s-run-as-non-root",
        "runAsUser",
        resource(DEPLOYMENT, deployment()),
        resource(DEPLOYMENT, deployment(securityContext={"runAsUser": 999})),
        "runs as UID 999",
    ),
    case(
        "k8s-drop-all-capabilities",
        "drop-ALL",
        resource(DEPLOYMENT, deployment()),
        resource(DEPLOYMENT, deployment(securityContext={"capabilities": {"drop": ["NET_RAW"]}})),
        "does not drop ALL capabilities",
    ),
    case(
        "k8s-drop-all-capabilities",
        "add",
        resource(DEPLOYMENT, deployment()),
        resource(
            DEPLOYMENT, deployment(securityContext={"capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN"]}})
        ),
        "adds capabilities",
    ),
]


def findings(resources: list[Res], environment: str, policy: str) -> list[str]:
    found = analyze_in_process(document(resources, environment), environment_config(environment))
    return [v.message.split("\n", 1)[1] for v in found if v.policy == policy]


@pytest.mark.parametrize(("policy", "good", "bad", "names", "environment"), CASES)
def test_each_required_setting_turned_off_alone_fails_naming_it(policy, good, bad, names, environment):
    assert findings(good, environment, policy) == []
    found = findings(bad, environment, policy)
    assert found, f"{policy} did not flag the setting turned off"
    assert any(names in message for message in found), found
