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


@dataclass(frozen=True)
class Case:
    policy: str
    good: list[Res]
    bad: list[Res]
    environment: str = "prod"


def urn(res: Res) -> str:
    return f"urn:pulumi:t::p::{res.type}::{res.name}"


def document(resources: list[Res], environment: str = "prod") -> dict[str, Any]:
    by_name = {r.name: r for r in resources}
    steps = []
    for res in resources:
        deps = {key: [urn(by_name[n]) for n in names] for key, names in res.prop_deps.items()}
        steps.append(
            {
                "op": "create",
                "urn": urn(res),
                "provider": "",
                "newState": {
                    "type": res.type,
                    "urn": urn(res),
                    "custom": True,
                    "parent": "",
                    "provider": "",
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
