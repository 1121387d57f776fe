"""Build, in a moto server, the account a stack's offline preview describes; then report its real outputs.

The preview's inputs say how each resource is configured (rotation on, flow logs ALL, ...). This replays the
resource kinds `mlops verify` checks through boto3 as a deployment would, then rewrites the preview's
outputs with the ids and ARNs moto returned. So the expected values `mlops verify` uses come from the same
components the stacks are built from, and the two cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

MOTO_ACCOUNT = "123456789012"


@dataclass
class Deployment:
    outputs: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)  # preview id/ARN -> real id/ARN
    regions: dict[str, str] = field(default_factory=dict)  # urn -> region

    def real(self, mock: str) -> str:
        return self.ids.get(mock, mock)


def _provider_regions(document: dict[str, Any]) -> dict[str, str]:
    regions = {}
    for step in document["steps"]:
        state = step["newState"]
        if state["type"] == "pulumi:providers:aws":
            regions[state["urn"]] = state["inputs"]["region"]
    return regions


def _region_of(state: dict[str, Any], providers: dict[str, str]) -> str:
    return providers[state["provider"].rsplit("::", 1)[0]]


def deploy(document: dict[str, Any], endpoint: str) -> Deployment:
    providers = _provider_regions(document)
    account = document["outputs"]["accountId"]
    clients: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str):
        if (service, region) not in clients:
            clients[(service, region)] = boto3.client(
                service, region_name=region, endpoint_url=endpoint,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )
        return clients[(service, region)]

    ids: dict[str, str] = {}
    key_arns: dict[str, str] = {}  # mock ARN -> real ARN
    for step in document["steps"]:
        state = step["newState"]
        kind, inputs = state["type"], state["inputs"]
        if not state["custom"] or kind.startswith("pulumi:"):
            continue
        region = _region_of(state, providers)
        if kind == "aws:kms/key:Key":
            created = client("kms", region).create_key(
                Description=inputs.get("description", ""), MultiRegion=bool(inputs.get("multiRegion")),
                Policy=inputs["policy"].replace(account, MOTO_ACCOUNT),
            )["KeyMetadata"]
            if inputs.get("enableKeyRotation"):
                client("kms", region).enable_key_rotation(KeyId=created["KeyId"])
            ids[state["id"]] = created["KeyId"]
        elif kind == "aws:kms/replicaKey:ReplicaKey":
            primary = key_arns[inputs["primaryKeyArn"]]
            primary_region = primary.split(":")[3]
            # moto's ReplicateKey takes the key id, not the ARN.
            replica = client("kms", primary_region).replicate_key(KeyId=primary.rsplit("/", 1)[-1], ReplicaRegion=region)
            ids[state["id"]] = replica["ReplicaKeyMetadata"]["KeyId"]
        elif kind == "aws:ec2/vpc:Vpc":
            ids[state["id"]] = client("ec2", region).create_vpc(CidrBlock=inputs["cidrBlock"])["Vpc"]["VpcId"]
        elif kind == "aws:ec2/flowLog:FlowLog":
            client("ec2", region).create_flow_logs(
                ResourceIds=[ids[inputs["vpcId"]]], ResourceType="VPC", TrafficType=inputs["trafficType"],
                LogDestinationType=inputs["logDestinationType"], LogGroupName=f"flow-{state['id']}",
                DeliverLogsPermissionArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/flow-logs",
            )
        if kind in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"):
            mock_arn = f"arn:aws:kms:{region}:{account}:key/{state['id']}"
            key_arns[mock_arn] = f"arn:aws:kms:{region}:{MOTO_ACCOUNT}:key/{ids[state['id']]}"
    text = json.dumps(document["outputs"])
    for mock, real in sorted({**key_arns, **ids}.items(), key=lambda item: -len(item[0])):
        text = text.replace(mock, real)
    text = text.replace(account, MOTO_ACCOUNT)
    return Deployment(outputs=json.loads(text), ids={**ids, **key_arns})
