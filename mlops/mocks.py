"""Deterministic, type-aware mock outputs for offline synthesis.

Under the Pulumi SDK's mock monitor no provider runs, so every output a program reads (an ARN fed into a
policy, an endpoint fed into a kubeconfig) comes from here. Values are derived only from the resource's type,
logical name, inputs and its provider's region, so two previews of the same stack are identical and outputs
that feed other resources look like what AWS would return.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Any

import pulumi


def digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _uuid(seed: str) -> str:
    h = digest(seed, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class Context:
    """What an output generator may know about one resource."""

    def __init__(self, args: pulumi.runtime.MockResourceArgs, partition: str, account: str, region: str):
        self.type = args.typ
        self.name = args.name
        self.inputs = args.inputs
        self.partition = partition
        self.account = account
        self.region = region

    @property
    def service(self) -> str:
        # "aws:s3/bucketV2:BucketV2" -> "s3"
        module = self.type.split(":")[1] if self.type.count(":") >= 2 else "index"
        return module.split("/")[0]

    def physical(self, key: str = "name") -> str:
        value = self.inputs.get(key)
        return (
            value
            if isinstance(value, str) and value
            else f"{self.name}-{digest(self.type, self.name, length=7)}"
        )

    def arn(
        self, resource: str, *, service: str | None = None, regional: bool = True, account: bool = True
    ) -> str:
        return (
            f"arn:{self.partition}:{service or self.service}:{self.region if regional else ''}:"
            f"{self.account if account else ''}:{resource}"
        )


Generator = Callable[[Context], tuple[str, dict[str, Any]]]


def _short_id(prefix: str) -> Generator:
    def generate(ctx: Context) -> tuple[str, dict[str, Any]]:
        rid = f"{prefix}-{digest(ctx.type, ctx.name)}"
        return rid, {"arn": ctx.arn(f"{_ec2_kind(prefix)}/{rid}")}

    return generate


_EC2_KINDS = {
    "vpc": "vpc",
    "subnet": "subnet",
    "igw": "internet-gateway",
    "nat": "natgateway",
    "rtb": "route-table",
    "sg": "security-group",
    "eipalloc": "elastic-ip",
    "vpce": "vpc-endpoint",
    "fl": "vpc-flow-log",
    "tgw": "transit-gateway",
    "tgw-attach": "transit-gateway-attachment",
    "lt": "launch-template",
    "acl": "network-acl",
}


def _ec2_kind(prefix: str) -> str:
    return _EC2_KINDS.get(prefix, prefix)


def _vpc(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid, out = _short_id("vpc")(ctx)
    return rid, {
        **out,
        "defaultSecurityGroupId": f"sg-{digest(rid, 'default')}",
        "defaultRouteTableId": f"rtb-{digest(rid, 'main')}",
        "defaultNetworkAclId": f"acl-{digest(rid, 'acl')}",
        "mainRouteTableId": f"rtb-{digest(rid, 'main')}",
        "ownerId": ctx.account,
    }


def _bucket(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical("bucket")
    return name, {
        "bucket": name,
        "arn": f"arn:{ctx.partition}:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
        "region": ctx.region,
    }


def _iam_named(kind: str) -> Generator:
    def generate(ctx: Context) -> tuple[str, dict[str, Any]]:
        name = ctx.physical()
        path = ctx.inputs.get("path") or "/"
        return name, {
            "name": name,
            "arn": ctx.arn(f"{kind}{path}{name}", regional=False),
            "uniqueId": digest(name).upper(),
        }

    return generate


def _kms_key(ctx: Context) -> tuple[str, dict[str, Any]]:
    key_id = ("mrk-" + digest(ctx.name, length=32)) if ctx.inputs.get("multiRegion") else _uuid(ctx.name)
    return key_id, {"keyId": key_id, "arn": ctx.arn(f"key/{key_id}")}


def _kms_replica(ctx: Context) -> tuple[str, dict[str, Any]]:
    primary = str(ctx.inputs.get("primaryKeyArn") or "")
    key_id = primary.rsplit("/", 1)[-1] if "/" in primary else "mrk-" + digest(ctx.name, length=32)
    return key_id, {"keyId": key_id, "arn": ctx.arn(f"key/{key_id}")}


def _kms_alias(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    return name, {"arn": ctx.arn(name), "targetKeyArn": ctx.inputs.get("targetKeyId")}


def _log_group(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    return name, {"name": name, "arn": ctx.arn(f"log-group:{name}", service="logs")}


def _named_arn(kind: str) -> Generator:
    def generate(ctx: Context) -> tuple[str, dict[str, Any]]:
        name = ctx.physical()
        return name, {"name": name, "arn": ctx.arn(f"{kind}{name}")}

    return generate


def _ecr_repository(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    return name, {
        "name": name,
        "arn": ctx.arn(f"repository/{name}"),
        "registryId": ctx.account,
        "repositoryUrl": f"{ctx.account}.dkr.ecr.{ctx.region}.amazonaws.com/{name}",
    }


def _eks_cluster(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    oidc = digest(ctx.region, name, length=32).upper()
    ca = base64.b64encode(f"mock-ca-{name}".encode()).decode()
    return name, {
        "name": name,
        "arn": ctx.arn(f"cluster/{name}"),
        "endpoint": f"https://{oidc}.gr7.{ctx.region}.eks.amazonaws.com",
        "certificateAuthority": {"data": ca},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{ctx.region}.amazonaws.com/id/{oidc}"}]}],
        "vpcConfig": {
            **(ctx.inputs.get("vpcConfig") or {}),
            "clusterSecurityGroupId": f"sg-{digest(name, 'cluster')}",
            "vpcId": f"vpc-{digest(name, 'vpc')}",
        },
        "status": "ACTIVE",
    }


def _oidc_provider(ctx: Context) -> tuple[str, dict[str, Any]]:
    # IAM names an OIDC provider by its issuer URL without the scheme.
    host = str(ctx.inputs.get("url") or ctx.name).removeprefix("https://")
    arn = ctx.arn(f"oidc-provider/{host}", service="iam", regional=False)
    return arn, {"arn": arn, "url": host}


def _sqs_queue(ctx: Context) -> tuple[str, dict[str, Any]]:
    # A queue's id is its URL; policies and targets read `url` and `arn`.
    name = ctx.physical()
    url = f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account}/{name}"
    return url, {"name": name, "arn": ctx.arn(name), "url": url}


def _eks_node_group(ctx: Context) -> tuple[str, dict[str, Any]]:
    cluster = str(ctx.inputs.get("clusterName") or "cluster")
    name = ctx.physical("nodeGroupName")
    return f"{cluster}:{name}", {
        "nodeGroupName": name,
        "arn": ctx.arn(f"nodegroup/{cluster}/{name}/{_uuid(ctx.name)}"),
        "status": "ACTIVE",
        "resources": [
            {
                "autoscalingGroups": [{"name": f"eks-{name}-{_uuid(ctx.name)}"}],
                "remoteAccessSecurityGroupId": "",
            }
        ],
    }


def _eks_access_entry(ctx: Context) -> tuple[str, dict[str, Any]]:
    cluster = str(ctx.inputs.get("clusterName") or "cluster")
    principal = str(ctx.inputs.get("principalArn") or ctx.name)
    kind = str(ctx.inputs.get("type") or "STANDARD")
    user = principal.rsplit("/", 1)[-1]
    return f"{cluster}:{principal}", {
        "accessEntryArn": ctx.arn(f"access-entry/{cluster}/role/{ctx.account}/{user}/{_uuid(ctx.name)}"),
        "userName": "system:node:{{EC2PrivateDNSName}}" if kind == "EC2_LINUX" else principal,
        "kubernetesGroups": ["system:nodes"] if kind == "EC2_LINUX" else [],
    }


def _eks_pod_identity_association(ctx: Context) -> tuple[str, dict[str, Any]]:
    cluster = str(ctx.inputs.get("clusterName") or "cluster")
    association = "a-" + digest(ctx.type, ctx.name, length=17)
    return f"{cluster},{association}", {
        "associationId": association,
        "associationArn": ctx.arn(f"podidentityassociation/{cluster}/{association}"),
    }


def _eks_addon(ctx: Context) -> tuple[str, dict[str, Any]]:
    cluster = str(ctx.inputs.get("clusterName") or "cluster")
    addon = str(ctx.inputs.get("addonName") or ctx.name)
    return f"{cluster}:{addon}", {"arn": ctx.arn(f"addon/{cluster}/{addon}/{_uuid(ctx.name)}")}


def _launch_template(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid, out = _short_id("lt")(ctx)
    return rid, {**out, "latestVersion": 1, "defaultVersion": 1}


def _db_instance(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical("identifier")
    address = f"{name}.{digest(ctx.account, ctx.region, length=12)}.{ctx.region}.rds.amazonaws.com"
    port = ctx.inputs.get("port") or 5432
    return name, {
        "identifier": name,
        "arn": ctx.arn(f"db:{name}", service="rds"),
        "address": address,
        "endpoint": f"{address}:{port}",
        "port": port,
        "resourceId": "db-" + digest(name, length=26).upper(),
        "masterUserSecrets": [
            {
                "secretArn": ctx.arn(f"secret:rds!{name}-{digest(name, length=6)}", service="secretsmanager"),
                "kmsKeyId": ctx.inputs.get("masterUserSecretKmsKeyId"),
                "secretStatus": "active",
            }
        ],
    }


def _transit_gateway(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid, out = _short_id("tgw")(ctx)
    return rid, {
        **out,
        "associationDefaultRouteTableId": f"tgw-rtb-{digest(rid, 'association')}",
        "propagationDefaultRouteTableId": f"tgw-rtb-{digest(rid, 'association')}",
        "ownerId": ctx.account,
    }


def _hosted_zone(ctx: Context) -> tuple[str, dict[str, Any]]:
    zone_id = "Z" + digest(ctx.name, str(ctx.inputs.get("name")), length=20).upper()
    servers = [f"ns-{int(digest(zone_id, str(i), length=3), 16)}.awsdns-{i:02d}.org" for i in range(4)]
    return zone_id, {
        "zoneId": zone_id,
        "arn": f"arn:{ctx.partition}:route53:::hostedzone/{zone_id}",
        "nameServers": servers,
    }


def _key_signing_key(ctx: Context) -> tuple[str, dict[str, Any]]:
    """A KSK as Route 53 describes it: ECDSAP256SHA256 (algorithm 13) with a SHA-256 digest (type 2), and the
    DS record ``<key tag> 13 2 <digest>`` (RFC 4034 section 5.3) that the parent zone carries."""
    zone_id, name = str(ctx.inputs.get("hostedZoneId")), str(ctx.inputs.get("name"))
    key_tag = int(digest(zone_id, name, length=4), 16) % 65536
    value = digest(zone_id, name, "digest", length=64).upper()
    return f"{zone_id},{name}", {
        "keyTag": key_tag,
        "signingAlgorithmMnemonic": "ECDSAP256SHA256",
        "signingAlgorithmType": 13,
        "digestAlgorithmMnemonic": "SHA-256",
        "digestAlgorithmType": 2,
        "digestValue": value,
        "dsRecord": f"{key_tag} 13 2 {value}",
        "flag": 257,
    }


def _amp_workspace(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid = "ws-" + _uuid(ctx.type + ctx.name)
    return rid, {
        "arn": ctx.arn(f"workspace/{rid}", service="aps"),
        "prometheusEndpoint": f"https://aps-workspaces.{ctx.region}.amazonaws.com/workspaces/{rid}/",
    }


def _amp_scraper(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid = "s-" + _uuid(ctx.type + ctx.name)
    return rid, {
        "arn": ctx.arn(f"scraper/{rid}", service="aps"),
        "roleArn": ctx.arn(
            f"role/aws-service-role/scraper.aps.amazonaws.com/AWSServiceRoleForAmazonPrometheusScraper_{digest(rid, length=7)}",
            service="iam",
            regional=False,
        ),
    }


def _grafana_workspace(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid = "g-" + digest(ctx.type, ctx.name, length=10)
    return rid, {
        "arn": ctx.arn(f"/workspaces/{rid}", service="grafana"),
        "endpoint": f"{rid}.grafana-workspace.{ctx.region}.amazonaws.com",
        "grafanaVersion": ctx.inputs.get("grafanaVersion") or "10.4",
    }


def _route53_health_check(ctx: Context) -> tuple[str, dict[str, Any]]:
    rid = _uuid(ctx.type + ctx.name)
    return rid, {"arn": f"arn:{ctx.partition}:route53:::healthcheck/{rid}"}


def _permission_set(ctx: Context) -> tuple[str, dict[str, Any]]:
    instance = str(ctx.inputs.get("instanceArn") or "arn:aws:sso:::instance/ssoins-0000000000000000")
    ps = "ps-" + digest(ctx.type, ctx.name, length=16)
    arn = f"arn:{ctx.partition}:sso:::permissionSet/{instance.rsplit('/', 1)[-1]}/{ps}"
    return f"{arn},{instance}", {"arn": arn, "createdDate": "2026-01-01T00:00:00Z"}


def _trail(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    arn = ctx.arn(f"trail/{name}")
    return arn, {"arn": arn, "homeRegion": ctx.region}


def _metric_alarm(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    return name, {"arn": ctx.arn(f"alarm:{name}")}


def _target_group(ctx: Context) -> tuple[str, dict[str, Any]]:
    # A target group's id is its ARN; CloudWatch names it by the ARN's suffix (targetgroup/<name>/<id>).
    name = ctx.physical()
    suffix = f"targetgroup/{name}/{digest(ctx.type, ctx.name, ctx.region, length=16)}"
    arn = ctx.arn(suffix, service="elasticloadbalancing")
    return arn, {"arn": arn, "arnSuffix": suffix, "name": name}


def _event_rule(ctx: Context) -> tuple[str, dict[str, Any]]:
    # A rule on the default bus: its ARN is arn:<partition>:events:<region>:<account>:rule/<name> (the id keeps the
    # default form, so rules' ids in saved previews stay as they were).
    rid, _ = _snake_to_wire_default(ctx)
    return rid, {"arn": ctx.arn(f"rule/{ctx.physical()}", service="events")}


def _guardduty_detector(ctx: Context) -> tuple[str, dict[str, Any]]:
    # Detector ids are 32 lower-case hex characters.
    rid = digest(ctx.type, ctx.name, ctx.region, length=32)
    return rid, {"arn": ctx.arn(f"detector/{rid}", service="guardduty"), "accountId": ctx.account}


def _dashboard(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical("dashboardName")
    return name, {"dashboardArn": ctx.arn(f"dashboard/{name}", regional=False)}


def _access_grants_instance(ctx: Context) -> tuple[str, dict[str, Any]]:
    # One instance per account and region, always `default` (its id is the account's).
    return ctx.account, {
        "accessGrantsInstanceId": "default",
        "accessGrantsInstanceArn": ctx.arn("access-grants/default", service="s3"),
    }


def _access_grants_location(ctx: Context) -> tuple[str, dict[str, Any]]:
    location_id = _uuid(ctx.type + ctx.name)
    return f"{ctx.account},{location_id}", {
        "accessGrantsLocationId": location_id,
        "accessGrantsLocationArn": ctx.arn(f"access-grants/default/location/{location_id}", service="s3"),
    }


GENERATORS: dict[str, Generator] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _short_id("subnet"),
    "aws:ec2/internetGateway:InternetGateway": _short_id("igw"),
    "aws:ec2/natGateway:NatGateway": _short_id("nat"),
    "aws:ec2/eip:Eip": _short_id("eipalloc"),
    "aws:ec2/routeTable:RouteTable": _short_id("rtb"),
    "aws:ec2/securityGroup:SecurityGroup": _short_id("sg"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _short_id("sg"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _short_id("vpce"),
    "aws:ec2/flowLog:FlowLog": _short_id("fl"),
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:ec2transitgateway/transitGateway:TransitGateway": _transit_gateway,
    "aws:route53/zone:Zone": _hosted_zone,
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": _short_id("tgw-attach"),
    "aws:ec2transitgateway/peeringAttachment:PeeringAttachment": _short_id("tgw-attach"),
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:iam/role:Role": _iam_named("role"),
    "aws:iam/policy:Policy": _iam_named("policy"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/replicaKey:ReplicaKey": _kms_replica,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:sns/topic:Topic": _named_arn(""),
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:eks/accessEntry:AccessEntry": _eks_access_entry,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _eks_pod_identity_association,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:rds/instance:Instance": _db_instance,
    "aws:amp/workspace:Workspace": _amp_workspace,
    "aws:amp/scraper:Scraper": _amp_scraper,
    "aws:grafana/workspace:Workspace": _grafana_workspace,
    "aws:route53/healthCheck:HealthCheck": _route53_health_check,
    "aws:route53/keySigningKey:KeySigningKey": _key_signing_key,
    "aws:ssoadmin/permissionSet:PermissionSet": _permission_set,
    "aws:cloudtrail/trail:Trail": _trail,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:guardduty/detector:Detector": _guardduty_detector,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "random:index/randomId:RandomId": lambda ctx: _random_id(ctx),
    "aws:s3control/accessGrantsInstance:AccessGrantsInstance": _access_grants_instance,
    "aws:s3control/accessGrantsLocation:AccessGrantsLocation": _access_grants_location,
}


def _snake_to_wire_default(ctx: Context) -> tuple[str, dict[str, Any]]:
    name = ctx.physical()
    kind = ctx.type.rsplit(":", 1)[-1].lower()
    return f"{ctx.name}-{digest(ctx.type, ctx.name, length=8)}", {"arn": ctx.arn(f"{kind}/{name}")}


class PlatformMocks(pulumi.runtime.Mocks):
    """Mocks whose outputs are derived from partition, account, provider region and resource name."""

    def __init__(
        self, partition: str = "aws", account: str = "123456789012", default_region: str = "us-east-1"
    ):
        self.partition = partition
        self.account = account
        self.default_region = default_region
        self.provider_regions: dict[str, str] = {}
        self.stack_outputs: Callable[[str], dict[str, Any]] | None = None
        # (region, name) of each ALB the load balancer controller would make from the run's Ingresses.
        self.controller_load_balancers: set[tuple[str, str]] = set()

    def region_of(self, provider_ref: str | None) -> str:
        if not provider_ref:
            return self.default_region
        # A provider reference is "<urn>::<id>".
        return self.provider_regions.get(provider_ref.rsplit("::", 1)[0], self.default_region)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-provider-id", dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            name = str(args.inputs.get("name") or args.name)
            outputs = self.stack_outputs(name) if self.stack_outputs else {}
            return name, {"name": name, "outputs": outputs, "secretOutputNames": []}
        ctx = Context(args, self.partition, self.account, self.region_of(args.provider))
        generator = GENERATORS.get(args.typ)
        if generator is None:
            if args.typ.startswith("kubernetes:"):
                return _kubernetes(ctx, self)
            rid, extra = _snake_to_wire_default(ctx)
        else:
            rid, extra = generator(ctx)
        state = dict(args.inputs)
        state.update(extra)
        state.setdefault("id", rid)
        if args.typ.startswith("aws:"):
            state.setdefault("tagsAll", args.inputs.get("tags") or {})
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list]:
        """Answer a data-source lookup only with what exists once the run is deployed; fail like AWS otherwise.

        The program does no lookups where configuration can say the answer. The exceptions are AWS-published
        objects (the S3 prefix list) and the load balancers the load balancer controller makes from the run's
        Ingresses (their ids exist only once it has made them). Anything else has no offline answer and fails,
        so a lookup of something nobody creates is an error here as it would be live.
        """
        region = self.region_of(args.provider)
        inputs = dict(args.args)
        if args.token == "aws:lb/getLoadBalancer:getLoadBalancer":
            name = str(inputs.get("name"))
            if (region, name) not in self.controller_load_balancers:
                return {}, [
                    (
                        "name",
                        f"Search returned 0 results: no load balancer {name!r} in {region} (no Ingress "
                        "of this run names it with a certificate of that region)",
                    )
                ]
            return _load_balancer(self.partition, self.account, region, name), []
        if args.token == "aws:ec2/getPrefixList:getPrefixList":
            name = str(inputs.get("name") or "")
            if not re.fullmatch(rf"com\.amazonaws\.{re.escape(region)}\.(s3|dynamodb)", name):
                return {}, [("name", f"no AWS-managed prefix list {name!r} in {region}")]
            return _prefix_list(name), []
        return {}, [("token", f"{args.token}: no offline answer (the program makes no other lookups)")]

    def note_ingress(self, annotations: dict[str, Any]) -> tuple[str, str] | None:
        """The (region, name) of the ALB the controller makes for an Ingress with a fixed name and a certificate:
        a load balancer uses certificates of its own region only (ELB User Guide, "SSL certificates for your
        Application Load Balancer"), so the certificate's region is the ALB's."""
        name = annotations.get(f"{ALB_ANNOTATIONS}/load-balancer-name")
        certificate = str(annotations.get(f"{ALB_ANNOTATIONS}/certificate-arn") or "").split(",")[0]
        if not name or certificate.count(":") < 5:
            return None
        key = (certificate.split(":")[3], str(name))
        self.controller_load_balancers.add(key)
        return key


ALB_ANNOTATIONS = "alb.ingress.kubernetes.io"


def _load_balancer(partition: str, account: str, region: str, name: str) -> dict[str, Any]:
    """An ALB as AWS describes it, derived from its region and name (the Ingress status names the same host)."""
    suffix = f"app/{name}/{digest('alb', region, name, length=16)}"
    return {
        "arn": f"arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}",
        "arnSuffix": suffix,
        "name": name,
        "dnsName": f"internal-{name}-{int(digest('dns', region, name, length=8), 16) % 10**10}.{region}.elb.amazonaws.com",
        "zoneId": f"Z{digest('elb-zone', region, length=13).upper()}",
        "internal": True,
        "loadBalancerType": "application",
    }


def _prefix_list(name: str) -> dict[str, Any]:
    """An AWS-managed prefix list offline: deterministic stand-in ranges (198.18.0.0/15, the benchmarking block)."""
    seed = int(digest(name, length=4), 16)
    cidrs = [f"198.{18 + (seed + index) % 2}.{(seed + 7 * index) % 256}.0/24" for index in range(3)]
    return {"id": f"pl-{digest(name, length=8)}", "name": name, "cidrBlocks": sorted(set(cidrs))}


def _random_id(ctx: Context) -> tuple[str, dict[str, Any]]:
    raw = bytes.fromhex(digest(ctx.type, ctx.name, length=2 * int(ctx.inputs.get("byteLength") or 4)))
    encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return encoded, {
        "hex": raw.hex(),
        "b64Url": encoded,
        "b64Std": base64.b64encode(raw).decode(),
        "dec": str(int(raw.hex(), 16)),
    }


def _kubernetes(ctx: Context, mocks: PlatformMocks) -> tuple[str, dict[str, Any]]:
    metadata = dict(ctx.inputs.get("metadata") or {})
    name = metadata.get("name") or f"{ctx.name}-{digest(ctx.type, ctx.name, length=8)}"
    metadata.setdefault("name", name)
    namespace = metadata.get("namespace")
    rid = f"{namespace}/{name}" if namespace else str(name)
    state = dict(ctx.inputs)
    state["metadata"] = {**metadata, "uid": _uuid(ctx.type + ctx.name)}
    if ctx.type == "kubernetes:networking.k8s.io/v1:Ingress":
        # What the load balancer controller writes and Pulumi's Ingress await logic waits for on create.
        balancer = mocks.note_ingress(dict(metadata.get("annotations") or {}))
        if balancer is not None:
            host = _load_balancer(ctx.partition, ctx.account, *balancer)["dnsName"]
        else:
            host = f"internal-k8s-{int(digest(ctx.type, ctx.name, length=8), 16) % 10**10}.{ctx.region}.elb.amazonaws.com"
        state["status"] = {"loadBalancer": {"ingress": [{"hostname": host}]}}
    if ctx.type.startswith("kubernetes:helm.sh/v3:Release"):
        state["status"] = {
            "name": ctx.inputs.get("name") or ctx.name,
            "namespace": ctx.inputs.get("namespace"),
            "status": "deployed",
            "version": ctx.inputs.get("version"),
        }
        rid = str(ctx.inputs.get("name") or ctx.name)
    return rid, state
