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


def moto_client(service: str, endpoint: str, region: str):
    """A boto3 client of the moto server at ``endpoint``, with moto's test credentials."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


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
                service,
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return clients[(service, region)]

    ids: dict[str, str] = {}
    key_arns: dict[str, str] = {}  # mock ARN -> real ARN

    def translate(value: str) -> str:
        return key_arns.get(value, value)

    for step in document["steps"]:
        state = step["newState"]
        kind, inputs = state["type"], state["inputs"]
        if not state["custom"] or not kind.startswith("aws:"):
            continue
        region = _region_of(state, providers)
        if kind == "aws:kms/key:Key":
            created = client("kms", region).create_key(
                Description=inputs.get("description", ""),
                MultiRegion=bool(inputs.get("multiRegion")),
                Policy=inputs["policy"].replace(account, MOTO_ACCOUNT),
            )["KeyMetadata"]
            if inputs.get("enableKeyRotation"):
                client("kms", region).enable_key_rotation(KeyId=created["KeyId"])
            ids[state["id"]] = created["KeyId"]
        elif kind == "aws:kms/replicaKey:ReplicaKey":
            primary = key_arns[inputs["primaryKeyArn"]]
            primary_region = primary.split(":")[3]
            # moto's ReplicateKey takes the key id, not the ARN.
            replica = client("kms", primary_region).replicate_key(
                KeyId=primary.rsplit("/", 1)[-1], ReplicaRegion=region
            )
            ids[state["id"]] = replica["ReplicaKeyMetadata"]["KeyId"]
        elif kind == "aws:ec2/vpc:Vpc":
            ids[state["id"]] = client("ec2", region).create_vpc(CidrBlock=inputs["cidrBlock"])["Vpc"]["VpcId"]
        elif kind == "aws:ec2/flowLog:FlowLog":
            client("ec2", region).create_flow_logs(
                ResourceIds=[ids[inputs["vpcId"]]],
                ResourceType="VPC",
                TrafficType=inputs["trafficType"],
                LogDestinationType=inputs["logDestinationType"],
                LogGroupName=f"flow-{state['id']}",
                DeliverLogsPermissionArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/flow-logs",
            )
        elif kind == "aws:s3/bucket:Bucket":
            s3 = client("s3", region)
            s3.create_bucket(
                Bucket=inputs.get("bucket") or state["id"],
                **(
                    {}
                    if region == "us-east-1"
                    else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                ),
            )
        elif kind == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            client("s3", region).put_public_access_block(
                Bucket=inputs["bucket"],
                PublicAccessBlockConfiguration={
                    key[0].upper() + key[1:]: bool(inputs.get(key))
                    for key in (
                        "blockPublicAcls",
                        "ignorePublicAcls",
                        "blockPublicPolicy",
                        "restrictPublicBuckets",
                    )
                },
            )
        elif kind == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            default = inputs["rules"][0]["applyServerSideEncryptionByDefault"]
            setting = {"SSEAlgorithm": default["sseAlgorithm"]}
            if default.get("kmsMasterKeyId"):
                setting["KMSMasterKeyID"] = translate(default["kmsMasterKeyId"])
            client("s3", region).put_bucket_encryption(
                Bucket=inputs["bucket"],
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": setting}]
                },
            )
        elif kind == "aws:s3/bucketVersioning:BucketVersioning":
            client("s3", region).put_bucket_versioning(
                Bucket=inputs["bucket"],
                VersioningConfiguration={"Status": inputs["versioningConfiguration"]["status"]},
            )
        elif kind == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
            client("s3", region).put_bucket_replication(
                Bucket=inputs["bucket"],
                ReplicationConfiguration={
                    "Role": f"arn:aws:iam::{MOTO_ACCOUNT}:role/replication",
                    "Rules": [
                        {
                            "ID": rule["id"],
                            "Priority": rule["priority"],
                            "Status": rule["status"],
                            "Filter": {"Prefix": ""},
                            "DeleteMarkerReplication": {"Status": "Enabled"},
                            "Destination": {"Bucket": rule["destination"]["bucket"]},
                        }
                        for rule in inputs["rules"]
                    ],
                },
            )
        elif kind == "aws:ecr/replicationConfiguration:ReplicationConfiguration":
            rules = inputs["replicationConfiguration"]["rules"]
            client("ecr", region).put_replication_configuration(
                replicationConfiguration={
                    "rules": [
                        {
                            "destinations": [
                                {"region": d["region"], "registryId": MOTO_ACCOUNT}
                                for d in rule["destinations"]
                            ]
                        }
                        for rule in rules
                    ]
                }
            )
        elif kind == "aws:eks/cluster:Cluster":
            vpc = inputs["vpcConfig"]
            encryption = inputs.get("encryptionConfig") or {}
            client("eks", region).create_cluster(
                name=inputs["name"],
                roleArn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/eks",
                resourcesVpcConfig={
                    "subnetIds": ["subnet-a", "subnet-b"],
                    "endpointPublicAccess": bool(vpc.get("endpointPublicAccess")),
                    "endpointPrivateAccess": bool(vpc.get("endpointPrivateAccess")),
                },
                encryptionConfig=[
                    {
                        "resources": encryption["resources"],
                        "provider": {"keyArn": translate(encryption["provider"]["keyArn"])},
                    }
                ]
                if encryption
                else [],
                logging={
                    "clusterLogging": [{"types": inputs.get("enabledClusterLogTypes", []), "enabled": True}]
                },
            )
            set_access_config(
                region, inputs["name"], inputs.get("accessConfig", {}).get("authenticationMode")
            )
        elif kind == "aws:cloudtrail/trail:Trail":
            trails = client("cloudtrail", region)
            trails.create_trail(
                Name=inputs["name"],
                S3BucketName=inputs["s3BucketName"],
                IsMultiRegionTrail=bool(inputs.get("isMultiRegionTrail")),
                EnableLogFileValidation=bool(inputs.get("enableLogFileValidation")),
                KmsKeyId=translate(inputs["kmsKeyId"]),
            )
            if inputs.get("enableLogging", True):
                trails.start_logging(Name=inputs["name"])
        elif kind == "aws:rds/instance:Instance":
            client("rds", region).create_db_instance(
                DBInstanceIdentifier=inputs["identifier"],
                DBInstanceClass=inputs["instanceClass"],
                Engine=inputs["engine"],
                AllocatedStorage=inputs["allocatedStorage"],
                MasterUsername=inputs["username"],
                MasterUserPassword="not-used-1",
                StorageEncrypted=bool(inputs.get("storageEncrypted")),
                KmsKeyId=translate(inputs.get("kmsKeyId", "")),
                MultiAZ=bool(inputs.get("multiAz")),
                DeletionProtection=bool(inputs.get("deletionProtection")),
                PubliclyAccessible=bool(inputs.get("publiclyAccessible")),
            )
        elif kind == "aws:cloudwatch/metricAlarm:MetricAlarm":
            client("cloudwatch", region).put_metric_alarm(
                AlarmName=inputs["name"],
                MetricName=inputs.get("metricName", "composite"),
                Namespace=inputs.get("namespace", "mlops"),
                Statistic="Average",
                Period=int(inputs.get("period", 60)),
                EvaluationPeriods=int(inputs["evaluationPeriods"]),
                Threshold=float(inputs["threshold"]),
                ComparisonOperator=inputs["comparisonOperator"],
            )
        if kind in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"):
            mock_arn = f"arn:aws:kms:{region}:{account}:key/{state['id']}"
            key_arns[mock_arn] = f"arn:aws:kms:{region}:{MOTO_ACCOUNT}:key/{ids[state['id']]}"
    text = json.dumps(document["outputs"])
    for mock, real in sorted({**key_arns, **ids}.items(), key=lambda item: -len(item[0])):
        text = text.replace(mock, real)
    # Accounts inside ARNs become moto's; names that merely contain the number (buckets) stay as declared.
    text = text.replace(f":{account}:", f":{MOTO_ACCOUNT}:")
    outputs = json.loads(text)
    outputs["accountId"] = MOTO_ACCOUNT
    # The stack reads each region's S3 prefix list when it runs: publish the account's, as a deployment would.
    for region, values in outputs["regions"].items():
        ec2 = client("ec2", region)
        [found] = ec2.describe_managed_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}]
        )["PrefixLists"]
        entries = ec2.get_managed_prefix_list_entries(PrefixListId=found["PrefixListId"])["Entries"]
        values["s3Cidrs"] = sorted(entry["Cidr"] for entry in entries)
    return Deployment(outputs=outputs, ids={**ids, **key_arns})


def set_access_config(region: str, cluster: str, mode: str | None) -> None:
    """moto's EKS does not keep accessConfig; the server runs in this process, so set it on its model."""
    from moto.eks.models import eks_backends

    eks_backends[MOTO_ACCOUNT][region].clusters[cluster].access_config = (
        {"authenticationMode": mode} if mode else None
    )
