"""ServingCluster and ByoCluster: pure helpers, and the synthesised fixture programs.

The fixture program (tests/fixtures/cluster_program) builds the clusters on literal subnet ids and key ARNs.
`cluster-prod` is a prod-shaped stack with two regions; `cluster-byo` targets an existing cluster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.cluster.args import ByoClusterArgs, ServingClusterArgs
from components.cluster.config import NodePoolConfig
from components.cluster.control_plane import CONTROL_PLANE_LOG_TYPES, kubeconfig_document
from components.cluster.karpenter import node_pool_spec
from components.cluster.naming import cluster_name
from components.cluster.policies.karpenter import karpenter_controller_policy
from components.cluster.policies.load_balancer_controller import load_balancer_controller_policy
from components.config import parse_platform
from mlops.synth import SECRET_SIG, SECRET_SIG_KEY
from tests.conftest import FIXTURES, states

PROGRAM = "cluster_program"
REGIONS = ("us-east-1", "us-west-2")
ACCOUNT = "333333333333"
KARPENTER_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "schemas" / "karpenter-v1.json").read_text()
)
FIXTURE_CONFIG = yaml.safe_load((FIXTURES / "Pulumi.cluster-prod.yaml").read_text())["config"][
    "mlops:platform"
]


def key_arn(purpose: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{purpose}-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def prod(synth_program) -> dict[str, Any]:
    return synth_program("cluster-prod", PROGRAM)


@pytest.fixture(scope="module")
def byo(synth_program) -> dict[str, Any]:
    return synth_program("cluster-byo", PROGRAM)


def name_of(state: dict[str, Any]) -> str:
    return state["urn"].rsplit("::", 1)[-1]


def one(document: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [state for state in states(document) if name_of(state) == name]
    assert len(matches) == 1, f"{name}: {len(matches)} resources"
    return matches[0]


def provider_urn(state: dict[str, Any]) -> str:
    return state["provider"].rsplit("::", 1)[0]


def walk(value: Any, path: str = ""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
            yield f"{path}.{key}", key, item
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


# ---------------------------------------------------------------------------------------------------------
# Pure helpers


def test_cluster_name_convention():
    assert cluster_name("prod", "us-west-2") == "mlops-prod-us-west-2"


def test_kubeconfig_user_gets_a_token_from_aws_eks_get_token():
    document = kubeconfig_document("mlops-dev-us-east-1", "https://x.eks.amazonaws.com", "Q0E=", "us-east-1")
    user = document["users"][0]["user"]
    assert "token" not in user
    assert user["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "mlops-dev-us-east-1",
        "--region",
        "us-east-1",
        "--output",
        "json",
    ]
    assert document["clusters"][0]["cluster"] == {
        "server": "https://x.eks.amazonaws.com",
        "certificate-authority-data": "Q0E=",
    }
    assert document["current-context"] == "mlops-dev-us-east-1"


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return policy["Statement"]


def _as_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    "policy",
    [
        karpenter_controller_policy(
            partition="aws",
            region="us-east-1",
            account_id=ACCOUNT,
            cluster="mlops-prod-us-east-1",
            node_role_arn=f"arn:aws:iam::{ACCOUNT}:role/node",
            queue_arn="arn:aws:sqs:us-east-1:1:q",
            volume_key_arn=key_arn("volumes", "us-east-1"),
        ),
        load_balancer_controller_policy(
            partition="aws", region="us-east-1", account_id=ACCOUNT, vpc_id="vpc-1"
        ),
    ],
    ids=["karpenter", "load-balancer-controller"],
)
def test_controller_policies_have_no_wildcard_actions(policy):
    for statement in _statements(policy):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement["Sid"]
        resources = _as_list(statement["Resource"])
        # A statement on every resource must be a read or carry a condition that scopes it.
        if "*" in resources:
            reads = all(
                a.split(":")[1].startswith(("Describe", "Get", "List")) for a in _as_list(statement["Action"])
            )
            assert reads or statement.get("Condition"), statement["Sid"]


def test_karpenter_policy_passes_only_the_node_role_and_mutates_only_owned_instances():
    policy = karpenter_controller_policy(
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
        cluster="mlops-prod-us-east-1",
        node_role_arn=f"arn:aws:iam::{ACCOUNT}:role/node",
        queue_arn="arn:aws:sqs:us-east-1:1:q",
        volume_key_arn=key_arn("volumes", "us-east-1"),
    )
    by_sid = {statement["Sid"]: statement for statement in _statements(policy)}
    assert by_sid["AllowPassingInstanceRole"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/node"
    assert by_sid["AllowScopedDeletion"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/mlops-prod-us-east-1": "owned"
    }
    assert by_sid["AllowInterruptionQueueActions"]["Resource"] == "arn:aws:sqs:us-east-1:1:q"
    assert by_sid["GrantVolumeKeyToEc2"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert by_sid["AllowAPIServerEndpointDiscovery"]["Resource"] == (
        f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/mlops-prod-us-east-1"
    )


def test_node_pool_spec_of_a_gpu_pool():
    pool = NodePoolConfig.model_validate(
        {
            "name": "gpu",
            "capacity-type": "spot",
            "gpu": True,
            "instance-families": ["g6"],
            "cpu-limit": 48,
            "memory-limit-gib": 192,
            "gpu-limit": 4,
        }
    )
    spec = node_pool_spec(pool)
    assert spec["limits"] == {"cpu": "48", "memory": "192Gi", "nvidia.com/gpu": "4"}
    assert spec["template"]["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
    ]
    assert {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g6"]} in (
        spec["template"]["spec"]["requirements"]
    )
    assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]} in (
        spec["template"]["spec"]["requirements"]
    )


def test_args_refuse_byo_config_a_single_subnet_and_mode_mismatch():
    cfg = parse_platform(FIXTURE_CONFIG, "f.yaml").cluster
    assert cfg is not None
    common = dict(
        environment="prod",
        region="us-east-1",
        partition="aws",
        account_id=ACCOUNT,
        vpc_id="vpc-1",
        cluster_secrets_key_arn="k",
        logs_key_arn="k",
        volumes_key_arn="k",
        cluster=cfg,
    )
    with pytest.raises(ValueError, match="at least two availability zones"):
        ServingClusterArgs(private_subnet_ids=["subnet-1"], **common)
    assert (
        ServingClusterArgs(private_subnet_ids=["subnet-1", "subnet-2"], **common).name
        == "mlops-prod-us-east-1"
    )
    with pytest.raises(ValueError, match="ByoCluster needs cluster mode 'byo', got 'eks'"):
        ByoClusterArgs(cluster=cfg)


# ---------------------------------------------------------------------------------------------------------
# The synthesised prod-shaped fixture


def clusters(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {state["inputs"]["name"]: state for state in states(doc, "aws:eks/cluster:Cluster")}


def test_one_private_cluster_per_region_on_that_regions_provider(prod):
    found = clusters(prod)
    assert sorted(found) == [cluster_name("prod", region) for region in REGIONS]
    for region in REGIONS:
        state = found[cluster_name("prod", region)]
        assert provider_urn(state).endswith(f"pulumi:providers:aws::aws-{region}")
        vpc = state["inputs"]["vpcConfig"]
        assert vpc["endpointPublicAccess"] is False
        assert vpc["endpointPrivateAccess"] is True
        assert "publicAccessCidrs" not in vpc
        assert vpc["subnetIds"] == [f"subnet-private-{region}{zone}" for zone in "abc"]
        assert state["inputs"]["version"] == "1.33"
        assert state["inputs"]["deletionProtection"] is True
        assert state["parent"].endswith(f"mlops:cluster:ServingCluster::cluster-{region}")


def test_secrets_envelope_encryption_with_the_customer_key(prod):
    for region in REGIONS:
        inputs = clusters(prod)[cluster_name("prod", region)]["inputs"]
        assert inputs["encryptionConfig"] == {
            "provider": {"keyArn": key_arn("cluster-secrets", region)},
            "resources": ["secrets"],
        }


def test_all_five_log_types_into_an_encrypted_log_group_created_first(prod):
    for region in REGIONS:
        state = clusters(prod)[cluster_name("prod", region)]
        assert state["inputs"]["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
        assert set(CONTROL_PLANE_LOG_TYPES) == {
            "api",
            "audit",
            "authenticator",
            "controllerManager",
            "scheduler",
        }
        group = one(prod, f"cluster-{region}-control-plane-logs")
        assert group["inputs"]["name"] == f"/aws/eks/{cluster_name('prod', region)}/cluster"
        assert group["inputs"]["kmsKeyId"] == key_arn("logs", region)
        assert group["inputs"]["retentionInDays"] == 365
        assert group["urn"] in state["dependencies"]


def test_access_entries_only(prod):
    for state in states(prod, "aws:eks/cluster:Cluster"):
        assert state["inputs"]["accessConfig"] == {
            "authenticationMode": "API",
            "bootstrapClusterCreatorAdminPermissions": False,
        }
        assert state["inputs"]["bootstrapSelfManagedAddons"] is False
    entries = states(prod, "aws:eks/accessEntry:AccessEntry")
    assert sorted(entry["inputs"]["type"] for entry in entries) == [
        "EC2_LINUX",
        "EC2_LINUX",
        "STANDARD",
        "STANDARD",
    ]
    admin = one(prod, "cluster-us-east-1-admin-0-policy")["inputs"]
    assert admin["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin["principalArn"] == f"arn:aws:iam::{ACCOUNT}:role/platform-deployer"
    assert admin["accessScope"] == {"type": "cluster"}


def test_oidc_provider_from_the_cluster_issuer(prod):
    provider = one(prod, "cluster-us-west-2-oidc")["inputs"]
    assert provider["url"].startswith("https://oidc.eks.us-west-2.amazonaws.com/id/")
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]


def test_managed_addons_pinned_from_config(prod):
    # Container Insights' add-on is pinned with the others but created by observability.
    pinned = {
        name: version
        for name, version in FIXTURE_CONFIG["cluster"]["addons"].items()
        if name != "amazon-cloudwatch-observability"
    }
    for region in REGIONS:
        addons = {
            state["inputs"]["addonName"]: state
            for state in states(prod, "aws:eks/addon:Addon")
            if name_of(state).startswith(f"cluster-{region}-")
        }
        assert {name: state["inputs"]["addonVersion"] for name, state in addons.items()} == pinned
        assert all(
            state["inputs"]["clusterName"] == cluster_name("prod", region) for state in addons.values()
        )
        # CoreDNS and the EBS CSI controller need the system nodes; the CSI driver its Pod Identity.
        node_group = one(prod, f"cluster-{region}-system-nodes")["urn"]
        assert node_group in addons["coredns"]["dependencies"]
        assert node_group in addons["aws-ebs-csi-driver"]["dependencies"]
        assert (
            one(prod, f"cluster-{region}-ebs-csi-identity")["urn"]
            in addons["aws-ebs-csi-driver"]["dependencies"]
        )
    csi = one(prod, "cluster-us-east-1-ebs-csi-identity")["inputs"]
    assert (csi["namespace"], csi["serviceAccount"]) == ("kube-system", "ebs-csi-controller-sa")


def test_system_launch_template_imdsv2_encrypted_disk_no_public_ip(prod):
    templates = states(prod, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == 2
    for state in templates:
        region = "us-east-1" if "us-east-1" in name_of(state) else "us-west-2"
        inputs = state["inputs"]
        assert inputs["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
        }
        ebs = inputs["blockDeviceMappings"][0]["ebs"]
        assert (ebs["encrypted"], ebs["volumeType"], ebs["kmsKeyId"]) == (
            "true",
            "gp3",
            key_arn("volumes", region),
        )
        assert inputs["networkInterfaces"][0]["associatePublicIpAddress"] == "false"


def test_system_node_group_private_tainted_and_on_the_template(prod):
    for region in REGIONS:
        group = one(prod, f"cluster-{region}-system-nodes")
        inputs = group["inputs"]
        template = one(prod, f"cluster-{region}-system-lt")
        assert inputs["subnetIds"] == [f"subnet-private-{region}{zone}" for zone in "abc"]
        assert inputs["launchTemplate"] == {"id": template["id"], "version": "1"}
        assert inputs["taints"] == [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NO_SCHEDULE"}]
        assert inputs["labels"] == {"mlops.io/node-role": "system"}
        assert inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 3, "maxSize": 4}
        assert inputs["instanceTypes"] == ["m7i.large", "m6i.large"]


def test_no_node_resource_asks_for_a_public_ip(prod):
    checked = 0
    for state in states(prod):
        for path, key, value in walk(state["inputs"]):
            if key.lower() in ("associatepublicipaddress", "mappubliciponlaunch"):
                checked += 1
                assert value in (False, "false"), f"{name_of(state)}{path} = {value!r}"
    # two launch templates and two EC2NodeClasses say so explicitly
    assert checked == 4


def test_karpenter_node_role_access_entry_and_pod_identity(prod):
    for region in REGIONS:
        role = one(prod, f"cluster-{region}-node-role")
        entry = one(prod, f"cluster-{region}-node-access")["inputs"]
        assert entry == {
            "clusterName": cluster_name("prod", region),
            "principalArn": f"arn:aws:iam::{ACCOUNT}:role/{role['id']}",
            "type": "EC2_LINUX",
            "tags": entry["tags"],
        }
        identity = one(prod, f"cluster-{region}-karpenter-identity")["inputs"]
        assert (identity["namespace"], identity["serviceAccount"]) == ("karpenter", "karpenter")
        trust = json.loads(one(prod, f"cluster-{region}-karpenter-role")["inputs"]["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert trust["Statement"][0]["Condition"]["StringEquals"] == {
            "aws:SourceAccount": ACCOUNT,
            "aws:RequestTag/eks-cluster-arn": f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{cluster_name('prod', region)}",
        }
        policy = json.loads(one(prod, f"cluster-{region}-karpenter-policy")["inputs"]["policy"])
        by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
        assert by_sid["AllowPassingInstanceRole"]["Resource"] == entry["principalArn"]


def test_interruption_queue_rules_and_targets(prod):
    for region in REGIONS:
        name = cluster_name("prod", region)
        queue = one(prod, f"cluster-{region}-interruption-queue")
        assert queue["inputs"]["sqsManagedSseEnabled"] is True
        assert queue["inputs"]["name"] == name
        queue_arn = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
        policy = json.loads(one(prod, f"cluster-{region}-interruption-queue-policy")["inputs"]["policy"])
        assert policy["Statement"][0]["Principal"] == {
            "Service": ["events.amazonaws.com", "sqs.amazonaws.com"]
        }
        assert policy["Statement"][1]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        patterns = {}
        for kind in ("scheduled-change", "spot-interruption", "rebalance", "instance-state-change"):
            rule = one(prod, f"cluster-{region}-{kind}")
            patterns[kind] = json.loads(rule["inputs"]["eventPattern"])["detail-type"]
            target = one(prod, f"cluster-{region}-{kind}-target")["inputs"]
            assert target["arn"] == queue_arn
        assert patterns == {
            "scheduled-change": ["AWS Health Event"],
            "spot-interruption": ["EC2 Spot Instance Interruption Warning"],
            "rebalance": ["EC2 Instance Rebalance Recommendation"],
            "instance-state-change": ["EC2 Instance State-change Notification"],
        }


def releases(doc: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    return {
        state["inputs"]["name"]: state
        for state in states(doc, "kubernetes:helm.sh/v3:Release")
        if name_of(state).startswith(prefix)
    }


def test_helm_releases_are_pinned_and_use_the_clusters_provider(prod):
    charts = FIXTURE_CONFIG["cluster"]["charts"]
    for region in REGIONS:
        found = releases(prod, f"cluster-{region}-")
        assert {name: state["inputs"]["version"] for name, state in found.items()} == charts
        k8s_provider = one(prod, f"cluster-{region}-k8s")["urn"]
        assert {provider_urn(state) for state in found.values()} == {k8s_provider}
        assert found["karpenter"]["inputs"]["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
        assert "repositoryOpts" not in found["karpenter"]["inputs"]
        assert found["keda"]["inputs"]["repositoryOpts"] == {"repo": "https://kedacore.github.io/charts"}
        for state in found.values():
            assert state["inputs"]["atomic"] is True
            assert state["inputs"]["createNamespace"] is False


def test_karpenter_release_values(prod):
    values = releases(prod, "cluster-us-east-1-")["karpenter"]["inputs"]["values"]
    assert values["settings"]["clusterName"] == "mlops-prod-us-east-1"
    assert values["settings"]["interruptionQueue"] == "mlops-prod-us-east-1"
    assert values["replicas"] == 2
    assert values["controller"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert values["nodeSelector"] == {"mlops.io/node-role": "system"}


@pytest.mark.parametrize("chart", ["keda", "metrics-server", "aws-load-balancer-controller"])
def test_autoscaling_addons_are_hardened(prod, chart):
    values = releases(prod, "cluster-us-west-2-")[chart]["inputs"]["values"]
    contexts = [item for path, key, item in walk(values) if key == "securityContext"]
    assert contexts, chart
    for context in contexts:
        for part in context.values() if "runAsNonRoot" not in context else [context]:
            assert part["runAsNonRoot"] is True
            assert part["runAsUser"] >= 10000
            assert part["allowPrivilegeEscalation"] is False
            assert part["capabilities"] == {"drop": ["ALL"]}
    limits = [item for path, key, item in walk(values) if key == "limits"]
    assert limits and all({"cpu", "memory"} <= set(limit) for limit in limits)
    replicas = [item for path, key, item in walk(values) if key in ("replicas", "replicaCount")]
    assert replicas and all(count >= 2 for count in replicas)


def test_aws_load_balancer_controller_identity_and_settings(prod):
    values = releases(prod, "cluster-us-east-1-")["aws-load-balancer-controller"]["inputs"]["values"]
    assert (values["clusterName"], values["region"], values["vpcId"]) == (
        "mlops-prod-us-east-1",
        "us-east-1",
        "vpc-us-east-1",
    )
    assert values["enableWafv2"] is False
    identity = one(prod, "cluster-us-east-1-lbc-identity")["inputs"]
    assert (identity["namespace"], identity["serviceAccount"]) == (
        "aws-load-balancer-controller",
        "aws-load-balancer-controller",
    )


def test_kubernetes_provider_is_built_from_cluster_outputs(prod):
    for region in REGIONS:
        provider = one(prod, f"cluster-{region}-k8s")
        kubeconfig = json.loads(provider["inputs"]["kubeconfig"])
        name = cluster_name("prod", region)
        assert kubeconfig["clusters"][0]["cluster"]["server"].endswith(f".gr7.{region}.eks.amazonaws.com")
        assert kubeconfig["users"][0]["user"]["exec"]["args"][2:6] == [
            "--cluster-name",
            name,
            "--region",
            region,
        ]
        assert one(prod, f"cluster-{region}-eks")["urn"] in provider["dependencies"]
        kubernetes_objects = [
            state
            for state in states(prod)
            if state["type"].startswith("kubernetes:") and name_of(state).startswith(f"cluster-{region}-")
        ]
        # 4 namespaces, 1 StorageClass, 5 Helm releases, 1 EC2NodeClass, 3 NodePools, KEDA's AWS authentication
        assert len(kubernetes_objects) == 15
        assert {provider_urn(state) for state in kubernetes_objects} == {provider["urn"]}


def node_pools(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return states(doc, "kubernetes:karpenter.sh/v1:NodePool")


def test_three_node_pools_per_cluster_one_with_gpus(prod):
    for region in REGIONS:
        pools = {
            state["inputs"]["metadata"]["name"]: state["inputs"]["spec"]
            for state in node_pools(prod)
            if name_of(state).startswith(f"cluster-{region}-")
        }
        assert sorted(pools) == ["cpu-on-demand", "cpu-spot", "gpu"]
        gpu = pools["gpu"]
        assert gpu["limits"] == {"cpu": "192", "memory": "768Gi", "nvidia.com/gpu": "16"}
        assert gpu["template"]["spec"]["taints"] == [
            {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
        ]
        assert {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["g5", "g6"]} in (
            gpu["template"]["spec"]["requirements"]
        )
        assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]} in (
            pools["cpu-spot"]["template"]["spec"]["requirements"]
        )
        assert pools["cpu-spot"]["disruption"] == {
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": "1m",
            "budgets": [{"nodes": "10%"}],
        }
        assert gpu["disruption"]["consolidationPolicy"] == "WhenEmpty"
        for spec in pools.values():
            assert spec["limits"]["cpu"] and spec["limits"]["memory"]
            assert spec["template"]["spec"]["nodeClassRef"] == {
                "group": "karpenter.k8s.aws",
                "kind": "EC2NodeClass",
                "name": "default",
            }


def test_karpenter_objects_depend_on_the_helm_release(prod):
    for region in REGIONS:
        release = one(prod, f"cluster-{region}-karpenter")["urn"]
        node_class = one(prod, f"cluster-{region}-node-class")
        assert release in node_class["dependencies"]
        for state in node_pools(prod):
            if name_of(state).startswith(f"cluster-{region}-"):
                assert {release, node_class["urn"]} <= set(state["dependencies"])


def test_node_class_discovery_imdsv2_and_encrypted_volumes(prod):
    for region in REGIONS:
        name = cluster_name("prod", region)
        state = one(prod, f"cluster-{region}-node-class")
        spec = state["inputs"]["spec"]
        assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": name}}]
        assert spec["securityGroupSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": name}}]
        profile = one(prod, f"cluster-{region}-node-instance-profile")
        assert spec["instanceProfile"] == profile["inputs"]["name"] == f"{name}-nodes"
        assert "role" not in spec
        assert profile["inputs"]["role"] == one(prod, f"cluster-{region}-node-role")["id"]
        assert profile["urn"] in state["dependencies"]
        assert spec["amiSelectorTerms"] == [{"alias": "al2023@v20250505"}]
        assert spec["metadataOptions"]["httpTokens"] == "required"
        assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
        ebs = spec["blockDeviceMappings"][0]["ebs"]
        assert (ebs["encrypted"], ebs["kmsKeyID"]) == (True, key_arn("volumes", region))
        # The cluster security group carries the discovery tag the selector looks for.
        tag = one(prod, f"cluster-{region}-cluster-sg-discovery")
        assert (tag["inputs"]["key"], tag["inputs"]["value"]) == ("karpenter.sh/discovery", name)
        assert tag["urn"] in state["dependencies"]


def test_nvidia_device_plugin_tolerates_the_gpu_taint(prod):
    release = releases(prod, "cluster-us-east-1-")["nvidia-device-plugin"]["inputs"]
    assert release["version"] == "0.17.2"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in release["values"][
        "tolerations"
    ]
    assert release["values"]["nodeSelector"] == {"mlops.io/accelerator": "nvidia"}


# ---------------------------------------------------------------------------------------------------------
# Schemas: built-in kinds through kubernetes-validate, Karpenter kinds through the v1 schema in tests/schemas


def validation_version(configured: str) -> str:
    """The configured minor if kubernetes-validate has its schemas, else its newest supported minor."""
    latest = kubernetes_validate.latest_version()
    as_tuple = lambda version: tuple(int(part) for part in version.split(".")[:2])  # noqa: E731
    return configured if as_tuple(configured) <= as_tuple(latest) else latest


def manifest(state: dict[str, Any]) -> dict[str, Any]:
    """The object a Kubernetes provider would apply: its wire inputs (apiVersion, kind, metadata, spec...)."""
    inputs = dict(state["inputs"])
    group_version, kind = state["type"].split(":", 1)[1].rsplit(":", 1)
    api_version = group_version.removeprefix("core/")
    assert inputs.get("apiVersion", api_version) == api_version
    assert inputs.get("kind", kind) == kind
    return {**inputs, "apiVersion": api_version, "kind": kind}


def builtin_objects(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        state
        for state in states(doc)
        if state["type"].startswith("kubernetes:")
        and not state["type"].startswith("kubernetes:helm.sh/")
        and state["type"].split(":")[1].split("/")[0] not in ("karpenter.sh", "karpenter.k8s.aws", "keda.sh")
    ]


@pytest.mark.parametrize("stack", ["cluster-prod", "cluster-byo"])
def test_builtin_kubernetes_objects_pass_kubernetes_validate(synth_program, stack):
    doc = synth_program(stack, PROGRAM)
    version = validation_version("1.33")
    assert version == "1.33"  # kubernetes-validate ships schemas up to its own version (1.37 here)
    objects = builtin_objects(doc)
    kinds = sorted({state["type"] for state in objects})
    expected = ["kubernetes:core/v1:Namespace"] + (
        ["kubernetes:storage.k8s.io/v1:StorageClass"] if stack == "cluster-prod" else []
    )
    assert kinds == expected
    for state in objects:
        assert kubernetes_validate.validate(manifest(state), version, strict=True) == "1.33"


def test_kubernetes_validate_catches_a_bad_object():
    bad = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "lables": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.33", strict=True)


def test_karpenter_objects_match_the_v1_schema(prod):
    objects = node_pools(prod) + states(prod, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    assert len(objects) == 8
    for state in objects:
        jsonschema.validate(manifest(state), KARPENTER_SCHEMA)


@pytest.mark.parametrize(
    ("mutate", "kind"),
    [
        (lambda spec: spec["disruption"].update(consolidationPolicy="WhenUnderutilized"), "NodePool"),
        (lambda spec: spec["disruption"].update(expireAfter="720h"), "NodePool"),
        (lambda spec: spec["template"]["spec"].pop("nodeClassRef"), "NodePool"),
        (lambda spec: spec["metadataOptions"].update(httpTokens="require"), "EC2NodeClass"),
        (lambda spec: spec.pop("subnetSelectorTerms"), "EC2NodeClass"),
        (lambda spec: spec["blockDeviceMappings"][0]["ebs"].update(kmsKeyId="x"), "EC2NodeClass"),
    ],
)
def test_karpenter_schema_rejects_pre_v1_or_misspelt_fields(prod, mutate, kind):
    state = next(
        s
        for s in states(prod)
        if s["type"].endswith(f":{kind}") and name_of(s).startswith("cluster-us-east-1-")
    )
    obj = json.loads(json.dumps(manifest(state)))
    mutate(obj["spec"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, KARPENTER_SCHEMA)


# ---------------------------------------------------------------------------------------------------------
# Bring your own cluster


def test_byo_creates_no_aws_resources(byo):
    types = {state["type"] for state in states(byo)}
    assert not [t for t in types if t.startswith("aws:")]
    assert "mlops:cluster:ByoCluster" in types


def test_byo_provider_carries_the_kubeconfig_as_a_secret_and_the_context(byo):
    provider = one(byo, "cluster-k8s")
    assert provider["type"] == "pulumi:providers:kubernetes"
    assert provider["inputs"]["context"] == "onprem-serving"
    assert provider["inputs"]["kubeconfig"] == {SECRET_SIG_KEY: SECRET_SIG, "value": "[secret]"}


def test_byo_installs_keda_and_metrics_server_on_that_provider(byo):
    found = releases(byo)
    assert {name: state["inputs"]["version"] for name, state in found.items()} == {
        "keda": "2.17.1",
        "metrics-server": "3.12.2",
    }
    provider = one(byo, "cluster-k8s")["urn"]
    assert {provider_urn(state) for state in found.values()} == {provider}
    # no system node group there: no node selector pinning them to one
    assert "nodeSelector" not in found["keda"]["inputs"]["values"]
    namespace = one(byo, "cluster-ns-keda")
    assert provider_urn(namespace) == provider
    assert namespace["urn"] in found["keda"]["dependencies"]


# ---------------------------------------------------------------------------------------------------------
# Every valid pool config yields a NodePool the Karpenter v1 schema accepts

_durations = st.one_of(
    st.just("Never"), st.builds(lambda n, u: f"{n}{u}", st.integers(1, 999), st.sampled_from("smh"))
)


@st.composite
def pool_configs(draw) -> dict[str, Any]:
    gpu = draw(st.booleans())
    raw: dict[str, Any] = {
        "name": draw(st.from_regex(r"^[a-z]([-a-z0-9]{0,20}[a-z0-9])?$", fullmatch=True)),
        "capacity-type": draw(st.sampled_from(["on-demand", "spot"])),
        "architectures": draw(
            st.lists(st.sampled_from(["amd64", "arm64"]), min_size=1, max_size=2, unique=True)
        ),
        "cpu-limit": draw(st.integers(1, 100_000)),
        "memory-limit-gib": draw(st.integers(1, 1_000_000)),
        "consolidation-policy": draw(st.sampled_from(["WhenEmpty", "WhenEmptyOrUnderutilized"])),
        "consolidate-after": draw(_durations),
        "expire-after": draw(_durations),
        "disruption-budget": draw(
            st.one_of(st.builds(lambda n: f"{n}%", st.integers(0, 100)), st.integers(0, 50).map(str))
        ),
        "gpu": gpu,
    }
    if gpu or draw(st.booleans()):
        raw["instance-families"] = draw(
            st.lists(st.sampled_from(["g5", "g6", "g6e", "p4d", "m7i", "c7g"]), min_size=1, unique=True)
        )
    else:
        raw["instance-categories"] = draw(st.lists(st.sampled_from(list("cmrtg")), min_size=1, unique=True))
    if gpu:
        raw["gpu-limit"] = draw(st.integers(1, 10_000))
    if draw(st.booleans()):
        raw["weight"] = draw(st.integers(1, 100))
    return raw


@settings(max_examples=150, deadline=None)
@given(pool_configs())
def test_any_valid_pool_config_renders_a_schema_valid_node_pool(raw):
    pool = NodePoolConfig.model_validate(raw)
    spec = node_pool_spec(pool)
    jsonschema.validate(
        {"apiVersion": "karpenter.sh/v1", "kind": "NodePool", "metadata": {"name": pool.name}, "spec": spec},
        KARPENTER_SCHEMA,
    )
    assert ("nvidia.com/gpu" in spec["limits"]) is pool.gpu


def test_dev_cluster_has_a_public_endpoint_only_for_its_allow_list(synth_program):
    doc = synth_program("cluster-dev", PROGRAM)
    (state,) = states(doc, "aws:eks/cluster:Cluster")
    assert state["inputs"]["name"] == "mlops-dev-us-east-1"
    assert state["inputs"]["vpcConfig"]["endpointPublicAccess"] is True
    assert state["inputs"]["vpcConfig"]["endpointPrivateAccess"] is True
    assert state["inputs"]["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert state["inputs"]["deletionProtection"] is False
    assert one(doc, "cluster-us-east-1-control-plane-logs")["inputs"]["retentionInDays"] == 30


def test_load_balancer_controller_changes_only_its_tagged_security_groups_or_those_of_its_vpc():
    """Upstream policy (aws-load-balancer-controller v2.13.2 docs/install/iam_policy.json) conditions security
    group changes on the elbv2.k8s.aws/cluster tag; IAM User Guide, "Condition operators": ec2:Vpc is an ARN
    key, compared with ArnEquals (StringEquals with a `*` in the ARN would never match)."""
    policy = load_balancer_controller_policy(
        partition="aws", region="us-east-1", account_id=ACCOUNT, vpc_id="vpc-1"
    )
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert by_sid["ManageOwnSecurityGroups"]["Condition"] == {
        "Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}
    }
    assert by_sid["OpenBackendSecurityGroupsInVpc"]["Action"] == [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupIngress",
    ]
    assert by_sid["OpenBackendSecurityGroupsInVpc"]["Condition"] == {
        "ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/vpc-1"}
    }
    assert by_sid["RetagOwnSecurityGroups"]["Condition"] == {
        "Null": {
            "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
            "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
        }
    }
    assert "*" not in json.dumps(by_sid["OpenBackendSecurityGroupsInVpc"]["Condition"])
