"""EKS clusters, node groups, launch templates and Karpenter node classes: where models run."""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import Severity

from policies.aws_storage import truthy
from policies.base import as_strings, environment, get, items, resource_policy, shown

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
OPEN = ("0.0.0.0/0", "::/0")


def _endpoint(props, args):
    vpc = get(props, "vpcConfig", default={})
    public = get(vpc, "endpointPublicAccess", default=True)  # the AWS default is public
    if not truthy(public):
        return None
    if environment(args) == "prod":
        return "the API endpoint is public; prod clusters are private (endpointPublicAccess: false)"
    cidrs = as_strings(get(vpc, "publicAccessCidrs", default=[]))
    if not cidrs or any(cidr in OPEN for cidr in cidrs):
        return "the public API endpoint is open to the internet; restrict publicAccessCidrs to an allow-list"
    return None


def _secrets_encryption(props, _args):
    config = props.get("encryptionConfig")
    configs = [config] if isinstance(config, Mapping) else items(config)
    for entry in configs:
        if "secrets" in as_strings(get(entry, "resources")) and get(entry, "provider", "keyArn"):
            return None
    return "Kubernetes secrets are not envelope-encrypted with a customer KMS key"


def _log_types(props, _args):
    missing = [kind for kind in LOG_TYPES if kind not in as_strings(props.get("enabledClusterLogTypes"))]
    return f"control-plane log types missing: {', '.join(missing)}" if missing else None


def _auth_mode(props, _args):
    mode = get(props, "accessConfig", "authenticationMode", default="CONFIG_MAP")
    return None if mode == "API" else f"authentication mode {shown(mode)}; use API (access entries)"


def _imdsv2(props, _args):
    options = props.get("metadataOptions")
    if get(options, "httpTokens") != "required":
        return "instance metadata allows IMDSv1; set metadataOptions.httpTokens: required"
    hops = get(options, "httpPutResponseHopLimit", default=1)
    if isinstance(hops, (int, float)) and hops > 2:
        return f"IMDS hop limit {int(hops)} lets pods reach node credentials; use 1 (or 2)"
    return None


def _encrypted_volumes(props, _args):
    problems = []
    for mapping in items(props.get("blockDeviceMappings")):
        ebs = get(mapping, "ebs", default={})
        if not truthy(get(ebs, "encrypted")) or not get(ebs, "kmsKeyId"):
            problems.append(
                f"volume {get(mapping, 'deviceName', default='?')} is not encrypted with a customer key"
            )
    return problems


def _no_public_ip(props, _args):
    if any(truthy(get(nic, "associatePublicIpAddress")) for nic in items(props.get("networkInterfaces"))):
        return "a network interface asks for a public IP; nodes live in private subnets only"
    return None


def _node_group(props, _args):
    problems = []
    if not get(props, "launchTemplate"):
        problems.append(
            "the node group has no launch template (IMDSv2 and volume encryption cannot be enforced)"
        )
    if get(props, "remoteAccess"):
        problems.append("the node group opens SSH remote access")
    return problems


def _node_class(props, _args):
    spec = get(props, "spec", default={})
    problems = []
    if get(spec, "metadataOptions", "httpTokens") != "required":
        problems.append("the node class allows IMDSv1 (metadataOptions.httpTokens must be required)")
    volumes = items(get(spec, "blockDeviceMappings"))
    if not volumes or any(
        not truthy(get(v, "ebs", "encrypted")) or not get(v, "ebs", "kmsKeyID") for v in volumes
    ):
        problems.append(
            "the node class's volumes are not all encrypted with a customer key (ebs.encrypted, kmsKeyID)"
        )
    if truthy(get(spec, "associatePublicIPAddress")):
        problems.append("the node class gives nodes public IPs")
    return problems


POLICIES = [
    resource_policy(
        "eks-private-endpoint",
        area="eks",
        severity=Severity.CRITICAL,
        description="EKS API endpoints are private in prod, and public elsewhere only with an allow-list.",
        types=[CLUSTER],
        check=_endpoint,
        environment_aware=True,
        remediation="Set vpcConfig.endpointPublicAccess: false (prod) or publicAccessCidrs to an allow-list.",
    ),
    resource_policy(
        "eks-secrets-encryption",
        area="eks",
        severity=Severity.HIGH,
        description="EKS clusters envelope-encrypt Kubernetes secrets with a customer KMS key.",
        types=[CLUSTER],
        check=_secrets_encryption,
        remediation="Set encryptionConfig {resources: [secrets], provider.keyArn: <cluster-secrets key>}.",
    ),
    resource_policy(
        "eks-control-plane-logging",
        area="eks",
        severity=Severity.MEDIUM,
        description="EKS clusters send all five control-plane log types to CloudWatch.",
        types=[CLUSTER],
        check=_log_types,
        remediation="Set enabledClusterLogTypes to api, audit, authenticator, controllerManager, scheduler.",
    ),
    resource_policy(
        "eks-access-entries",
        area="eks",
        severity=Severity.MEDIUM,
        description="EKS clusters authenticate through access entries (authentication mode API).",
        types=[CLUSTER],
        check=_auth_mode,
        remediation="Set accessConfig.authenticationMode: API.",
    ),
    resource_policy(
        "launch-template-imdsv2",
        area="eks",
        severity=Severity.HIGH,
        description="Node launch templates require IMDSv2 with a hop limit of at most 2.",
        types=[LAUNCH_TEMPLATE],
        check=_imdsv2,
        remediation="Set metadataOptions {httpTokens: required, httpPutResponseHopLimit: 1}.",
    ),
    resource_policy(
        "launch-template-encrypted-volumes",
        area="eks",
        severity=Severity.HIGH,
        description="Node launch templates encrypt every volume with a customer key.",
        types=[LAUNCH_TEMPLATE],
        check=_encrypted_volumes,
        remediation="Set blockDeviceMappings[].ebs {encrypted: true, kmsKeyId: <volumes key>}.",
    ),
    resource_policy(
        "launch-template-no-public-ip",
        area="eks",
        severity=Severity.HIGH,
        description="Node launch templates never ask for public IPs.",
        types=[LAUNCH_TEMPLATE],
        check=_no_public_ip,
        remediation="Set networkInterfaces[].associatePublicIpAddress: false, or leave it unset.",
    ),
    resource_policy(
        "eks-node-group-hardened",
        area="eks",
        severity=Severity.MEDIUM,
        description="Managed node groups use a launch template and open no SSH access.",
        types=[NODE_GROUP],
        check=_node_group,
        remediation="Set launchTemplate; remove remoteAccess.",
    ),
    resource_policy(
        "karpenter-node-class-hardened",
        area="eks",
        severity=Severity.HIGH,
        description="Karpenter node classes require IMDSv2, encrypt volumes and give no public IPs.",
        types=[NODE_CLASS],
        check=_node_class,
        remediation="Set metadataOptions.httpTokens: required and encrypted blockDeviceMappings with kmsKeyID.",
    ),
]
