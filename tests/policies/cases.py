"""A compliant and a non-compliant case for every policy of the pack, as small preview documents."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "333333333333"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/mrk-0123"
DIGEST = "@sha256:" + "a" * 64
TAGS = {
    "team": "t",
    "environment": "prod",
    "cost-center": "c",
    "data-classification": "internal",
    "managed-by": "pulumi-mlops-platform",
}


@dataclass(frozen=True)
class Res:
    type: str
    name: str
    inputs: dict[str, Any]
    protect: bool = False
    prop_deps: dict[str, list[str]] = field(default_factory=dict)  # property -> names of other resources
    provider: str = ""  # name of the provider resource (of the same list) it is created with


@dataclass(frozen=True)
class Case:
    policy: str
    good: list[Res]
    bad: list[Res]
    environment: str = "prod"
    # Properties of the case's policy beyond its environment's config file (what `mlops check` fills in).
    properties: dict[str, Any] = field(default_factory=dict)
    # The bad case's properties, where they differ from the good case's (a placeholder left unfilled).
    bad_properties: dict[str, Any] | None = None


def urn(res: Res) -> str:
    return f"urn:pulumi:t::p::{res.type}::{res.name}"


def provider_reference(by_name: dict[str, Res], res: Res) -> str:
    """`<provider urn>::<provider id>`, as the engine references a resource's provider."""
    return f"{urn(by_name[res.provider])}::{res.provider}-id" if res.provider else ""


def document(resources: list[Res], environment: str = "prod") -> dict[str, Any]:
    by_name = {r.name: r for r in resources}
    steps = []
    for res in resources:
        deps = {key: [urn(by_name[n]) for n in names] for key, names in res.prop_deps.items()}
        steps.append(
            {
                "op": "create",
                "urn": urn(res),
                "provider": provider_reference(by_name, res),
                "newState": {
                    "type": res.type,
                    "urn": urn(res),
                    "custom": True,
                    "parent": "",
                    "provider": provider_reference(by_name, res),
                    "inputs": res.inputs,
                    "protect": res.protect,
                    "retainOnDelete": False,
                    "dependencies": sorted({u for us in deps.values() for u in us}),
                    "propertyDependencies": deps,
                    "ignoreChanges": [],
                    "deleteBeforeReplace": False,
                    "aliases": [],
                    "additionalSecretOutputs": [],
                    "customTimeouts": {},
                },
            }
        )
    return {
        "stack": "t",
        "steps": steps,
        "changeSummary": {"create": len(steps)},
        "outputs": {"environment": environment},
    }


def one(
    type_: str, good: dict, bad: dict, policy: str, environment: str = "prod", protect=(False, False)
) -> Case:
    return Case(
        policy, [Res(type_, "good", good, protect[0])], [Res(type_, "bad", bad, protect[1])], environment
    )


def policy_doc(statements: list[dict]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


ADMIN = {
    "Sid": "Admin",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "kms:*",
    "Resource": "*",
}
EBS_THROUGH_EC2 = {
    "Sid": "UseThroughEC2ForPrincipalsOfTheAccount",
    "Effect": "Allow",
    "Principal": {"AWS": "*"},
    "Action": [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}
    },
}
PUBLIC = {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
TLS = {
    "Sid": "TLS",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}

S3 = "aws:s3/"
CLUSTER = "aws:eks/cluster:Cluster"
VPC_CONFIG_PRIVATE = {"endpointPublicAccess": False, "endpointPrivateAccess": True, "subnetIds": ["a", "b"]}
GOOD_CLUSTER = {
    "vpcConfig": VPC_CONFIG_PRIVATE,
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KEY}},
    "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
    "accessConfig": {"authenticationMode": "API"},
    "tags": TAGS,
}
GOOD_DB = {
    "storageEncrypted": True,
    "kmsKeyId": KEY,
    "multiAz": True,
    "backupRetentionPeriod": 30,
    "deletionProtection": True,
    "publiclyAccessible": False,
    "iamDatabaseAuthenticationEnabled": True,
    "enabledCloudwatchLogsExports": ["postgresql"],
    "tags": TAGS,
}
GOOD_TRAIL = {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KEY, "tags": TAGS}
GOOD_LT = {
    "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KEY}}],
    "networkInterfaces": [{"associatePublicIpAddress": "false"}],
    "tags": TAGS,
}
GOOD_LB = {
    "loadBalancerType": "application",
    "dropInvalidHeaderFields": True,
    "accessLogs": {"enabled": True, "bucket": "logs"},
    "tags": TAGS,
}
GOOD_LISTENER = {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "port": 443}


def container(**overrides) -> dict:
    base = {
        "name": "main",
        "image": "registry.example/m" + DIGEST,
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
        "livenessProbe": {"httpGet": {"path": "/", "port": 8080}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    for key, value in overrides.items():
        if key == "securityContext":
            base["securityContext"] = {**base["securityContext"], **value}
        elif value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def deployment(pod_extra: dict | None = None, namespace: str = "team-a", **container_overrides) -> dict:
    pod = {
        "automountServiceAccountToken": False,
        "containers": [container(**container_overrides)],
        **(pod_extra or {}),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "m", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "m"}},
            "template": {"metadata": {"labels": {"app": "m"}}, "spec": pod},
        },
    }


DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def labelled(workload: dict, labels: dict[str, str]) -> dict:
    """``workload`` (a Deployment from ``deployment``) with its pod template labelled ``labels``."""
    return {
        **workload,
        "spec": {
            **workload["spec"],
            "template": {**workload["spec"]["template"], "metadata": {"labels": labels}},
        },
    }


def job(**container_overrides) -> dict:
    """A batch/v1 Job around the same pod as ``deployment``'s."""
    pod = deployment(**container_overrides)["spec"]["template"]["spec"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j", "namespace": "team-a"},
        "spec": {"template": {"spec": {**pod, "restartPolicy": "Never"}}},
    }


def workload(policy: str, environment: str = "prod", pod_extra_bad: dict | None = None, **bad) -> Case:
    return one(DEPLOYMENT, deployment(), deployment(pod_extra_bad, **bad), policy, environment)


def bucket_stack(policy: str, companion: str, key: str = "bucket") -> Case:
    bucket = Res("aws:s3/bucket:Bucket", "artifacts", {"bucket": "artifacts", "tags": TAGS})
    attached = Res(companion, "companion", {key: "artifacts"}, prop_deps={key: ["artifacts"]})
    return Case(policy, [bucket, attached], [bucket])


