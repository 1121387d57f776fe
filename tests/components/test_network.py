"""Network and encryption layers in the shipped stacks' offline previews."""

from __future__ import annotations

import json

import pytest

from components.blocks import PlatformContext
from components.encryption import PURPOSES, key_policy
from tests.conftest import FIXTURES, by_name, run_mlops, states
from tests.iam_eval import decision

PROD_REGIONS = ("us-east-1", "us-west-2")


def in_region(document, type_, region):
    return [s for s in states(document, type_) if f"::aws-{region}::" in s["provider"]]


def test_prod_has_a_vpc_per_region_with_four_tiers_in_three_zones(synth):
    prod = synth("prod")
    assert {vpc["inputs"]["cidrBlock"] for vpc in states(prod, "aws:ec2/vpc:Vpc")} == {
        "10.30.0.0/16",
        "10.31.0.0/16",
    }
    for region in PROD_REGIONS:
        subnets = in_region(prod, "aws:ec2/subnet:Subnet", region)
        assert len(subnets) == 12
        tiers = sorted((s["inputs"]["tags"]["tier"], s["inputs"]["availabilityZone"]) for s in subnets)
        assert tiers == sorted(
            (tier, f"{region}{zone}") for tier in ("public", "private", "isolated", "lb") for zone in "abc"
        )
        assert all(s["inputs"]["mapPublicIpOnLaunch"] is False for s in subnets)
    private = by_name(prod, "net-us-west-2-private-us-west-2b")["inputs"]
    assert private["cidrBlock"] == "10.31.32.0/19"
    assert private["tags"]["karpenter.sh/discovery"] == "mlops-prod-us-west-2"
    assert "kubernetes.io/role/internal-elb" not in private["tags"]
    assert by_name(prod, "net-us-west-2-public-us-west-2a")["inputs"]["tags"]["kubernetes.io/role/elb"] == "1"
    assert (
        by_name(prod, "net-us-west-2-private-us-west-2b")["parent"] == by_name(prod, "net-us-west-2")["urn"]
    )


def test_internal_load_balancers_get_subnets_no_node_or_pod_is_in(synth):
    """aws-load-balancer-controller v2.13.2 docs/deploy/subnet_discovery.md, "Candidate Subnet Determination":
    without tag filters, if subnets with the matching role tag (kubernetes.io/role/internal-elb for internal load
    balancers) exist, only these become candidates. The lb tier alone has the tag, so internal ALBs are placed
    there; Karpenter's discovery tag stays on the private tier, so no node (and no pod) is in the lb tier."""
    prod = synth("prod")
    for region in PROD_REGIONS:
        subnets = in_region(prod, "aws:ec2/subnet:Subnet", region)
        internal = sorted(
            (s["inputs"]["availabilityZone"], s["inputs"]["cidrBlock"])
            for s in subnets
            if "kubernetes.io/role/internal-elb" in s["inputs"]["tags"]
        )
        second = "30" if region == "us-east-1" else "31"
        assert internal == [
            (f"{region}a", f"10.{second}.216.0/23"),
            (f"{region}b", f"10.{second}.218.0/23"),
            (f"{region}c", f"10.{second}.220.0/23"),
        ]
        for zone in "abc":
            lb = by_name(prod, f"net-{region}-lb-{region}{zone}")
            assert lb["inputs"]["tags"]["kubernetes.io/role/internal-elb"] == "1"
            assert lb["inputs"]["tags"]["tier"] == "lb"
            assert "karpenter.sh/discovery" not in lb["inputs"]["tags"]
            assert lb["parent"] == by_name(prod, f"net-{region}")["urn"]
        discovered = [s for s in subnets if "karpenter.sh/discovery" in s["inputs"]["tags"]]
        assert {s["inputs"]["tags"]["tier"] for s in discovered} == {"private"}
        # The contract lists the tier's subnets with the others.
        assert prod["outputs"]["regions"][region]["subnetIds"]["lb"] == [
            by_name(prod, f"net-{region}-lb-{region}{zone}")["id"] for zone in "abc"
        ]


