"""`mlops purge-guardduty-endpoints` against a moto server on 127.0.0.1: it deletes exactly what GuardDuty created
in the stack's VPCs, endpoints before their security groups."""

from __future__ import annotations

import pytest

from components.config import parse_platform
from mlops.guardduty_endpoints import data_service, purge
from tests.conftest import STACKS, run_mlops
from tests.mlops.test_verify import CREDENTIALS
from tests.moto_account import MOTO_ACCOUNT, moto_client

PROD_ACCOUNT = "333333333333"
MANAGED = [{"Key": "GuardDutyManaged", "Value": "true"}]


@pytest.fixture
def stacks_dir(tmp_path):
    """The shipped prod stack, in moto's account."""
    text = (STACKS / "Pulumi.prod.yaml").read_text().replace(PROD_ACCOUNT, MOTO_ACCOUNT)
    (tmp_path / "Pulumi.prod.yaml").write_text(text)
    return tmp_path


def ec2(endpoint: str, region: str):
    return moto_client("ec2", endpoint, region)


def tags(kind: str, pairs: list[dict[str, str]]) -> list[dict]:
    return [{"ResourceType": kind, "Tags": pairs}]


def vpc_with_guardduty(client, region: str, discovery: str | None, *, guardduty: bool = True):
    """A VPC whose private subnet carries the discovery tag, with GuardDuty's endpoint and group (as GuardDuty
    creates them: tagged GuardDutyManaged, the group named GuardDutyManagedSecurityGroup-<vpc>) and one group
    and endpoint of someone else's."""
    vpc = client.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_tags = [{"Key": "karpenter.sh/discovery", "Value": discovery}] if discovery else []
    subnet = client.create_subnet(
        VpcId=vpc,
        CidrBlock="10.0.1.0/24",
        TagSpecifications=tags("subnet", subnet_tags or [{"Key": "x", "Value": "y"}]),
    )["Subnet"]["SubnetId"]
    own = client.create_security_group(GroupName="other", Description="not GuardDuty's", VpcId=vpc)["GroupId"]
    client.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{region}.sts",
        VpcEndpointType="Interface",
        SubnetIds=[subnet],
        SecurityGroupIds=[own],
    )
    made = {"vpc": vpc, "own_group": own}
    if guardduty:
        group = client.create_security_group(
            GroupName=f"GuardDutyManagedSecurityGroup-{vpc}",
            Description="Associated with VPC-vpc and tagged as GuardDutyManaged",
            VpcId=vpc,
            TagSpecifications=tags("security-group", MANAGED),
        )["GroupId"]
        endpoint = client.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=data_service(region),
            VpcEndpointType="Interface",
            SubnetIds=[subnet],
            SecurityGroupIds=[group],
            TagSpecifications=tags("vpc-endpoint", MANAGED),
        )["VpcEndpoint"]["VpcEndpointId"]
        made.update(group=group, endpoint=endpoint)
    return made


def live_endpoints(client, vpc: str) -> list[str]:
    found = client.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    return sorted(e["ServiceName"] for e in found if e["State"].lower() != "deleted")


def groups(client, vpc: str) -> list[str]:
    found = client.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
    return sorted(g["GroupName"] for g in found)


