"""The shipped stacks' serving clusters, wired to the network and key ring (one synthesis per stack)."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from components.cluster.control_plane import CONTROL_PLANE_LOG_TYPES
from components.cluster.naming import cluster_name
from components.config import load_platform
from tests.conftest import FIXTURES, STACKS, states


def name_of(state: dict[str, Any]) -> str:
    return state["urn"].rsplit("::", 1)[-1]


def one(doc: dict[str, Any], name: str) -> dict[str, Any]:
    matches = [state for state in states(doc) if name_of(state) == name]
    assert len(matches) == 1, f"{name}: {len(matches)} resources"
    return matches[0]


def regions_of(stack: str) -> list[str]:
    return [region.name for region in load_platform(STACKS, stack).regions]


def test_prod_has_one_private_cluster_per_region_on_the_private_subnets(synth):
    doc = synth("prod")
    found = {state["inputs"]["name"]: state for state in states(doc, "aws:eks/cluster:Cluster")}
    assert sorted(found) == [cluster_name("prod", region) for region in ("us-east-1", "us-west-2")]
    for region in ("us-east-1", "us-west-2"):
        state = found[cluster_name("prod", region)]
        vpc = state["inputs"]["vpcConfig"]
        assert vpc["endpointPublicAccess"] is False
        assert vpc["endpointPrivateAccess"] is True
        assert "publicAccessCidrs" not in vpc
        private = [one(doc, f"net-{region}-private-{region}{zone}") for zone in "abc"]
        assert vpc["subnetIds"] == [subnet["id"] for subnet in private]
        assert {subnet["inputs"]["tags"]["karpenter.sh/discovery"] for subnet in private} == {
            cluster_name("prod", region)
        }
        assert state["inputs"]["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
        # The envelope key is this region's cluster-secrets key of the key ring.
        key = one(doc, f"keys-{region}-cluster-secrets")
        assert state["inputs"]["encryptionConfig"]["provider"]["keyArn"] == (
            f"arn:aws:kms:{region}:333333333333:key/{key['id']}"
        )
        assert key["urn"] in state["propertyDependencies"]["encryptionConfig"]
        group = one(doc, f"cluster-{region}-control-plane-logs")
        assert one(doc, f"keys-{region}-logs")["urn"] in group["propertyDependencies"]["kmsKeyId"]


def test_prod_cluster_nodes_wait_for_their_network(synth):
    """Nodes join through the NAT gateways or the VPC endpoints: the system node group waits for them (the control
    plane, which needs only its subnets, does not)."""
    doc = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        component = one(doc, f"cluster-{region}")
        assert component["type"] == "mlops:cluster:ServingCluster"
        network = one(doc, f"net-{region}")["urn"]
        needed = [
            state["urn"]
            for state in states(doc)
            if state["parent"] == network
            and state["type"] in ("aws:ec2/vpcEndpoint:VpcEndpoint", "aws:ec2/natGateway:NatGateway")
        ]
        assert len(needed) >= 3
        assert set(needed) <= set(one(doc, f"cluster-{region}-system-nodes")["dependencies"])
        assert not set(needed) & set(one(doc, f"cluster-{region}-eks")["dependencies"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_node_resource_is_imdsv2_encrypted_and_private(synth, stack):
    doc = synth(stack)
    regions = regions_of(stack)
    templates = states(doc, "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == len(regions)
    for state in templates:
        assert state["inputs"]["metadataOptions"]["httpTokens"] == "required"
        assert state["inputs"]["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
        region = next(r for r in regions if f"-{r}-" in name_of(state))
        ebs = state["inputs"]["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true"
        assert (
            one(doc, f"keys-{region}-volumes")["urn"] in state["propertyDependencies"]["blockDeviceMappings"]
        )
    for state in states(doc, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"):
        assert state["inputs"]["spec"]["metadataOptions"]["httpTokens"] == "required"
        assert state["inputs"]["spec"]["associatePublicIPAddress"] is False


def test_dev_endpoint_is_public_only_for_the_allow_list(synth):
    doc = synth("dev")
    (state,) = states(doc, "aws:eks/cluster:Cluster")
    assert state["inputs"]["vpcConfig"]["endpointPublicAccess"] is True
    assert state["inputs"]["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    (staging,) = states(synth("staging"), "aws:eks/cluster:Cluster")
    assert staging["inputs"]["vpcConfig"]["endpointPublicAccess"] is False


def test_prod_node_pools_and_pinned_releases(synth):
    doc = synth("prod")
    pools = states(doc, "kubernetes:karpenter.sh/v1:NodePool")
    assert len(pools) == 10  # 3 per region, and prod's 4 training pools (tests/training)
    gpu = [
        state["inputs"]["spec"] for state in pools if "nvidia.com/gpu" in state["inputs"]["spec"]["limits"]
    ]
    assert len(gpu) == 5
    assert all(
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
        in spec["template"]["spec"]["taints"]
        for spec in gpu
    )
    charts = load_platform(STACKS, "prod").cluster.charts  # type: ignore[union-attr]
    for region in ("us-east-1", "us-west-2"):
        versions = {
            state["inputs"]["name"]: state["inputs"]["version"]
            for state in states(doc, "kubernetes:helm.sh/v3:Release")
            if name_of(state).startswith(f"cluster-{region}-")
        }
        assert versions == {
            "karpenter": charts.karpenter,
            "keda": charts.keda,
            "metrics-server": charts.metrics_server,
            "aws-load-balancer-controller": charts.aws_load_balancer_controller,
            "nvidia-device-plugin": charts.nvidia_device_plugin,
        }


def test_prod_builtin_kubernetes_objects_pass_kubernetes_validate(synth):
    doc = synth("prod")
    objects = [
        state
        for state in states(doc)
        if state["type"].startswith("kubernetes:")
        # KEDA objects are checked against the upstream CRDs (tests/stacks/test_keda_prometheus.py).
        and state["type"].split(":")[1].split("/")[0]
        not in ("helm.sh", "karpenter.sh", "karpenter.k8s.aws", "keda.sh", "kueue.x-k8s.io")
        # The Prometheus collector's RBAC is validated with the observability components.
        and "mlops:observability:" not in state["urn"]
    ]
    # Per region: 4 namespaces, the encrypted gp3 StorageClass, the serving entry (namespace and Ingress) and the
    # team-Ingress admission policy with its binding; in the primary, the 9 objects of MLflow and the 3 of its
    # sign-in (the OIDC client Secret, the Role and RoleBinding that let the load balancer controller read it);
    # the 15 of Argo Workflows (components.pipelines: namespace, 4 network policies, the 3 of its sign-in, the login
    # account and its token, the archive's Secret, bootstrap account, script and Job, the server's Ingress);
    # per region, the team-namespace admission policy with its binding (components.data.guard); the training
    # side's 3 namespaces, datasets StorageClass, hub Ingress and the 3 objects of its sign-in (Kueue's objects are
    # checked against the upstream CRDs in tests/training); per region OpenCost's namespace and 3 NetworkPolicies
    # (components.cost.opencost); per region the team deploy roles' ClusterRole and its binding
    # (components.identity.github).
    assert len(objects) == 45 + 4 + 8 + 4 * 2 + 2 * 2
    for state in objects:
        group_version, kind = state["type"].split(":", 1)[1].rsplit(":", 1)
        manifest = {**state["inputs"], "apiVersion": group_version.removeprefix("core/"), "kind": kind}
        assert kubernetes_validate.validate(manifest, "1.33", strict=True) == "1.33"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_cluster_outputs_are_exported_through_the_contract(synth, stack):
    doc = synth(stack)
    for region in regions_of(stack):
        exported = doc["outputs"]["regions"][region]["cluster"]
        name = cluster_name(stack, region)
        assert exported["mode"] == "eks"
        assert exported["name"] == name
        assert exported["endpoint"].endswith(f".{region}.eks.amazonaws.com")
        assert exported["oidcIssuer"].startswith(f"https://oidc.eks.{region}.amazonaws.com/id/")
        assert exported["oidcProviderArn"] == (
            f"arn:aws:iam::{load_platform(STACKS, stack).account_id}:oidc-provider/"
            + exported["oidcIssuer"].removeprefix("https://")
        )
        assert exported["nodeRoleArn"].endswith(f":role/{one(doc, f'cluster-{region}-node-role')['id']}")
        assert exported["clusterSecurityGroupId"].startswith("sg-")
        kubeconfig = json.loads(one(doc, f"cluster-{region}-k8s")["inputs"]["kubeconfig"])
        assert kubeconfig["clusters"][0]["cluster"]["server"] == exported["endpoint"]


def test_platform_program_with_a_byo_cluster(synth):
    doc = synth("platform-byo", FIXTURES)
    types = {state["type"] for state in states(doc)}
    assert not [t for t in types if t.startswith("aws:eks/")]
    assert "mlops:cluster:ServingCluster" not in types
    provider = one(doc, "cluster-k8s")
    assert provider["type"] == "pulumi:providers:kubernetes"
    assert provider["inputs"]["context"] == "onprem-serving"
    # A path or a whole kubeconfig: either way the provider input is kept secret.
    assert provider["inputs"]["kubeconfig"]["value"] == "[secret]"
    releases = {
        state["inputs"]["name"]: state["provider"].rsplit("::", 1)[0]
        for state in states(doc, "kubernetes:helm.sh/v3:Release")
    }
    assert releases == {"keda": provider["urn"], "metrics-server": provider["urn"]}
    assert doc["outputs"]["regions"]["us-east-1"]["cluster"] == {
        "mode": "byo",
        "name": "onprem-serving",
        "endpoint": None,
        "certificateAuthority": None,
        "oidcIssuer": None,
        "oidcProviderArn": None,
        "nodeRoleArn": None,
        "clusterSecurityGroupId": None,
    }