def test_each_lb_subnet_routes_like_its_zones_private_subnet(synth):
    """Out through the zone's NAT gateway (an ALB with sign-in calls the IdP's token endpoint), or, internet-free,
    nowhere but the VPC and its endpoints: each lb subnet shares its zone's private route table."""
    for document in (synth("prod"), synth("airgapped-cluster", FIXTURES)):
        associations = states(document, "aws:ec2/routeTableAssociation:RouteTableAssociation")
        lb_subnets = [
            s for s in states(document, "aws:ec2/subnet:Subnet") if s["inputs"]["tags"]["tier"] == "lb"
        ]
        assert len(lb_subnets) >= 4
        for subnet in lb_subnets:
            name = subnet["urn"].rsplit("::", 1)[-1]
            [lb_rta] = [a for a in associations if a["inputs"]["subnetId"] == subnet["id"]]
            assert lb_rta["urn"].rsplit("::", 1)[-1] == f"{name}-rta"
            private = by_name(document, name.replace("-lb-", "-private-"))
            [private_rta] = [a for a in associations if a["inputs"]["subnetId"] == private["id"]]
            assert lb_rta["inputs"]["routeTableId"] == private_rta["inputs"]["routeTableId"]
    # Internet-free: that table has no default route (only the transit gateway's routes to the other VPC,
    # which the lb subnets share too: the way back to clients there).
    airgapped = synth("airgapped-cluster", FIXTURES)
    routes = states(airgapped, "aws:ec2/route:Route")
    assert routes and all(r["inputs"]["destinationCidrBlock"] != "0.0.0.0/0" for r in routes)


def test_each_private_zone_routes_through_its_own_nat(synth):
    prod = synth("prod")
    nats = {s["urn"].rsplit("::", 1)[-1]: s for s in states(prod, "aws:ec2/natGateway:NatGateway")}
    assert len(nats) == 6
    for zone in "abc":
        route = by_name(prod, f"net-us-east-1-private-us-east-1{zone}-default")
        assert route["inputs"]["destinationCidrBlock"] == "0.0.0.0/0"
        assert route["inputs"]["natGatewayId"] == nats[f"net-us-east-1-nat-us-east-1{zone}"]["id"]
    public = by_name(prod, "net-us-east-1-public-default")["inputs"]
    assert public["gatewayId"] == by_name(prod, "net-us-east-1-igw")["id"]
    isolated_routes = [s for s in states(prod, "aws:ec2/route:Route") if "isolated" in s["urn"]]
    assert isolated_routes == []


def test_dev_has_one_shared_nat(synth):
    dev = synth("dev")
    nat = states(dev, "aws:ec2/natGateway:NatGateway")
    assert len(nat) == 1
    for zone in "ab":
        assert (
            by_name(dev, f"net-us-east-1-private-us-east-1{zone}-default")["inputs"]["natGatewayId"]
            == nat[0]["id"]
        )