def test_guardduty_endpoints_are_listed_then_deleted_only_in_the_stacks_vpcs(moto_endpoint, stacks_dir):
    """GuardDuty's automated agent creates a `guardduty-data` endpoint and a security group tagged
    GuardDutyManaged:true, and does not delete the endpoint when automated agent management is turned off
    (https://docs.aws.amazon.com/guardduty/latest/ug/runtime-monitoring-agent-resource-clean-up.html,
    https://docs.aws.amazon.com/guardduty/latest/ug/using-iac-with-gdu-automated-agents-runtime-monitoring.html):
    the purge deletes them in prod's two VPCs, not in another VPC, and not the VPCs' other endpoints or groups."""
    east, west = ec2(moto_endpoint, "us-east-1"), ec2(moto_endpoint, "us-west-2")
    prod_east = vpc_with_guardduty(east, "us-east-1", "mlops-prod-us-east-1")
    prod_west = vpc_with_guardduty(west, "us-west-2", "mlops-prod-us-west-2")
    staging = vpc_with_guardduty(east, "us-east-1", "mlops-staging-us-east-1")
    args = (
        "purge-guardduty-endpoints",
        "prod",
        "--stacks-dir",
        str(stacks_dir),
        "--endpoint-url",
        moto_endpoint,
    )

    listed = run_mlops(*args, env=CREDENTIALS)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        f"would delete us-east-1 {prod_east['vpc']} endpoint {prod_east['endpoint']}",
        f"would delete us-east-1 {prod_east['vpc']} security group {prod_east['group']}",
        f"would delete us-west-2 {prod_west['vpc']} endpoint {prod_west['endpoint']}",
        f"would delete us-west-2 {prod_west['vpc']} security group {prod_west['group']}",
    ]
    assert live_endpoints(east, prod_east["vpc"]) == [
        data_service("us-east-1"),
        "com.amazonaws.us-east-1.sts",
    ]

    deleted = run_mlops(*args, "--delete", env=CREDENTIALS)
    assert deleted.returncode == 0, deleted.stderr
    assert [line.split(" ", 1)[0] for line in deleted.stdout.splitlines()] == ["deleted"] * 4
    for client, made, region in ((east, prod_east, "us-east-1"), (west, prod_west, "us-west-2")):
        assert live_endpoints(client, made["vpc"]) == [f"com.amazonaws.{region}.sts"]
        assert groups(client, made["vpc"]) == ["default", "other"]
    # Another environment's VPC in the same account and region keeps GuardDuty's endpoint.
    assert live_endpoints(east, staging["vpc"]) == [data_service("us-east-1"), "com.amazonaws.us-east-1.sts"]
    assert f"GuardDutyManagedSecurityGroup-{staging['vpc']}" in groups(east, staging["vpc"])

    again = run_mlops(*args, "--delete", env=CREDENTIALS)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "no GuardDuty endpoints or security groups in this stack's VPCs"


class SlowEndpoints:
    """An EC2 client whose endpoints stay `deleting` for ``polls`` describe calls after DeleteVpcEndpoints, as
    real endpoints do while their network interfaces are released; it records the order of the calls."""

    def __init__(self, polls: int):
        self.polls, self.calls, self.deleting = polls, [], False

    def describe_subnets(self, Filters):
        return {"Subnets": [{"VpcId": "vpc-1"}]}

    def describe_security_groups(self, Filters):
        return {"SecurityGroups": [{"GroupId": "sg-gd"}]}

    def describe_vpc_endpoints(self, Filters):
        if self.deleting:
            self.polls -= 1
            state = "deleting" if self.polls >= 0 else "deleted"
        else:
            state = "available"
        return {"VpcEndpoints": [{"VpcEndpointId": "vpce-gd", "State": state}]}

    def delete_vpc_endpoints(self, VpcEndpointIds):
        self.calls.append(("delete_vpc_endpoints", VpcEndpointIds))
        self.deleting = True

    def delete_security_group(self, GroupId):
        self.calls.append(("delete_security_group", GroupId, self.polls < 0))


def dev_config():
    import yaml

    raw = yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())["config"]["mlops:platform"]
    return parse_platform(raw, "Pulumi.dev.yaml")


def test_the_security_group_is_deleted_only_once_its_endpoint_is_gone():
    """DeleteVpcEndpoints is asynchronous (the endpoint goes `deleting`, then `deleted`), and DeleteSecurityGroup
    fails with DependencyViolation while a network interface uses the group
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html): the purge waits."""
    client, slept = SlowEndpoints(polls=3), []
    lines = purge(lambda _service, _region: client, dev_config(), True, sleep=slept.append)
    assert client.calls == [
        ("delete_vpc_endpoints", ["vpce-gd"]),
        ("delete_security_group", "sg-gd", True),
    ]
    assert slept == [5.0] * 3
    assert lines == [
        "deleted us-east-1 vpc-1 endpoint vpce-gd",
        "deleted us-east-1 vpc-1 security group sg-gd",
    ]


def test_an_endpoint_that_never_goes_stops_the_purge_with_one_line():
    client = SlowEndpoints(polls=1000)
    with pytest.raises(TimeoutError, match=r"us-east-1 vpc-1: GuardDuty's endpoints still exist after 20s"):
        purge(lambda _service, _region: client, dev_config(), True, timeout=20, sleep=lambda _s: None)
    assert [call[0] for call in client.calls] == ["delete_vpc_endpoints"]
