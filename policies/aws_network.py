"""VPCs, security groups and load balancers: what can reach the platform."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pulumi_policy import Severity

from policies.aws_storage import truthy
from policies.base import as_strings, document, get, items, resource_policy, shown, statements

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
OPEN = ("0.0.0.0/0", "::/0")
MODERN_TLS = (
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
)


def _port(value: object) -> str:
    # Ports arrive as ints from JSON and as floats through protobuf Structs; say them the same way.
    return str(int(value)) if isinstance(value, (int, float)) else str(value)


def _open_rule(cidrs, from_port, to_port, protocol) -> str | None:
    if not any(cidr in OPEN for cidr in cidrs):
        return None
    if str(protocol) in ("tcp", "6") and _port(from_port) == _port(to_port) == "443":
        return None
    ports = f"{_port(from_port)}-{_port(to_port)}"
    return (
        f"ingress from {', '.join(c for c in cidrs if c in OPEN)} on {protocol} {ports}; only 443 may be open"
    )


def _security_group(props, _args):
    problems = []
    for rule in items(props.get("ingress")):
        cidrs = as_strings(get(rule, "cidrBlocks")) + as_strings(get(rule, "ipv6CidrBlocks"))
        found = _open_rule(cidrs, get(rule, "fromPort"), get(rule, "toPort"), get(rule, "protocol"))
        if found:
            problems.append(found)
    return problems


def _sg_rule(props, _args):
    if props.get("type") != "ingress":
        return None
    cidrs = as_strings(props.get("cidrBlocks")) + as_strings(props.get("ipv6CidrBlocks"))
    return _open_rule(cidrs, props.get("fromPort"), props.get("toPort"), props.get("protocol"))


def _ingress_rule(props, _args):
    cidrs = [c for c in (props.get("cidrIpv4"), props.get("cidrIpv6")) if isinstance(c, str)]
    return _open_rule(cidrs, props.get("fromPort"), props.get("toPort"), props.get("ipProtocol"))


def _default_sg(props, _args):
    if items(props.get("ingress")) or items(props.get("egress")):
        return "the default security group has rules; keep it empty so nothing uses it by accident"
    return None


def _subnet(props, _args):
    return "subnet assigns public IPs on launch" if truthy(props.get("mapPublicIpOnLaunch")) else None


def _https_listener(props, _args):
    protocol = props.get("protocol")
    if protocol in ("HTTPS", "TLS"):
        return None
    redirects = [
        a
        for a in items(props.get("defaultActions"))
        if get(a, "type") == "redirect" and get(a, "redirect", "protocol") == "HTTPS"
    ]
    if protocol == "HTTP" and redirects and len(redirects) == len(items(props.get("defaultActions"))):
        return None
    return f"listener protocol {shown(protocol)} serves plain traffic; use HTTPS (or only redirect HTTP to HTTPS)"


def _tls_policy(props, _args):
    if props.get("protocol") not in ("HTTPS", "TLS"):
        return None
    policy = props.get("sslPolicy")
    return (
        None
        if policy in MODERN_TLS
        else f"TLS policy {shown(policy)} is not a modern (TLS 1.2+ forward-secret) policy"
    )


def _drop_invalid_headers(props, _args):
    if props.get("loadBalancerType", "application") != "application":
        return None
    return (
        None if truthy(props.get("dropInvalidHeaderFields")) else "invalid HTTP header fields are not dropped"
    )


def _lb_access_logs(props, _args):
    return None if truthy(get(props, "accessLogs", "enabled")) else "load balancer access logs are off"


#: Operators under which a value made only of ``*`` matches any value of a key present in the request (IAM User
#: Guide, "IAM JSON policy elements: Condition operators": StringLike and ArnLike take the multi-character
#: wildcard anywhere in the value), with their set-operator and IfExists forms.
_WILDCARD_OPERATOR = re.compile(r"^(ForAnyValue:|ForAllValues:)?(StringLike|ArnLike)(IfExists)?$")


def _matches_anything(value: str) -> bool:
    """``*``, ``**``, or an ARN pattern whose every part is ``*`` (``arn:*:*:*:*:*``): no value is left out."""
    parts = value.split(":")
    if parts[0] == "arn" and len(parts) > 1:
        parts = parts[1:]
    return all(part and set(part) == {"*"} for part in parts)


def trivially_true(condition: object) -> bool:
    """Whether a Condition leaves out no principal, account or resource: every key it tests is matched with a
    wildcard that matches any value (``StringLike aws:PrincipalAccount "*"``). Keys are ANDed, values of one key
    ORed, so one all-wildcard value makes its key match and every key must do so. No condition at all is true."""
    if not condition:
        return True
    if not isinstance(condition, Mapping):
        return False
    for operator, keys in condition.items():
        if not _WILDCARD_OPERATOR.match(str(operator)) or not isinstance(keys, Mapping) or not keys:
            return False
        for values in keys.values():
            if not any(_matches_anything(value) for value in as_strings(values)):
                return False
    return True


def full_access_statements(doc) -> list[str]:
    """Sids (or positions) of statements that let anyone do anything through an endpoint: Allow, principal
    everyone, every action (of every or of one service), every resource, and no condition or one that is always
    true (see ``trivially_true``), as the default policy."""
    found = []
    for index, statement in enumerate(statements(doc)):
        principal = statement.get("Principal")
        everyone = principal == "*" or "*" in as_strings(get(principal, "AWS"))
        actions = as_strings(statement.get("Action"))
        # NotAction / NotResource allow everything but what they name: as wide as "*" for this purpose.
        every_action = "NotAction" in statement or any(a == "*" or a.endswith(":*") for a in actions)
        every_resource = "NotResource" in statement or "*" in as_strings(statement.get("Resource"))
        if (
            statement.get("Effect") == "Allow"
            and everyone
            and every_action
            and every_resource
            and trivially_true(statement.get("Condition"))
        ):
            found.append(str(statement.get("Sid") or f"#{index}"))
    return found


#: Interface endpoint services that accept only the full-access policy (DescribeVpcEndpointServices reports
#: "VpcEndpointPolicySupported": false; AWS PrivateLink Guide, "Control access to VPC endpoints using endpoint
#: policies": "If a service does not support endpoint policies, the endpoint allows full access to the service").
#: An endpoint of one of these cannot be restricted, so a missing policy is not a finding.
WITHOUT_ENDPOINT_POLICY = ("ec2messages", "oidc-eks")


_AFTER_REGION = re.compile(r"\.[a-z]{2}(?:-[a-z]+)+-\d+\.(.+)$")


def _service_suffix(service_name: object) -> str:
    """`com.amazonaws.us-east-1.ec2messages` (or `cn.com.amazonaws.cn-north-1.ec2messages`) -> `ec2messages`:
    the part after the region."""
    match = _AFTER_REGION.search(str(service_name or ""))
    return match.group(1) if match else ""


def _endpoint_policy(props, _args):
    if props.get("vpcEndpointType") == "GatewayLoadBalancer":
        return None  # Gateway Load Balancer endpoints take no policy
    if _service_suffix(props.get("serviceName")) in WITHOUT_ENDPOINT_POLICY:
        return None
    policy = props.get("policy")
    if policy is None or policy == "":
        return "no endpoint policy: the default policy allows every principal every action on every resource"
    doc = document(policy)
    if doc is None or not statements(doc):
        return "the endpoint policy is not a JSON policy document with statements"
    wide = full_access_statements(doc)
    return [
        f"statement {sid} allows everyone every action on every resource without a condition that narrows it"
        for sid in wide
    ]


POLICIES = [
    resource_policy(
        "sg-no-open-ingress",
        area="network",
        severity=Severity.CRITICAL,
        description="Security groups allow ingress from anywhere only on 443.",
        types=[SECURITY_GROUP, SG_RULE, INGRESS_RULE],
        check=lambda props, args: {
            SECURITY_GROUP: _security_group,
            SG_RULE: _sg_rule,
            INGRESS_RULE: _ingress_rule,
        }[args.resource_type](props, args),
        remediation="Restrict the source to known CIDRs or security groups; only HTTPS may face the internet.",
    ),
    resource_policy(
        "vpc-default-sg-closed",
        area="network",
        severity=Severity.MEDIUM,
        description="Each VPC's default security group has no rules.",
        types=[DEFAULT_SG],
        check=_default_sg,
        remediation="Manage the default SG with empty ingress and egress.",
    ),
    resource_policy(
        "subnet-no-auto-public-ip",
        area="network",
        severity=Severity.MEDIUM,
        description="Subnets do not assign public IPs on launch.",
        types=[SUBNET],
        check=_subnet,
        remediation="Set mapPublicIpOnLaunch: false.",
    ),
    resource_policy(
        "vpc-endpoint-policy-restricted",
        area="network",
        severity=Severity.HIGH,
        description="VPC endpoints carry a policy narrower than the default full access.",
        types=[VPC_ENDPOINT],
        check=_endpoint_policy,
        remediation="Set policy: gateway endpoints to the account's own buckets or tables plus the AWS-owned "
        "buckets the platform needs; interface endpoints to the account's principals (aws:PrincipalAccount).",
    ),
    resource_policy(
        "lb-https-only",
        area="loadbalancer",
        severity=Severity.HIGH,
        description="Load balancer listeners serve HTTPS only (plain HTTP may only redirect to HTTPS).",
        types=LISTENERS,
        check=_https_listener,
        remediation="Use protocol HTTPS with a certificate.",
    ),
    resource_policy(
        "lb-modern-tls",
        area="loadbalancer",
        severity=Severity.MEDIUM,
        description="HTTPS listeners use a modern TLS policy.",
        types=LISTENERS,
        check=_tls_policy,
        remediation="Set sslPolicy to ELBSecurityPolicy-TLS13-1-2-2021-06.",
    ),
    resource_policy(
        "lb-drop-invalid-headers",
        area="loadbalancer",
        severity=Severity.MEDIUM,
        description="Application load balancers drop invalid header fields.",
        types=LOAD_BALANCERS,
        check=_drop_invalid_headers,
        remediation="Set dropInvalidHeaderFields: true.",
    ),
    resource_policy(
        "lb-access-logs",
        area="loadbalancer",
        severity=Severity.LOW,
        description="Load balancers write access logs.",
        types=LOAD_BALANCERS,
        check=_lb_access_logs,
        remediation="Set accessLogs {enabled: true, bucket: ...}.",
    ),
]