def test_flow_log_per_vpc_into_an_encrypted_log_group(synth):
    prod = synth("prod")
    for region in PROD_REGIONS:
        group = by_name(prod, f"net-{region}-flow-logs")["inputs"]
        logs_key = by_name(prod, f"keys-{region}-logs")
        assert group["kmsKeyId"] == prod["outputs"]["regions"][region]["keyArns"]["logs"]
        assert logs_key["id"] in group["kmsKeyId"]
        assert group["retentionInDays"] == 365
        assert group["name"] == f"/mlops/prod/{region}/vpc-flow-logs"
        flow = by_name(prod, f"net-{region}-flow-log")
        assert flow["inputs"]["trafficType"] == "ALL"
        assert flow["inputs"]["vpcId"] == by_name(prod, f"net-{region}-vpc")["id"]
        assert flow["inputs"]["logDestinationType"] == "cloud-watch-logs"
        trust = json.loads(by_name(prod, f"net-{region}-flow-logs-role")["inputs"]["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "333333333333"}}
        policy = json.loads(by_name(prod, f"net-{region}-flow-logs-policy")["inputs"]["policy"])
        writes, describe = policy["Statement"]
        assert all(
            r.startswith(f"arn:aws:logs:{region}:333333333333:log-group:/mlops/prod/{region}/vpc-flow-logs")
            for r in writes["Resource"]
        )
        # DescribeLogGroups has no resource-level permissions (Service Authorization Reference, CloudWatch Logs).
        assert describe == {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}


def test_default_security_group_is_closed(synth):
    for sg in states(synth("prod"), "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        assert sg["inputs"]["ingress"] == [] and sg["inputs"]["egress"] == []


def test_endpoints(synth):
    prod = synth("prod")
    for region in PROD_REGIONS:
        endpoints = in_region(prod, "aws:ec2/vpcEndpoint:VpcEndpoint", region)
        interface = [e for e in endpoints if e["inputs"]["vpcEndpointType"] == "Interface"]
        gateway = [e for e in endpoints if e["inputs"]["vpcEndpointType"] == "Gateway"]
        assert len(interface) >= 12
        names = {e["inputs"]["serviceName"] for e in interface}
        for service in (
            "ecr.api",
            "ecr.dkr",
            "sts",
            "logs",
            "monitoring",
            "kms",
            "ec2",
            "elasticloadbalancing",
            "autoscaling",
            "ssm",
            "sqs",
            "secretsmanager",
            "eks",
        ):
            assert f"com.amazonaws.{region}.{service}" in names
        assert all(e["inputs"]["privateDnsEnabled"] is True for e in interface)
        assert {e["inputs"]["serviceName"] for e in gateway} == {
            f"com.amazonaws.{region}.s3",
            f"com.amazonaws.{region}.dynamodb",
        }
        assert all(len(e["inputs"]["routeTableIds"]) == 4 for e in gateway)  # 3 private + 1 isolated
    sg = by_name(prod, "net-us-east-1-endpoints-sg")["inputs"]
    assert sg["ingress"] == [
        {
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": ["10.30.0.0/16"],
            "description": "HTTPS from the VPC",
        }
    ]


def test_transit_gateway_peering_and_routes(synth):
    prod = synth("prod")
    tgws = {
        s["urn"].rsplit("::", 1)[-1]: s
        for s in states(prod, "aws:ec2transitgateway/transitGateway:TransitGateway")
    }
    assert set(tgws) == {"global-tgw-us-east-1", "global-tgw-us-west-2"}
    peering = by_name(prod, "global-peering-us-east-1-us-west-2")
    assert peering["inputs"]["transitGatewayId"] == tgws["global-tgw-us-east-1"]["id"]
    assert peering["inputs"]["peerTransitGatewayId"] == tgws["global-tgw-us-west-2"]["id"]
    assert peering["inputs"]["peerRegion"] == "us-west-2"
    accepter = by_name(prod, "global-accept-us-east-1-us-west-2")
    assert accepter["inputs"]["transitGatewayAttachmentId"] == peering["id"]
    assert "::aws-us-west-2::" in accepter["provider"]
    east = by_name(prod, "global-tgw-route-us-east-1-to-us-west-2")["inputs"]
    assert (
        east["destinationCidrBlock"] == "10.31.0.0/16" and east["transitGatewayAttachmentId"] == peering["id"]
    )
    vpc_route = by_name(prod, "global-vpc-route-us-west-2-0-to-us-east-1")["inputs"]
    assert vpc_route["destinationCidrBlock"] == "10.30.0.0/16"
    assert vpc_route["transitGatewayId"] == tgws["global-tgw-us-west-2"]["id"]
    zone = by_name(prod, "global-private-zone")["inputs"]
    assert zone["name"] == "prod.mlops.internal"
    assert sorted(v["vpcRegion"] for v in zone["vpcs"]) == ["us-east-1", "us-west-2"]


def test_single_region_stack_has_no_transit_gateway(synth):
    assert states(synth("dev"), "aws:ec2transitgateway/transitGateway:TransitGateway") == []


def test_keys_per_region(synth):
    prod, dev = synth("prod"), synth("dev")
    # Key-ring keys only: the DNSSEC signing key in us-east-1 and the IP range queue's key are never replicated.
    primaries = [
        k
        for k in in_region(prod, "aws:kms/key:Key", "us-east-1")
        if "mlops:encryption:KeyRing" in k["parent"]
    ]
    replicas = in_region(prod, "aws:kms/replicaKey:ReplicaKey", "us-west-2")
    assert len(primaries) == len(replicas) == len(PURPOSES) >= 5
    for key in primaries:
        assert key["inputs"]["enableKeyRotation"] is True
        assert key["inputs"]["multiRegion"] is True
        assert key["inputs"]["deletionWindowInDays"] == 30
        assert key["protect"] is True
    primary_arns = {k["urn"].rsplit("-", 1)[-1]: k for k in primaries}
    for replica in replicas:
        assert replica["protect"] is True
        purpose = replica["inputs"]["tags"]["purpose"]
        assert (
            replica["inputs"]["primaryKeyArn"] == prod["outputs"]["regions"]["us-east-1"]["keyArns"][purpose]
        )
    assert primary_arns
    for key in (k for k in states(dev, "aws:kms/key:Key") if "mlops:encryption:KeyRing" in k["parent"]):
        # Single-region stacks too: a key cannot become multi-region later without being replaced.
        assert key["protect"] is False and key["inputs"]["multiRegion"] is True
        assert key["inputs"]["enableKeyRotation"] is True
    alias = by_name(prod, "keys-us-west-2-logs-alias")["inputs"]
    assert alias["name"] == "alias/mlops-prod-logs"


def test_logs_key_policy_statements():
    policy = key_policy("logs", PlatformContext("prod", "aws", "333333333333", "us-west-2"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AccountAdministersKey"]["Principal"] == {"AWS": "arn:aws:iam::333333333333:root"}
    logs = by_sid["CloudWatchLogsEncryptsOwnLogGroups"]
    assert logs["Principal"] == {"Service": "logs.us-west-2.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-west-2:333333333333:log-group:*"}
    }
    assert logs["Action"] == ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"]
    trails = "arn:aws:cloudtrail:*:333333333333:trail/*"
    assert by_sid["CloudTrailEncryptsOwnTrails"]["Action"] == "kms:GenerateDataKey*"
    assert by_sid["CloudTrailEncryptsOwnTrails"]["Condition"] == {
        "ArnLike": {"aws:SourceArn": trails},
        "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": trails},
    }


def test_cloudtrail_and_logs_may_describe_the_key_without_an_encryption_context():
    """AWS CloudTrail User Guide, "Configure AWS KMS key policies for CloudTrail" (enable CloudTrail to describe
    KMS key properties): DescribeKey is its own statement, with no encryption-context condition, which
    DescribeKey requests never carry."""
    by_sid = {
        s["Sid"]: s for s in key_policy("logs", PlatformContext("prod", "aws", "1", "us-east-1"))["Statement"]
    }
    assert by_sid["CloudTrailDescribesKey"] == {
        "Sid": "CloudTrailDescribesKey",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:DescribeKey",
        "Resource": "*",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudtrail:*:1:trail/*"}},
    }
    assert by_sid["CloudWatchLogsDescribesKey"]["Action"] == "kms:DescribeKey"
    assert "Condition" not in by_sid["CloudWatchLogsDescribesKey"]


def test_autoscaling_uses_the_volumes_key_through_its_role_arn_not_as_a_named_principal():
    """AWS KMS Developer Guide, "Key policies" / EC2 "Required AWS KMS key policy for use with encrypted
    volumes": Auto Scaling's service-linked role needs the key; naming it as Principal fails while the role does
    not exist, so it is matched by aws:PrincipalArn (an ARN key: ArnEquals)."""
    by_sid = {
        s["Sid"]: s
        for s in key_policy("volumes", PlatformContext("prod", "aws", "1", "us-east-1"))["Statement"]
    }
    role = "arn:aws:iam::1:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    for sid in ("AutoScalingUsesVolumeKey", "AutoScalingGrantsForVolumes"):
        assert by_sid[sid]["Principal"] == {"AWS": "*"}
        assert by_sid[sid]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": role}
    assert by_sid["AutoScalingGrantsForVolumes"]["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


SPOT_ROLE = "arn:aws:iam::1:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"


def key_decision(policy: dict, principal: str, action: str, context: dict[str, str]) -> str:
    """The key policy's decision for a principal of account 1 whose own IAM policy grants nothing on the key (a
    service-linked role): only statements naming it or anyone count, not the account's (which delegates to IAM)."""
    named = [s for s in policy["Statement"] if s["Principal"] in ("*", {"AWS": "*"}, {"AWS": principal})]
    return decision(named, action, "*", {"aws:PrincipalArn": principal, **context})


def test_volumes_key_lets_every_principal_of_the_account_use_it_through_ec2_as_karpenter_documents():
    """Karpenter troubleshooting, "Node terminates before ready on failed encrypted EBS volume" (v1.5.0,
    https://github.com/aws/karpenter-provider-aws/blob/v1.5.0/website/content/en/docs/troubleshooting.md): the
    key policy statement is Principal AWS "*", actions Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*,
    CreateGrant, DescribeKey, with StringEquals kms:ViaService ec2.<region>.amazonaws.com and kms:CallerAccount
    <account>. The Spot service-linked role (whose policy cannot grant the key) launches spot nodes through it."""
    policy = key_policy("volumes", PlatformContext("prod", "aws", "1", "us-east-1"))
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["UseThroughEC2ForPrincipalsOfTheAccount"] == {
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
            "StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": "1"}
        },
    }
    through_ec2 = {"kms:ViaService": "ec2.us-east-1.amazonaws.com", "kms:CallerAccount": "1"}
    for action in ("kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt"):
        assert key_decision(policy, SPOT_ROLE, action, through_ec2) == "Allow"
    # Not directly, not through another service or region, not for another account.
    assert key_decision(policy, SPOT_ROLE, "kms:Decrypt", {"kms:CallerAccount": "1"}) == "ImplicitDeny"
    assert (
        key_decision(
            policy, SPOT_ROLE, "kms:Decrypt", {**through_ec2, "kms:ViaService": "s3.us-east-1.amazonaws.com"}
        )
        == "ImplicitDeny"
    )
    assert (
        key_decision(
            policy, SPOT_ROLE, "kms:Decrypt", {**through_ec2, "kms:ViaService": "ec2.us-west-2.amazonaws.com"}
        )
        == "ImplicitDeny"
    )
    assert (
        key_decision(policy, SPOT_ROLE, "kms:Decrypt", {**through_ec2, "kms:CallerAccount": "2"})
        == "ImplicitDeny"
    )
    assert key_decision(policy, SPOT_ROLE, "kms:ScheduleKeyDeletion", through_ec2) == "ImplicitDeny"


@pytest.mark.parametrize(
    ("purpose", "service"),
    [
        ("artifacts", "s3"),
        ("database", "rds"),
        ("images", "ecr"),
        ("cluster-secrets", "eks"),
    ],
)
def test_service_keys_are_usable_only_through_their_service(purpose, service):
    policy = key_policy(purpose, PlatformContext("prod", "aws-us-gov", "333333333333", "us-gov-west-1"))
    use = policy["Statement"][1]
    assert use["Condition"] == {
        "StringEquals": {
            "kms:ViaService": f"{service}.us-gov-west-1.amazonaws.com",
            "kms:CallerAccount": "333333333333",
        }
    }
    assert use["Principal"] == {"AWS": "arn:aws-us-gov:iam::333333333333:root"}


def test_shipped_key_policy_is_the_builder_output(synth):
    key = by_name(synth("staging"), "keys-us-east-1-database")
    assert json.loads(key["inputs"]["policy"]) == key_policy(
        "database", PlatformContext("prod", "aws", "222222222222", "us-east-1")
    )


def test_internet_free_stack_has_no_internet_gateway_or_nat(synth):
    airgapped = synth("airgapped", FIXTURES)
    assert states(airgapped, "aws:ec2/internetGateway:InternetGateway") == []
    assert states(airgapped, "aws:ec2/natGateway:NatGateway") == []
    assert states(airgapped, "aws:ec2/eip:Eip") == []
    routes = states(airgapped, "aws:ec2/route:Route")
    assert all(r["inputs"]["destinationCidrBlock"] != "0.0.0.0/0" for r in routes)
    assert (
        len(
            [
                e
                for e in states(airgapped, "aws:ec2/vpcEndpoint:VpcEndpoint")
                if e["inputs"]["vpcEndpointType"] == "Interface"
            ]
        )
        >= 24
    )
    assert all(s["inputs"]["tags"]["tier"] != "public" for s in states(airgapped, "aws:ec2/subnet:Subnet"))


def write_stack(tmp_path, platform: dict):
    import yaml

    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump({"config": {"mlops:platform": platform}}))
    return tmp_path


def base_platform() -> dict:
    import yaml

    from tests.conftest import STACKS

    return yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda p: p["regions"][1].update({"vpc-cidr": "10.30.128.0/17"}),
            "mlops:platform.regions[1].vpc-cidr: 10.30.128.0/17 overlaps 10.30.0.0/16 of region us-east-1 (regions[0]); "
            "allowed: non-overlapping CIDRs across regions",
        ),
        (
            lambda p: p["regions"][0].update({"vpc-cidr": "10.30.0.0/24"}),
            "mlops:platform.regions[0].vpc-cidr: 10.30.0.0/24 is too small for 4 tiers of subnets in 3 zones (load "
            "balancers need a /27 or larger per zone); allowed: /20 or larger",
        ),
        (
            lambda p: p["regions"][1].update({"availability-zones": ["us-west-2a", "us-east-1b"]}),
            "mlops:platform.regions[1].availability-zones[1]: 'us-east-1b' is not an availability zone of us-west-2",
        ),
        (
            lambda p: p.update({"internet-free": True}),
            "mlops:platform.nat: 'one-per-az' contradicts internet-free: true; allowed with internet-free: 'none'",
        ),
        (
            lambda p: p["regions"][1].update({"availability-zones": ["us-west-2a"]}),
            "mlops:platform.regions[1].availability-zones: 1 zone in us-west-2; an EKS cluster and its load balancers "
            "need subnets in two availability zones at least; allowed: 2 to 6 zones",
        ),
    ],
    ids=[
        "overlapping-cidrs",
        "cidr-too-small",
        "az-in-wrong-region",
        "nat-with-internet-free",
        "one-zone-with-a-cluster-eks-needs-two",
    ],
)
def test_bad_network_config_fails_before_any_resource(tmp_path, mutate, expected):
    platform = base_platform()
    mutate(platform)
    stacks_dir = write_stack(tmp_path, platform)
    result = run_mlops("preview", "bad", "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {stacks_dir}/Pulumi.bad.yaml: {expected}")
    assert result.stderr.count("\n") == 1