CASES: list[Case] = [
    one(
        S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock",
        {
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": True,
            "restrictPublicBuckets": True,
        },
        {
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": False,
            "restrictPublicBuckets": True,
        },
        "s3-public-access-block-all",
    ),
    one(S3 + "bucketAcl:BucketAcl", {"acl": "private"}, {"acl": "public-read-write"}, "s3-no-public-acl"),
    one(
        S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        {
            "rules": [
                {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}}
            ]
        },
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        "s3-sse-kms-customer-key",
    ),
    one(
        S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        {
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY},
                    "bucketKeyEnabled": True,
                }
            ]
        },
        {
            "rules": [
                {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}}
            ]
        },
        "s3-bucket-key-enabled",
    ),
    one(
        S3 + "bucketVersioning:BucketVersioning",
        {"versioningConfiguration": {"status": "Enabled"}},
        {"versioningConfiguration": {"status": "Suspended"}},
        "s3-versioning-enabled",
    ),
    one(
        S3 + "bucketPolicy:BucketPolicy",
        {"policy": policy_doc([TLS])},
        {"policy": policy_doc([])},
        "s3-tls-only",
    ),
    one(
        S3 + "bucketPolicy:BucketPolicy",
        {"policy": policy_doc([TLS])},
        {"policy": policy_doc([TLS, PUBLIC])},
        "s3-no-public-policy",
    ),
    one(
        S3 + "bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        {
            "rules": [
                {"id": "a", "status": "Enabled", "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}
            ]
        },
        {"rules": [{"id": "a", "status": "Enabled"}]},
        "s3-lifecycle-abort-uploads",
    ),
    one("aws:kms/key:Key", {"enableKeyRotation": True}, {"enableKeyRotation": False}, "kms-rotation-enabled"),
    # KMS rotates symmetric encryption keys only (KMS Developer Guide, "Rotate AWS KMS keys"): an asymmetric
    # signing key (a DNSSEC key-signing key's) passes without rotation, a symmetric one does not.
    one(
        "aws:kms/key:Key",
        {"enableKeyRotation": False, "customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"},
        {"enableKeyRotation": False, "customerMasterKeySpec": "SYMMETRIC_DEFAULT"},
        "kms-rotation-enabled",
    ),
    one("aws:kms/key:Key", {"policy": policy_doc([ADMIN])}, {}, "kms-explicit-key-policy"),
    one(
        "aws:kms/key:Key",
        {"policy": policy_doc([ADMIN])},
        {"policy": policy_doc([ADMIN, {**PUBLIC, "Action": "kms:Decrypt"}])},
        "kms-no-public-principal",
    ),
    # The EBS statement of Karpenter's troubleshooting guide (v1.5.0, "Node terminates before ready on failed
    # encrypted EBS volume") names everyone, limited to EC2 and the account: it passes; the same without its
    # conditions does not.
    one(
        "aws:kms/key:Key",
        {"policy": policy_doc([ADMIN, EBS_THROUGH_EC2])},
        {"policy": policy_doc([ADMIN, {k: v for k, v in EBS_THROUGH_EC2.items() if k != "Condition"}])},
        "kms-no-public-principal",
    ),
    one("aws:kms/key:Key", {"deletionWindowInDays": 30}, {"deletionWindowInDays": 7}, "kms-deletion-window"),
    one(
        "aws:kms/key:Key",
        {"deletionWindowInDays": 7},
        {"deletionWindowInDays": 5},
        "kms-deletion-window",
        "dev",
    ),
    one(
        "aws:ecr/repository:Repository",
        {"imageTagMutability": "IMMUTABLE"},
        {"imageTagMutability": "MUTABLE"},
        "ecr-immutable-tags",
    ),
    one(
        "aws:ecr/repository:Repository",
        {"imageScanningConfiguration": {"scanOnPush": True}},
        {},
        "ecr-scan-on-push",
    ),
    one(
        "aws:ecr/repository:Repository",
        {"encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}]},
        {"encryptionConfigurations": [{"encryptionType": "AES256"}]},
        "ecr-kms-encryption",
    ),
    one(
        CLUSTER,
        GOOD_CLUSTER,
        {
            **GOOD_CLUSTER,
            "vpcConfig": {
                **VPC_CONFIG_PRIVATE,
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["203.0.113.0/24"],
            },
        },
        "eks-private-endpoint",
    ),
    one(
        CLUSTER,
        {
            **GOOD_CLUSTER,
            "vpcConfig": {
                **VPC_CONFIG_PRIVATE,
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["203.0.113.0/24"],
            },
        },
        {
            **GOOD_CLUSTER,
            "vpcConfig": {
                **VPC_CONFIG_PRIVATE,
                "endpointPublicAccess": True,
                "publicAccessCidrs": ["0.0.0.0/0"],
            },
        },
        "eks-private-endpoint",
        "dev",
    ),
    one(CLUSTER, GOOD_CLUSTER, {**GOOD_CLUSTER, "encryptionConfig": None}, "eks-secrets-encryption"),
    one(
        CLUSTER,
        GOOD_CLUSTER,
        {**GOOD_CLUSTER, "enabledClusterLogTypes": ["api", "audit"]},
        "eks-control-plane-logging",
    ),
    one(
        CLUSTER,
        GOOD_CLUSTER,
        {**GOOD_CLUSTER, "accessConfig": {"authenticationMode": "CONFIG_MAP"}},
        "eks-access-entries",
    ),
    one(
        "aws:ec2/launchTemplate:LaunchTemplate",
        GOOD_LT,
        {**GOOD_LT, "metadataOptions": {"httpTokens": "optional"}},
        "launch-template-imdsv2",
    ),
    one(
        "aws:ec2/launchTemplate:LaunchTemplate",
        GOOD_LT,
        {**GOOD_LT, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
        "launch-template-encrypted-volumes",
    ),
    one(
        "aws:ec2/launchTemplate:LaunchTemplate",
        GOOD_LT,
        {**GOOD_LT, "networkInterfaces": [{"associatePublicIpAddress": "true"}]},
        "launch-template-no-public-ip",
    ),
    one(
        "aws:eks/nodeGroup:NodeGroup",
        {"launchTemplate": {"id": "lt-1", "version": "1"}},
        {"remoteAccess": {"ec2SshKey": "k"}},
        "eks-node-group-hardened",
    ),
    one(
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
        {
            "spec": {
                "metadataOptions": {"httpTokens": "required"},
                "blockDeviceMappings": [{"ebs": {"encrypted": True, "kmsKeyID": KEY}}],
            }
        },
        {"spec": {"metadataOptions": {"httpTokens": "optional"}, "blockDeviceMappings": []}},
        "karpenter-node-class-hardened",
    ),
    one(
        "aws:ec2/securityGroup:SecurityGroup",
        {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]},
        {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
        "sg-no-open-ingress",
    ),
    one(
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        {"ingress": [], "egress": []},
        {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]},
        "vpc-default-sg-closed",
    ),
    one(
        "aws:ec2/subnet:Subnet",
        {"mapPublicIpOnLaunch": False},
        {"mapPublicIpOnLaunch": True},
        "subnet-no-auto-public-ip",
    ),
    one(
        "aws:lb/listener:Listener",
        GOOD_LISTENER,
        {"protocol": "HTTP", "port": 80, "defaultActions": [{"type": "forward"}]},
        "lb-https-only",
    ),
    one(
        "aws:lb/listener:Listener",
        GOOD_LISTENER,
        {**GOOD_LISTENER, "sslPolicy": "ELBSecurityPolicy-2016-08"},
        "lb-modern-tls",
    ),
    one(
        "aws:lb/loadBalancer:LoadBalancer",
        GOOD_LB,
        {**GOOD_LB, "dropInvalidHeaderFields": False},
        "lb-drop-invalid-headers",
    ),
    one(
        "aws:lb/loadBalancer:LoadBalancer",
        GOOD_LB,
        {**GOOD_LB, "accessLogs": {"enabled": False}},
        "lb-access-logs",
    ),
    one("aws:rds/instance:Instance", GOOD_DB, {**GOOD_DB, "kmsKeyId": None}, "rds-encrypted-customer-key"),
    one("aws:rds/instance:Instance", GOOD_DB, {**GOOD_DB, "multiAz": False}, "rds-multi-az-prod"),
    one(
        "aws:rds/instance:Instance", GOOD_DB, {**GOOD_DB, "backupRetentionPeriod": 7}, "rds-backup-retention"
    ),
    one(
        "aws:rds/instance:Instance",
        {**GOOD_DB, "backupRetentionPeriod": 7},
        {**GOOD_DB, "backupRetentionPeriod": 3},
        "rds-backup-retention",
        "dev",
    ),
    one(
        "aws:rds/instance:Instance",
        GOOD_DB,
        {**GOOD_DB, "deletionProtection": False},
        "rds-deletion-protection",
    ),
    one("aws:rds/instance:Instance", GOOD_DB, {**GOOD_DB, "publiclyAccessible": True}, "rds-not-public"),
    one(
        "aws:rds/clusterInstance:ClusterInstance",
        {"clusterIdentifier": "mlflow", "publiclyAccessible": False, "tags": TAGS},
        {"clusterIdentifier": "mlflow", "publiclyAccessible": True, "tags": TAGS},
        "rds-not-public",
    ),
    one(
        "aws:rds/instance:Instance",
        GOOD_DB,
        {**GOOD_DB, "iamDatabaseAuthenticationEnabled": False},
        "rds-iam-auth",
    ),
    one(
        "aws:rds/instance:Instance",
        GOOD_DB,
        {**GOOD_DB, "enabledCloudwatchLogsExports": []},
        "rds-log-exports",
    ),
    one(
        "aws:cloudtrail/trail:Trail",
        GOOD_TRAIL,
        {**GOOD_TRAIL, "isMultiRegionTrail": False},
        "cloudtrail-multi-region",
    ),
    one(
        "aws:cloudtrail/trail:Trail",
        GOOD_TRAIL,
        {**GOOD_TRAIL, "enableLogFileValidation": False},
        "cloudtrail-log-validation",
    ),
    one("aws:cloudtrail/trail:Trail", GOOD_TRAIL, {**GOOD_TRAIL, "kmsKeyId": None}, "cloudtrail-kms"),
    one(
        "aws:cloudwatch/logGroup:LogGroup",
        {"kmsKeyId": KEY, "retentionInDays": 365},
        {"retentionInDays": 365},
        "log-group-kms",
    ),
    one(
        "aws:cloudwatch/logGroup:LogGroup",
        {"kmsKeyId": KEY, "retentionInDays": 365},
        {"kmsKeyId": KEY, "retentionInDays": 30},
        "log-group-retention",
    ),
    one(
        "aws:cloudwatch/logGroup:LogGroup",
        {"kmsKeyId": KEY, "retentionInDays": 30},
        {"kmsKeyId": KEY},
        "log-group-retention",
        "dev",
    ),
    one("aws:sns/topic:Topic", {"kmsMasterKeyId": KEY}, {}, "sns-kms"),
    one(
        "aws:iam/rolePolicy:RolePolicy",
        {
            "policy": policy_doc(
                [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]
            )
        },
        {"policy": policy_doc([{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}])},
        "iam-no-star-on-star",
    ),
    one(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        {"policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        "iam-no-admin-attachment",
    ),
    workload("k8s-run-as-non-root", securityContext={"runAsUser": 1000}),
    workload("k8s-read-only-root-fs", securityContext={"readOnlyRootFilesystem": False}),
    workload("k8s-no-privilege-escalation", securityContext={"allowPrivilegeEscalation": True}),
    workload("k8s-drop-all-capabilities", securityContext={"capabilities": {"drop": ["NET_RAW"]}}),
    workload("k8s-seccomp-runtime-default", securityContext={"seccompProfile": {"type": "Unconfined"}}),
    workload("k8s-no-privileged", securityContext={"privileged": True}),
    workload("k8s-requests-and-limits", resources=None),
    workload("k8s-probes", livenessProbe=None),
    # A Job's pod runs to completion: no Service sends it traffic, so probes are not asked of it; a Deployment's
    # container without them still fails.
    Case(
        "k8s-probes",
        [Res("kubernetes:batch/v1:Job", "good", job(readinessProbe=None, livenessProbe=None))],
        [Res(DEPLOYMENT, "bad", deployment(readinessProbe=None, livenessProbe=None))],
    ),
    workload("k8s-image-pinned", image="registry.example/m:1.2.3"),
    one(
        DEPLOYMENT,
        deployment(image="registry.example/m:1.2.3"),
        deployment(image="registry.example/m:latest"),
        "k8s-image-pinned",
        "dev",
    ),
    workload("k8s-no-host-access", pod_extra_bad={"hostNetwork": True}),
    workload("k8s-no-service-account-token", pod_extra_bad={"automountServiceAccountToken": True}),
    one(DEPLOYMENT, deployment(), deployment(namespace="default"), "k8s-no-default-namespace"),
    # Team pods carry team: <team> (the namespace team-<team>), for cost attribution; a CronJob's pods are two
    # templates down.
    Case(
        "k8s-team-pod-label",
        [
            Res(DEPLOYMENT, "good", labelled(deployment(), {"app": "m", "team": "a"})),
            Res(DEPLOYMENT, "platform", deployment(namespace="mlflow")),
        ],
        [
            Res(DEPLOYMENT, "bad", deployment()),
            Res(DEPLOYMENT, "other-team", labelled(deployment(), {"app": "m", "team": "b"})),
        ],
    ),
    # A cluster-scoped kind (the admission policy binding) has no namespace; a namespaced one (a Role) without one
    # lands in default.
    Case(
        "k8s-no-default-namespace",
        [
            Res(
                "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
                "good",
                {"metadata": {"name": "b"}, "spec": {"policyName": "p", "validationActions": ["Deny"]}},
            )
        ],
        [
            Res(
                "kubernetes:rbac.authorization.k8s.io/v1:Role",
                "bad",
                {"metadata": {"name": "r"}, "rules": []},
            )
        ],
    ),
    one(
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": "a", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"metadata": {"name": "a", "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}},
        "k8s-namespace-pod-security",
    ),
    one(
        "kubernetes:core/v1:Namespace",
        {
            "metadata": {
                "name": "gpu",
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
                "annotations": {"mlops.dev/pod-security-exception": "device plugin needs the kubelet socket"},
            }
        },
        {
            "metadata": {
                "name": "gpu",
                "labels": {"pod-security.kubernetes.io/enforce": "privileged"},
                "annotations": {"mlops.dev/pod-security-exception": " "},
            }
        },
        "k8s-namespace-pod-security",
    ),
    one(
        "aws:ec2/vpc:Vpc",
        {"cidrBlock": "10.0.0.0/16", "tags": TAGS},
        {"cidrBlock": "10.0.0.0/16", "tags": {**TAGS, "cost-center": ""}},
        "aws-required-tags",
    ),
    one("aws:kms/key:Key", {}, {}, "stateful-protected-in-prod", protect=(True, False)),
    bucket_stack("stack-bucket-public-access-block", S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock"),
    bucket_stack(
        "stack-bucket-encryption",
        S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ),
    bucket_stack("stack-bucket-versioning", S3 + "bucketVersioning:BucketVersioning"),
    bucket_stack("stack-bucket-access-logging", S3 + "bucketLogging:BucketLogging"),
    bucket_stack("stack-bucket-lifecycle", S3 + "bucketLifecycleConfiguration:BucketLifecycleConfiguration"),
    Case(
        "stack-vpc-flow-logs",
        [
            Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}),
            Res(
                "aws:ec2/flowLog:FlowLog",
                "fl",
                {"vpcId": "vpc-1", "trafficType": "ALL"},
                prop_deps={"vpcId": ["vpc"]},
            ),
        ],
        [Res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"})],
    ),
    Case(
        "stack-ecr-lifecycle-policy",
        [
            Res("aws:ecr/repository:Repository", "repo", {"name": "r"}),
            Res(
                "aws:ecr/lifecyclePolicy:LifecyclePolicy",
                "lp",
                {"repository": "r"},
                prop_deps={"repository": ["repo"]},
            ),
        ],
        [Res("aws:ecr/repository:Repository", "repo", {"name": "r"})],
    ),
    Case(
        "stack-team-namespace-default-deny",
        [
            Res(
                "kubernetes:core/v1:Namespace",
                "ns",
                {"metadata": {"name": "team-a", "labels": {"team": "a"}}},
            ),
            Res(
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                "deny",
                {
                    "metadata": {"name": "default-deny", "namespace": "team-a"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                },
            ),
        ],
        [
            Res(
                "kubernetes:core/v1:Namespace",
                "ns",
                {"metadata": {"name": "team-a", "labels": {"team": "a"}}},
            ),
            Res(
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                "allow-dns",
                {
                    "metadata": {"name": "allow-dns", "namespace": "team-a"},
                    "spec": {
                        "podSelector": {},
                        "policyTypes": ["Egress"],
                        "egress": [{"ports": [{"port": 53}]}],
                    },
                },
            ),
        ],
    ),
]

# ---------------------------------------------------------------------------------------------------------
# Policies over linked resources (policies/links.py) and the purpose tag.

BUCKET = "aws:s3/bucket:Bucket"
AWS_PROVIDER = "pulumi:providers:aws"
EAST = Res(AWS_PROVIDER, "aws-us-east-1", {"region": "us-east-1"})
WEST = Res(AWS_PROVIDER, "aws-us-west-2", {"region": "us-west-2"})


def purpose_tags(value: str) -> dict[str, str]:
    return {**TAGS, "mlops:purpose": value}


def tagged_bucket(name: str, value: str, provider: str = "") -> Res:
    return Res(BUCKET, name, {"bucket": name, "tags": purpose_tags(value)}, provider=provider)


def trust(service: str) -> str:
    return policy_doc([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])


MONITORING_ROLE = Res(
    "aws:iam/role:Role", "monitoring", {"assumeRolePolicy": trust("monitoring.rds.amazonaws.com")}
)
MONITORING_ATTACHMENT = Res(
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "monitoring-policy",
    {
        "role": "monitoring",
        "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
    },
    prop_deps={"role": ["monitoring"]},
)
MONITORED_DB = Res(
    "aws:rds/instance:Instance",
    "db",
    {**GOOD_DB, "monitoringInterval": 60, "monitoringRoleArn": "arn:aws:iam::333333333333:role/monitoring"},
    prop_deps={"monitoringRoleArn": ["monitoring"]},
)
SIGNING_KEY = Res(
    "aws:kms/key:Key",
    "dnssec-key",
    {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY", "policy": policy_doc([ADMIN])},
    provider="aws-us-east-1",
)
PUBLIC_ZONE = Res("aws:route53/zone:Zone", "zone", {"name": "models.example.com", "tags": TAGS})
KSK = Res(
    "aws:route53/keySigningKey:KeySigningKey",
    "ksk",
    {"hostedZoneId": "Z1", "keyManagementServiceArn": KEY, "name": "ksk"},
    prop_deps={"hostedZoneId": ["zone"], "keyManagementServiceArn": ["dnssec-key"]},
)
ZONE_SIGNING = Res(
    "aws:route53/hostedZoneDnsSec:HostedZoneDnsSec",
    "signing",
    {"hostedZoneId": "Z1"},
    prop_deps={"hostedZoneId": ["zone"]},
)
QUERY_LOG = Res(
    "aws:route53/queryLog:QueryLog",
    "queries",
    {"zoneId": "Z1", "cloudwatchLogGroupArn": "arn:aws:logs:us-east-1:333333333333:log-group:/aws/route53/z"},
    prop_deps={"zoneId": ["zone"]},
)


def replication(name: str, source: str, destination: str) -> Res:
    rule = {"id": "all", "status": "Enabled", "destination": {"bucket": f"arn:aws:s3:::{destination}"}}
    return Res(
        S3 + "bucketReplicationConfig:BucketReplicationConfig",
        name,
        {"bucket": source, "role": "arn:aws:iam::333333333333:role/r", "rules": [rule]},
        prop_deps={"bucket": [source], "rules": [destination]},
    )


def object_lock(name: str, bucket: str, mode: str = "GOVERNANCE") -> Res:
    return Res(
        S3 + "bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        name,
        {"bucket": bucket, "rule": {"defaultRetention": {"mode": mode, "days": 365}}},
        prop_deps={"bucket": [bucket]},
    )


TRAIL = Res(
    "aws:cloudtrail/trail:Trail",
    "trail",
    {**GOOD_TRAIL, "s3BucketName": "trail-bucket"},
    prop_deps={"s3BucketName": ["trail-bucket"]},
)
TRAIL_BUCKET = tagged_bucket("trail-bucket", "governance-trail", "aws-us-east-1")
TRAIL_REPLICA = tagged_bucket("trail-replica", "governance-trail-replica", "aws-us-west-2")
BOUNDARY = Res(
    "aws:iam/policy:Policy",
    "boundary",
    {
        "policy": policy_doc([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
        "tags": purpose_tags("permissions-boundary"),
    },
)
BOUNDARY_ARN = "arn:aws:iam::333333333333:policy/mlops-permissions-boundary"


def role(name: str, boundary: str | None = None, linked_to: str | None = None) -> Res:
    inputs = {"assumeRolePolicy": trust("eks.amazonaws.com")}
    if boundary is not None:
        inputs["permissionsBoundary"] = boundary
    return Res(
        "aws:iam/role:Role",
        name,
        inputs,
        prop_deps={"permissionsBoundary": [linked_to]} if linked_to else {},
    )


def logging_into(target: str, source: str = "artifacts") -> Res:
    return Res(
        S3 + "bucketLogging:BucketLogging",
        f"{source}-logging",
        {"bucket": source, "targetBucket": target, "targetPrefix": f"{source}/"},
        prop_deps={"bucket": [source], "targetBucket": [target]},
    )


FULL_ACCESS = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
ACCOUNT_ONLY = {**FULL_ACCESS, "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}}
ENDPOINT = {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-1.sts", "vpcEndpointType": "Interface"}
ARTIFACTS = tagged_bucket("artifacts", "model-artifacts")
ARTIFACTS_WEST = tagged_bucket("artifacts-west", "model-artifacts", "aws-us-west-2")
ARTIFACTS_EAST = tagged_bucket("artifacts", "model-artifacts", "aws-us-east-1")
EU_WEST = Res(AWS_PROVIDER, "aws-eu-west-1", {"region": "eu-west-1"})
ARTIFACTS_EU = tagged_bucket("artifacts", "model-artifacts", "aws-eu-west-1")
DNSSEC_KEY_EAST = Res(
    "aws:kms/key:Key",
    "dnssec-key",
    {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY", "tags": TAGS},
    provider="aws-us-east-1",
)
# A bucket named like a log bucket, without the tag: the pack must not take the name's word for it.
NAMED_LIKE_LOGS = Res(BUCKET, "mlops-prod-access-logs", {"bucket": "mlops-prod-access-logs", "tags": TAGS})
LOG_SSE_S3 = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]}

REPLICATED_TRAIL = [
    EAST,
    WEST,
    TRAIL_BUCKET,
    TRAIL_REPLICA,
    TRAIL,
    replication("trail-replication", "trail-bucket", "trail-replica"),
    object_lock("trail-lock", "trail-bucket"),
]

CASES += [
    Case(
        "rds-enhanced-monitoring-prod",
        [MONITORING_ROLE, MONITORING_ATTACHMENT, MONITORED_DB],
        [MONITORING_ROLE, Res("aws:rds/instance:Instance", "db", GOOD_DB)],
    ),
    # The role must carry the managed policy: an interval and a role without it deliver nothing.
    Case(
        "rds-enhanced-monitoring-prod",
        [MONITORING_ROLE, MONITORING_ATTACHMENT, MONITORED_DB],
        [MONITORING_ROLE, MONITORED_DB],
    ),
    # Outside prod monitoring may stay off, but an interval AWS does not accept still fails.
    Case(
        "rds-enhanced-monitoring-prod",
        [Res("aws:rds/instance:Instance", "db", GOOD_DB)],
        [
            MONITORING_ROLE,
            MONITORING_ATTACHMENT,
            Res(
                MONITORED_DB.type,
                "db",
                {**MONITORED_DB.inputs, "monitoringInterval": 20},
                prop_deps=MONITORED_DB.prop_deps,
            ),
        ],
        "dev",
    ),
    Case(
        "route53-public-zone-signed-and-logged",
        [EAST, SIGNING_KEY, PUBLIC_ZONE, KSK, ZONE_SIGNING, QUERY_LOG],
        [EAST, SIGNING_KEY, PUBLIC_ZONE, KSK, QUERY_LOG],
    ),
    # A private zone needs neither; a public zone signed with a key outside us-east-1 fails.
    Case(
        "route53-public-zone-signed-and-logged",
        [Res("aws:route53/zone:Zone", "private", {"name": "internal", "vpcs": [{"vpcId": "vpc-1"}]})],
        [
            WEST,
            Res(SIGNING_KEY.type, "dnssec-key", SIGNING_KEY.inputs, provider="aws-us-west-2"),
            PUBLIC_ZONE,
            KSK,
            ZONE_SIGNING,
            QUERY_LOG,
        ],
    ),
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {**ENDPOINT, "policy": policy_doc([ACCOUNT_ONLY])},
        ENDPOINT,
        "vpc-endpoint-policy-restricted",
    ),
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {
            **ENDPOINT,
            "vpcEndpointType": "Gateway",
            "policy": policy_doc(
                [
                    {
                        **FULL_ACCESS,
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::mlops-prod-{ACCOUNT}-*/*",
                    }
                ]
            ),
        },
        {
            **ENDPOINT,
            "vpcEndpointType": "Gateway",
            "policy": policy_doc([{**FULL_ACCESS, "Principal": {"AWS": "*"}, "Action": "s3:*"}]),
        },
        "vpc-endpoint-policy-restricted",
    ),
    # NotAction and NotResource allow everything but what they name: as open as "*".
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {**ENDPOINT, "policy": policy_doc([{**FULL_ACCESS, "Action": "sts:AssumeRole"}])},
        {
            **ENDPOINT,
            "policy": policy_doc(
                [{"Effect": "Allow", "Principal": "*", "NotAction": "iam:*", "Resource": "*"}]
            ),
        },
        "vpc-endpoint-policy-restricted",
    ),
    # The same for a service in aws-cn, whose service names carry a "cn." prefix.
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {**ENDPOINT, "serviceName": "cn.com.amazonaws.cn-north-1.ec2messages"},
        {**ENDPOINT, "serviceName": "cn.com.amazonaws.cn-north-1.ssmmessages"},
        "vpc-endpoint-policy-restricted",
    ),
    # A service that takes no endpoint policy (ec2messages) is not a finding; the same missing policy on a
    # service that takes one (ssmmessages, whose name shares the suffix) is.
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {**ENDPOINT, "serviceName": "com.amazonaws.us-east-1.ec2messages"},
        {**ENDPOINT, "serviceName": "com.amazonaws.us-east-1.ssmmessages"},
        "vpc-endpoint-policy-restricted",
    ),
    Case(
        "s3-artifacts-replicated-multi-region",
        [
            EAST,
            WEST,
            ARTIFACTS_EAST,
            ARTIFACTS_WEST,
            replication("replication", "artifacts", "artifacts-west"),
        ],
        [EAST, WEST, ARTIFACTS_EAST, ARTIFACTS_WEST],
    ),
    # One region: nothing to replicate to; the same bucket in a two-region stack must replicate.
    Case(
        "s3-artifacts-replicated-multi-region",
        [EAST, ARTIFACTS_EAST],
        [EAST, WEST, ARTIFACTS_EAST, tagged_bucket("west-logs", "access-logs", "aws-us-west-2")],
    ),
    # A cluster in a second region (no VPC or bucket of the stack there) makes the stack multi-region, and so does
    # a bucket placed in another region by its own `region` input.
    Case(
        "s3-artifacts-replicated-multi-region",
        [EAST, WEST, ARTIFACTS_EAST],
        [
            EAST,
            WEST,
            ARTIFACTS_EAST,
            Res("aws:eks/cluster:Cluster", "west-cluster", {"tags": TAGS}, provider="aws-us-west-2"),
        ],
    ),
    Case(
        "s3-artifacts-replicated-multi-region",
        [EAST, ARTIFACTS_EAST],
        [
            EAST,
            ARTIFACTS_EAST,
            Res(
                BUCKET,
                "west-logs",
                {"bucket": "west-logs", "region": "us-west-2", "tags": TAGS},
                provider="aws-us-east-1",
            ),
        ],
    ),
    # A provider that carries only a global service's home-region resources (the DNSSEC key in us-east-1 of a
    # stack that lives in eu-west-1) does not make the stack multi-region; a second bucket region does.
    Case(
        "s3-artifacts-replicated-multi-region",
        [EAST, EU_WEST, ARTIFACTS_EU, DNSSEC_KEY_EAST],
        [
            EAST,
            EU_WEST,
            ARTIFACTS_EU,
            DNSSEC_KEY_EAST,
            tagged_bucket("east-logs", "access-logs", "aws-us-east-1"),
        ],
    ),
    Case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        [*REPLICATED_TRAIL, object_lock("replica-lock", "trail-replica")],
        REPLICATED_TRAIL,
    ),
    # Both buckets locked, in two regions, but the trail bucket does not replicate to its replica.
    Case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        [*REPLICATED_TRAIL, object_lock("replica-lock", "trail-replica")],
        [
            *(r for r in REPLICATED_TRAIL if r.name != "trail-replication"),
            object_lock("replica-lock", "trail-replica"),
        ],
    ),
    Case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        [EAST, TRAIL_BUCKET, TRAIL, object_lock("trail-lock", "trail-bucket")],
        [
            EAST,
            WEST,
            TRAIL_BUCKET,
            TRAIL_REPLICA,
            TRAIL,
            object_lock("trail-lock", "trail-bucket", "COMPLIANCE"),
            object_lock("replica-lock", "trail-replica"),
        ],
    ),
    Case(
        "iam-role-permissions-boundary",
        [BOUNDARY, role("nodes", BOUNDARY_ARN, "boundary")],
        [BOUNDARY, role("nodes", BOUNDARY_ARN, "boundary"), role("unbounded")],
    ),
    Case(
        "s3-access-log-bucket-is-target",
        [ARTIFACTS, tagged_bucket("logs", "access-logs"), logging_into("logs")],
        [ARTIFACTS, tagged_bucket("logs", "access-logs")],
    ),
    # The loophole closed: a bucket named "...access-logs..." without the tag must log its own access, and may
    # not keep SSE-S3; the tagged log bucket may.
    Case(
        "stack-bucket-access-logging",
        [tagged_bucket("logs", "access-logs"), logging_into("logs", "logs")],
        [NAMED_LIKE_LOGS],
    ),
    Case(
        "s3-sse-kms-customer-key",
        [
            tagged_bucket("logs", "access-logs"),
            Res(
                S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "logs-sse",
                {"bucket": "logs", **LOG_SSE_S3},
                prop_deps={"bucket": ["logs"]},
            ),
        ],
        [
            NAMED_LIKE_LOGS,
            Res(
                S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "logs-sse",
                {"bucket": NAMED_LIKE_LOGS.name, **LOG_SSE_S3},
                prop_deps={"bucket": [NAMED_LIKE_LOGS.name]},
            ),
        ],
    ),
]

# ---------------------------------------------------------------------------------------------------------
# Loopholes closed: a condition that is always true, a trail's literal bucket name, the query log's region, DB
# cluster instances.

CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
GOOD_CLUSTER_INSTANCE = {
    "clusterIdentifier": "mlflow",
    "publiclyAccessible": False,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KEY,
    "tags": TAGS,
}
MONITORED_CLUSTER_INSTANCE = Res(
    CLUSTER_INSTANCE,
    "db-1",
    {
        **GOOD_CLUSTER_INSTANCE,
        "monitoringInterval": 60,
        "monitoringRoleArn": MONITORED_DB.inputs["monitoringRoleArn"],
    },
    prop_deps={"monitoringRoleArn": ["monitoring"]},
)
QUERY_LOG_GROUP_EAST = Res(
    "aws:cloudwatch/logGroup:LogGroup",
    "query-logs",
    {"name": "/aws/route53/models.example.com", "kmsKeyId": KEY, "retentionInDays": 365},
    provider="aws-us-east-1",
)
QUERY_LOG_GROUP_WEST = Res(
    QUERY_LOG_GROUP_EAST.type, "query-logs", QUERY_LOG_GROUP_EAST.inputs, provider="aws-us-west-2"
)
QUERY_LOG_LINKED = Res(
    QUERY_LOG.type,
    "queries",
    {"zoneId": "Z1", "cloudwatchLogGroupArn": "arn:aws:logs:us-east-1:333333333333:log-group:/aws/route53/z"},
    prop_deps={"zoneId": ["zone"], "cloudwatchLogGroupArn": ["query-logs"]},
)
SIGNED_ZONE = [EAST, WEST, SIGNING_KEY, PUBLIC_ZONE, KSK, ZONE_SIGNING]
# A trail naming its bucket by a literal string: no propertyDependency links it to a bucket.
LITERAL_TRAIL = Res(TRAIL.type, "trail", {**GOOD_TRAIL, "s3BucketName": "trail-bucket"})
LOCKED_TRAIL_BUCKET = [EAST, TRAIL_BUCKET, object_lock("trail-lock", "trail-bucket")]

CASES += [
    # "StringLike aws:PrincipalAccount *" matches every account: as open as no condition at all.
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {**ENDPOINT, "policy": policy_doc([ACCOUNT_ONLY])},
        {
            **ENDPOINT,
            "policy": policy_doc(
                [{**FULL_ACCESS, "Condition": {"StringLike": {"aws:PrincipalAccount": "*"}}}]
            ),
        },
        "vpc-endpoint-policy-restricted",
    ),
    # A wildcard among a key's values (values are ORed) or an all-wildcard ARN pattern opens the key as well;
    # a wildcard that still names the account narrows it.
    one(
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        {
            **ENDPOINT,
            "policy": policy_doc(
                [{**FULL_ACCESS, "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:*"}}}]
            ),
        },
        {
            **ENDPOINT,
            "policy": policy_doc(
                [
                    {
                        **FULL_ACCESS,
                        "Condition": {
                            "StringLike": {"aws:PrincipalAccount": [ACCOUNT, "*"]},
                            "ArnLikeIfExists": {"aws:PrincipalArn": "arn:*:*:*:*:*"},
                        },
                    }
                ]
            ),
        },
        "vpc-endpoint-policy-restricted",
    ),
    # The trail's bucket named by a literal that is the stack's locked trail bucket resolves to it; a literal
    # naming no bucket of the stack (someone else's, unlocked) fails.
    Case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        [*LOCKED_TRAIL_BUCKET, LITERAL_TRAIL],
        [
            *LOCKED_TRAIL_BUCKET,
            Res(TRAIL.type, "trail", {**GOOD_TRAIL, "s3BucketName": "elsewhere-trail-logs"}),
        ],
    ),
    # The same literal resolving to a stack bucket that is not locked fails on the lock.
    Case(
        "cloudtrail-bucket-replicated-and-locked-prod",
        [*LOCKED_TRAIL_BUCKET, LITERAL_TRAIL],
        [EAST, TRAIL_BUCKET, LITERAL_TRAIL],
    ),
    # The query log's group in us-east-1 (linked, or a literal ARN there) passes; in us-west-2 it fails.
    Case(
        "route53-public-zone-signed-and-logged",
        [*SIGNED_ZONE, QUERY_LOG_GROUP_EAST, QUERY_LOG_LINKED],
        [*SIGNED_ZONE, QUERY_LOG_GROUP_WEST, QUERY_LOG_LINKED],
    ),
    Case(
        "route53-public-zone-signed-and-logged",
        [*SIGNED_ZONE, QUERY_LOG],
        [
            *SIGNED_ZONE,
            Res(
                QUERY_LOG.type,
                "queries",
                {
                    "zoneId": "Z1",
                    "cloudwatchLogGroupArn": "arn:aws:logs:eu-west-1:333333333333:log-group:/aws/route53/z",
                },
                prop_deps={"zoneId": ["zone"]},
            ),
        ],
    ),
    # DB cluster instances: enhanced monitoring in prod, Performance Insights under a customer key.
    Case(
        "rds-enhanced-monitoring-prod",
        [MONITORING_ROLE, MONITORING_ATTACHMENT, MONITORED_CLUSTER_INSTANCE],
        [Res(CLUSTER_INSTANCE, "db-1", GOOD_CLUSTER_INSTANCE)],
    ),
    one(
        CLUSTER_INSTANCE,
        GOOD_CLUSTER_INSTANCE,
        {**GOOD_CLUSTER_INSTANCE, "performanceInsightsKmsKeyId": None},
        "rds-performance-insights-customer-key",
    ),
    one(
        "aws:rds/instance:Instance",
        {**GOOD_DB, "performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY},
        {**GOOD_DB, "performanceInsightsEnabled": True},
        "rds-performance-insights-customer-key",
    ),
]

# ---------------------------------------------------------------------------------------------------------
# Platform UIs behind an ALB sign people in (policies/ui_auth.py): the Ingress label and the listener tag say what
# a UI is.

ALB_ANNOTATION = "alb.ingress.kubernetes.io"
IDP = {
    "issuer": "https://idp.example.com",
    "authorizationEndpoint": "https://idp.example.com/authorize",
    "tokenEndpoint": "https://idp.example.com/token",
    "userInfoEndpoint": "https://idp.example.com/userinfo",
}


def ui_ingress(**annotations: str) -> Res:
    return Res(
        "kubernetes:networking.k8s.io/v1:Ingress",
        "ui",
        {
            "metadata": {
                "name": "ui",
                "namespace": "mlflow",
                "labels": {"mlops.platform/purpose": "platform-ui"},
                "annotations": {
                    f"{ALB_ANNOTATION}/scheme": "internal",
                    f"{ALB_ANNOTATION}/listen-ports": '[{"HTTPS": 443}]',
                    **{
                        f"{ALB_ANNOTATION}/{key.replace('_', '-')}": value
                        for key, value in annotations.items()
                    },
                },
            },
            "spec": {"ingressClassName": "alb"},
        },
    )


def ui_listener(actions: list[dict], protocol: str = "HTTPS") -> Res:
    return Res(
        "aws:lb/listener:Listener",
        "ui-listener",
        {
            "protocol": protocol,
            "port": 443,
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "defaultActions": actions,
            "tags": {**TAGS, "mlops:purpose": "platform-ui"},
        },
    )


FORWARD = {"type": "forward", "order": 2, "targetGroupArn": "arn:aws:elasticloadbalancing:tg"}
AUTHENTICATE_OIDC = {
    "type": "authenticate-oidc",
    "order": 1,
    "authenticateOidc": {**IDP, "clientId": "c", "clientSecret": "s"},
}

CASES += [
    Case(
        "alb-ui-authenticated",
        [
            ui_ingress(auth_type="oidc", auth_idp_oidc=json.dumps({**IDP, "secretName": "ui-oidc"})),
            ui_listener([FORWARD, AUTHENTICATE_OIDC]),
        ],
        [ui_ingress(), ui_listener([FORWARD])],
    ),
]

# Model versions (policies/provenance.py): a Deployment labelled mlops.platform/purpose: model-version with its
# provenance annotations.
PROVENANCE = {
    "mlops.platform/source": "https://github.com/example-org/fraud-scorer",
    "mlops.platform/commit": "3f9c2a7d1e4b5c6a8d0f1e2b3c4d5e6f7a8b9c0d",
    "mlops.platform/license": "Apache-2.0",
    "mlops.platform/run": "models:/fraud-scorer/3",
}


def model_version(name: str, **annotations: str | None) -> Res:
    inputs = deployment()
    merged = {key: value for key, value in {**PROVENANCE, **annotations}.items() if value is not None}
    inputs["metadata"] = {
        **inputs["metadata"],
        "name": name,
        "labels": {"mlops.platform/purpose": "model-version"},
        "annotations": merged,
    }
    return Res(DEPLOYMENT, name, inputs)


# Argo Workflows (policies/pipelines.py)


def argo_template(kind: str = "WorkflowTemplate", **template_extra: Any) -> Res:
    workflow = {
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "img", "command": ["run"]}, **template_extra}],
    }
    spec = {"workflowSpec": workflow, "schedule": "0 * * * *"} if kind == "CronWorkflow" else workflow
    return Res(
        f"kubernetes:argoproj.io/v1alpha1:{kind}",
        f"wf-{kind.lower()}",
        {"metadata": {"name": "wf", "namespace": "team-t"}, "spec": spec},
    )


def argo_release(name: str = "argo", **server: Any) -> Res:
    return Res(
        "kubernetes:helm.sh/v3:Release",
        name,
        {
            "chart": "argo-workflows",
            "version": "0.45.15",
            "namespace": "argo",
            "values": {"server": {"authModes": ["sso"], "serviceType": "ClusterIP", **server}},
        },
    )


def argo_server_service(kind: str) -> Res:
    return Res(
        "kubernetes:core/v1:Service",
        f"argo-svc-{kind.lower()}",
        {
            "metadata": {"name": "argo-public", "namespace": "argo"},
            "spec": {"type": kind, "selector": {"app.kubernetes.io/name": "argo-workflows-server"}},
        },
    )


CASES += [
    Case(
        "model-license-allowed",
        [model_version("scorer-v3"), model_version("scorer-v4", **{"mlops.platform/license": "MIT"})],
        [
            model_version("scorer-v3"),
            model_version("scorer-v4", **{"mlops.platform/license": "CC-BY-NC-4.0"}),
        ],
        properties={"allowedLicenses": ["Apache-2.0", "MIT"]},
    ),
    Case(
        "model-provenance-prod",
        [model_version("scorer-v3")],
        [model_version("scorer-v3", **{"mlops.platform/run": None, "mlops.platform/commit": None})],
    ),
    Case(
        "argo-workflow-pods-unprivileged",
        [
            argo_template(),
            argo_template("CronWorkflow", volumes=[{"name": "work", "emptyDir": {}}]),
        ],
        [
            argo_template(container={"image": "img", "securityContext": {"privileged": True}}),
            argo_template("CronWorkflow", volumes=[{"name": "host", "hostPath": {"path": "/var/run"}}]),
        ],
    ),
    Case(
        "argo-server-not-public",
        [argo_release(), argo_server_service("ClusterIP")],
        [
            argo_release("argo-lb", serviceType="LoadBalancer"),
            argo_release("argo-server-mode", authModes=["sso", "server"]),
            argo_server_service("LoadBalancer"),
            Res(
                "kubernetes:networking.k8s.io/v1:Ingress",
                "argo-public-ingress",
                {
                    "metadata": {
                        "name": "argo",
                        "namespace": "argo",
                        "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"},
                    },
                    "spec": {
                        "ingressClassName": "alb",
                        "defaultBackend": {
                            "service": {"name": "argo-workflows-server", "port": {"number": 2746}}
                        },
                    },
                },
            ),
        ],
    ),
]

SUBORDINATE_CA = {
    "type": "SUBORDINATE",
    "usageMode": "GENERAL_PURPOSE",
    "certificateAuthorityConfiguration": {
        "keyAlgorithm": "EC_prime256v1",
        "signingAlgorithm": "SHA256WITHECDSA",
        "subject": {"commonName": "mlops issuing CA"},
    },
}

CASES += [
    # The provider's default type is ROOT: an omitted type is a root CA too.
    one(
        "aws:acmpca/certificateAuthority:CertificateAuthority",
        SUBORDINATE_CA,
        {**SUBORDINATE_CA, "type": "ROOT"},
        "acmpca-no-root-ca",
    ),
]


def released_version(image: str, **annotations: str) -> dict:
    """A model version's Deployment as the team stack writes it, with its release annotations."""
    spec = deployment(image=image)
    spec["metadata"]["annotations"] = {
        "mlops.platform/traffic-weight": "100",
        "mlops.platform/canary-first-step": "10",
        "mlops.platform/version-position": "first",
        "mlops.platform/image-account": ACCOUNT,
        **annotations,
    }
    return spec


MODELS_IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/models/fraud/embedder{DIGEST}"
LATER = {"mlops.platform/version-position": "later", "mlops.platform/traffic-weight": "50"}

CASES += [
    one(
        DEPLOYMENT,
        released_version(MODELS_IMAGE),
        released_version("registry.example/m" + DIGEST),
        "model-image-from-models-ecr",
    ),
    # Another account's models/ repository, and the account's ECR outside models/.
    one(
        DEPLOYMENT,
        released_version(MODELS_IMAGE.replace("us-east-1", "eu-west-1")),
        released_version(MODELS_IMAGE.replace(ACCOUNT, "444444444444")),
        "model-image-from-models-ecr",
    ),
    one(
        DEPLOYMENT,
        released_version(MODELS_IMAGE),
        released_version(MODELS_IMAGE.replace("/models/", "/mirror/")),
        "model-image-from-models-ecr",
    ),
]


def canary(model: str, version: str, weight: int, position: str = "later", **annotations: str) -> Res:
    """A model version's Deployment named by model and version, as the canary policy compares it with the base."""
    return Res(
        DEPLOYMENT,
        f"{model}-{version}",
        released_version(
            MODELS_IMAGE,
            **{
                "mlops.platform/model": model,
                "mlops.platform/version": version,
                "mlops.platform/traffic-weight": str(weight),
                "mlops.platform/version-position": position,
                **annotations,
            },
        ),
    )


# The base revision serves the embedder's v1 at 90% and v2 at 10% (the team's first canary step is 10%).
BASE = {"baseTraffic": {"embedder": {"v1": 90, "v2": 10}}}
STEPPED = {"mlops.platform/stepped-from": "10"}

CASES += [
    # v2 is served at base: it steps 10 -> 50 with or without a record; a new v3 with a hand-written stepped-from
    # does not, the record exempts nothing.
    Case(
        "model-canary-first-step",
        [canary("embedder", "v1", 50), canary("embedder", "v2", 50, **STEPPED)],
        [canary("embedder", "v1", 50), canary("embedder", "v3", 50, **STEPPED)],
        properties=BASE,
    ),
    Case(
        "model-canary-first-step",
        [canary("embedder", "v1", 50, "first"), canary("embedder", "v2", 50)],
        [canary("embedder", "v1", 50, "first"), canary("embedder", "v3", 50)],
        properties=BASE,
    ),
    # A new version moved to the first place of the list is still new (the position exempts nothing).
    Case(
        "model-canary-first-step",
        [canary("embedder", "v1", 100, "first")],
        [canary("embedder", "v3", 100, "first"), canary("embedder", "v1", 0)],
        properties=BASE,
    ),
    # A model the base does not serve is new: its only version takes 100%; the embedder's new version may not.
    Case(
        "model-canary-first-step",
        [canary("embedder", "v1", 90), canary("embedder", "v2", 10), canary("ranker", "v1", 100, "first")],
        [canary("embedder", "v1", 90), canary("embedder", "v3", 10), canary("embedder", "v4", 90)],
        properties=BASE,
    ),
    # A new stack (no stack file at base): every model is new; a version that names no model cannot be looked up.
    Case(
        "model-canary-first-step",
        [canary("embedder", "v3", 100, "first")],
        [Res(DEPLOYMENT, "unnamed", released_version(MODELS_IMAGE, **LATER))],
        properties={"baseTraffic": {}},
    ),
    # A reason recorded in canary-override lets a new version start higher; a blank one is no reason.
    Case(
        "model-canary-first-step",
        [canary("embedder", "v3", 50, **{"mlops.platform/canary-override": "INC-4711: hotfix"})],
        [canary("embedder", "v3", 50, **{"mlops.platform/canary-override": "  "})],
        properties=BASE,
    ),
    # Without a base in the pack config, a version above the first step cannot be told new or not: it fails.
    Case(
        "model-canary-first-step",
        [canary("embedder", "v2", 10), canary("embedder", "v3", 10, **STEPPED)],
        [canary("embedder", "v2", 50)],
    ),
    # The placeholder left unfilled is reported, whatever the versions' weights.
    Case(
        "model-canary-first-step",
        [canary("embedder", "v2", 10)],
        [canary("embedder", "v2", 10)],
        properties=BASE,
        bad_properties={"baseTraffic": "BASE_REVISION_TRAFFIC"},
    ),
]


# Training (policies/training.py): a Job on the training nodes, a Deployment kept off them, JupyterHub's values.
TRAINING_TOLERATION = {
    "key": "mlops.io/training",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}


def training_job(queue: str | None = "training", do_not_disrupt: bool = True) -> dict:
    pod = {
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "tolerations": [TRAINING_TOLERATION],
        "containers": [container()],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "train",
            "namespace": "team-a",
            "labels": {"kueue.x-k8s.io/queue-name": queue} if queue else {},
        },
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {"karpenter.sh/do-not-disrupt": "true"} if do_not_disrupt else {}
                },
                "spec": pod,
            }
        },
    }


def hub_release(**singleuser) -> dict:
    values = {
        "uid": 1000,
        "allowPrivilegeEscalation": False,
        "cloudMetadata": {"blockWithIptables": False},
        **singleuser,
    }
    return {
        "chart": "jupyterhub",
        "version": "4.3.5",
        "namespace": "jupyterhub",
        "values": {"singleuser": values},
    }


CASES += [
    one(
        "kubernetes:batch/v1:Job",
        training_job(),
        training_job(queue=None),
        "training-pods-name-a-local-queue",
    ),
    one(
        DEPLOYMENT,
        deployment(),
        deployment(pod_extra={"tolerations": [{"operator": "Exists"}]}),
        "training-pools-never-serve",
    ),
    one(
        "kubernetes:helm.sh/v3:Release",
        hub_release(),
        hub_release(cloudMetadata={"blockWithIptables": True}),
        "notebooks-never-privileged",
    ),
]
