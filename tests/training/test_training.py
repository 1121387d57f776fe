"""Training: pools, Kueue queues per team and JupyterHub, from the example stacks (prod, team-fraud-prod,
team-recsys-prod). Custom resources are validated against closed schemas written from the upstream CRDs
(tests/schemas/karpenter-v1.5.0.json, tests/schemas/kueue-v0.14.8.json: see their $comment), built-in kinds with
kubernetes-validate, Helm values with Helm's own merge over the stored charts, and the single-user pod with
KubeSpawner's own ``make_pod`` (jupyterhub-kubespawner 7.0.0, the version the hub image of chart 4.3.5 pins in
images/hub/requirements.txt)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubespawner.objects import make_pod

from components.config import parse_platform, parse_team
from components.loader import ConfigError
from tests.components.test_chart_values import effective_values, releases, rendered
from tests.conftest import REPO, by_name, states
from tests.kube import invalid_builtin_objects, manifests

SCHEMAS = REPO / "tests" / "schemas"
KARPENTER = json.loads((SCHEMAS / "karpenter-v1.5.0.json").read_text())
KUEUE = json.loads((SCHEMAS / "kueue-v0.14.8.json").read_text())
STACKS = REPO / "stacks"
PROD = STACKS / "Pulumi.prod.yaml"
FRAUD = STACKS / "Pulumi.team-fraud-prod.yaml"
RECSYS = STACKS / "Pulumi.team-recsys-prod.yaml"


@pytest.fixture(scope="module")
def prod(synth) -> dict[str, Any]:
    return synth("prod")


@pytest.fixture(scope="module")
def fraud(synth) -> dict[str, Any]:
    return synth("team-fraud-prod")


@pytest.fixture(scope="module")
def recsys(synth) -> dict[str, Any]:
    return synth("team-recsys-prod")


def raw(path: Path, key: str) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["config"][key]


def validate(schema: dict[str, Any], manifest: dict[str, Any]) -> None:
    jsonschema.validate(manifest, schema, cls=jsonschema.Draft202012Validator)


# -- Custom resources against the upstream CRDs -------------------------------------------------------------


def test_training_node_pools_and_classes_validate_against_karpenter_v1_5_0_crds(prod):
    """NodePool and EC2NodeClass of every training pool, against the closed schema of Karpenter v1.5.0's CRDs
    (aws/karpenter-provider-aws v1.5.0 pkg/apis/crds)."""
    pools = [m for m in manifests(prod, "NodePool") if m["metadata"]["name"].startswith("training-")]
    classes = [m for m in manifests(prod, "EC2NodeClass") if m["metadata"]["name"].startswith("training-")]
    assert sorted(m["metadata"]["name"] for m in pools) == [
        "training-cpu",
        "training-efa",
        "training-gpu",
        "training-gpu-spot",
    ]
    assert len(classes) == 4
    for manifest in pools + classes:
        validate(KARPENTER, manifest)


def test_the_karpenter_schema_refuses_a_placement_group_field_v1_5_0_does_not_have(prod):
    """Placement groups are not in Karpenter v1.5.0's EC2NodeClass (placementGroupSelector arrives in v1.12): the
    closed schema refuses one, which is why the EFA pool keeps to one zone instead."""
    (efa,) = [m for m in manifests(prod, "EC2NodeClass") if m["metadata"]["name"] == "training-efa"]
    bad = copy.deepcopy(efa)
    bad["spec"]["placementGroupSelector"] = {"name": "efa"}
    with pytest.raises(jsonschema.ValidationError):
        validate(KARPENTER, bad)


def test_kueue_objects_validate_against_kueue_v0_14_8_crds(prod, fraud, recsys):
    """ResourceFlavors (platform), ClusterQueue and LocalQueue (each team), against the closed schema of Kueue
    v0.14.8's CRDs (kubernetes-sigs/kueue v0.14.8 config/components/crd/bases)."""
    found = 0
    for document in (prod, fraud, recsys):
        for manifest in manifests(document):
            if manifest["apiVersion"].startswith("kueue.x-k8s.io/"):
                validate(KUEUE, manifest)
                found += 1
    assert found == 4 + 2 + 2


def test_the_kueue_schema_refuses_a_misspelt_quota_key(fraud):
    queue = copy.deepcopy(by_name(fraud, "team-fraud-training-cluster-queue")["inputs"])
    queue["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]["nominalquota"] = "1"
    with pytest.raises(jsonschema.ValidationError):
        validate(KUEUE, queue)


def test_built_in_objects_of_the_training_side_validate(prod, fraud, recsys):
    for document in (prod, fraud, recsys):
        assert invalid_builtin_objects(document) == []


# -- Pools ----------------------------------------------------------------------------------------------------


def test_training_pools_are_tainted_labelled_and_never_consolidate_a_running_job(prod):
    """Karpenter v1 disruption (https://karpenter.sh/docs/concepts/disruption/): WhenEmpty consolidates only nodes
    without pods; budgets with reasons Drifted/Underutilized at 0 block those; expiry is forceful and ignores
    budgets, so training nodes never expire."""
    gpu = by_name(prod, "training-pool-gpu")["inputs"]["spec"]
    template = gpu["template"]
    assert {"key": "mlops.io/training", "value": "true", "effect": "NoSchedule"} in template["spec"]["taints"]
    assert template["metadata"]["labels"]["mlops.io/node-role"] == "training"
    assert template["metadata"]["labels"]["mlops.io/pool"] == "gpu"
    assert template["spec"]["expireAfter"] == "Never"
    assert gpu["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert {"nodes": "0", "reasons": ["Drifted", "Underutilized"]} in gpu["disruption"]["budgets"]
    assert gpu["limits"] == {"cpu": "384", "memory": "3072Gi", "nvidia.com/gpu": "16"}
    spot = by_name(prod, "training-pool-gpu-spot")["inputs"]["spec"]["template"]["spec"]["requirements"]
    assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]} in spot


def test_the_efa_pool_is_one_zone_on_demand_with_its_capacity_reservation(prod):
    """EFA (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa.html): OS-bypass traffic stays in one
    Availability Zone; Karpenter v1.5.0 selects On-Demand Capacity Reservations by id
    (capacityReservationSelectorTerms) with capacity type `reserved` behind the ReservedCapacity feature gate
    (charts/karpenter values.yaml settings.featureGates.reservedCapacity, alpha, off by default)."""
    efa = by_name(prod, "training-pool-efa")["inputs"]["spec"]["template"]["spec"]["requirements"]
    assert {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1a"]} in efa
    assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["reserved", "on-demand"]} in efa
    node_class = by_name(prod, "training-node-class-efa")["inputs"]["spec"]
    assert node_class["capacityReservationSelectorTerms"] == [{"id": "cr-0a1b2c3d4e5f60718"}]
    (root,) = node_class["blockDeviceMappings"]
    assert root["ebs"]["volumeSize"] == "500Gi" and root["ebs"]["encrypted"] is True
    assert root["ebs"]["volumeType"] == "gp3" and root["ebs"]["kmsKeyID"]
    assert node_class["metadataOptions"]["httpPutResponseHopLimit"] == 1
    karpenter = effective_values(releases(prod)["cluster-us-east-1-karpenter"])
    assert karpenter["settings"]["featureGates"]["reservedCapacity"] is True
    other = effective_values(releases(prod)["cluster-us-west-2-karpenter"])
    assert other["settings"]["featureGates"]["reservedCapacity"] is False


def test_gp3_iops_and_throughput_are_within_ebs_limits(prod):
    """gp3: up to 16,000 IOPS and 1,000 MiB/s, at most 0.25 MiB/s per provisioned IOPS
    (https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html#gp3-ebs-volume-type)."""
    sc = by_name(prod, "training-gp3-datasets")["inputs"]["parameters"]
    for ebs in (
        sc,
        by_name(prod, "training-node-class-gpu")["inputs"]["spec"]["blockDeviceMappings"][0]["ebs"],
    ):
        iops, throughput = int(ebs["iops"]), int(ebs["throughput"])
        assert 3000 <= iops <= 16000 and 125 <= throughput <= 1000 and throughput <= iops * 0.25
    assert sc["encrypted"] == "true" and sc["kmsKeyId"]


# -- Queues and quota arithmetic ---------------------------------------------------------------------------------


def test_cluster_queues_take_nominal_quotas_from_team_files_in_one_cohort(fraud, recsys):
    """Kueue ClusterQueue (https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/): flavors of a resource group
    cover the same resources; queues of one cohort borrow each other's idle quota."""
    fraud_q = by_name(fraud, "team-fraud-training-cluster-queue")["inputs"]
    recsys_q = by_name(recsys, "team-recsys-training-cluster-queue")["inputs"]
    assert fraud_q["spec"]["cohort"] == recsys_q["spec"]["cohort"] == "training"
    (group,) = fraud_q["spec"]["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    quotas = {f["name"]: {r["name"]: r["nominalQuota"] for r in f["resources"]} for f in group["flavors"]}
    assert quotas == {
        "training-gpu": {"cpu": "96", "memory": "768Gi", "nvidia.com/gpu": "8"},
        "training-gpu-spot": {"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "4"},
        "training-efa": {"cpu": "96", "memory": "1024Gi", "nvidia.com/gpu": "8"},
        "training-cpu": {"cpu": "96", "memory": "384Gi", "nvidia.com/gpu": "0"},
    }
    (recsys_group,) = recsys_q["spec"]["resourceGroups"]
    assert recsys_group == {
        "coveredResources": ["cpu", "memory"],
        "flavors": [
            {
                "name": "training-cpu",
                "resources": [
                    {"name": "cpu", "nominalQuota": "224"},
                    {"name": "memory", "nominalQuota": "896Gi"},
                ],
            }
        ],
    }
    assert fraud_q["spec"]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "team-fraud"}
    }
    local = by_name(fraud, "team-fraud-training-local-queue")["inputs"]
    assert (local["metadata"]["namespace"], local["spec"]) == ("team-fraud", {"clusterQueue": "team-fraud"})


def test_the_quota_arithmetic_of_the_examples():
    from stacks.training import check_team_training

    recsys = parse_team(raw(RECSYS, "mlops:team"), RECSYS)
    assert check_team_training(recsys, RECSYS, STACKS) == [
        "cpu cpu: recsys 224 + fraud 96 = 320 cores of 256 (1.25x)",
        "cpu memory: recsys 896 + fraud 384 = 1280 GiB of 1024 (1.25x)",
    ]
    fraud = parse_team(raw(FRAUD, "mlops:team"), FRAUD)
    lines = check_team_training(fraud, FRAUD, STACKS)
    assert "gpu gpus: fraud 8 = 8 GPUs of 16 (0.50x)" in lines
    assert "cpu cpu: fraud 96 + recsys 224 = 320 cores of 256 (1.25x)" in lines


def write_stacks(tmp_path: Path, platform=None, fraud=None, recsys=None) -> Path:
    for path, edit in ((PROD, platform), (FRAUD, fraud), (RECSYS, recsys)):
        document = yaml.safe_load(path.read_text())
        if edit is not None:
            edit(document["config"])
        (tmp_path / path.name).write_text(yaml.safe_dump(document))
    return tmp_path


def test_quotas_beyond_the_overcommit_factor_are_refused_naming_the_key(tmp_path):
    from stacks.training import check_team_training

    def more(config):
        config["mlops:team"]["training"]["pools"][0]["cpu"] = "300"
        config["mlops:team"]["quotas"]["cpu"] = "512"

    stacks = write_stacks(tmp_path, recsys=more)
    recsys = parse_team(raw(stacks / RECSYS.name, "mlops:team"), stacks / RECSYS.name)
    with pytest.raises(ConfigError) as caught:
        check_team_training(recsys, stacks / RECSYS.name, stacks)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        f"{stacks / RECSYS.name}: mlops:team.training.pools[0].cpu: overcommits pool 'cpu': cpu cpu: recsys 300 + "
        "fraud 96 = 396 cores of 256 (1.55x); allowed: at most 1.5x its limit (training.overcommit-factor of "
        "platform stack 'prod')"
    )


def test_an_unknown_pool_name_is_refused_naming_the_key(tmp_path):
    from stacks.training import check_team_training

    def unknown(config):
        config["mlops:team"]["training"]["pools"][0]["name"] = "tpu"
        config["mlops:team"]["training"]["notebook-profiles"] = []

    stacks = write_stacks(tmp_path, recsys=unknown)
    recsys = parse_team(raw(stacks / RECSYS.name, "mlops:team"), stacks / RECSYS.name)
    with pytest.raises(
        ConfigError,
        match=r"mlops:team\.training\.pools\[0\]\.name: 'tpu' is not a training pool of "
        r"platform stack 'prod'; allowed: gpu, gpu-spot, efa, cpu$",
    ):
        check_team_training(recsys, stacks / RECSYS.name, stacks)


def test_a_namespace_quota_below_models_plus_training_is_refused():
    from stacks.training import check_namespace_quota

    team = raw(RECSYS, "mlops:team")
    team["quotas"]["cpu"] = "200"
    with pytest.raises(
        ConfigError,
        match=r"mlops:team\.quotas\.cpu: 200 cores is below the models' 16 at max-replicas "
        r"plus the training quotas' 224; allowed: at least 240$",
    ):
        check_namespace_quota(parse_team(team, RECSYS), RECSYS)


def test_a_gpu_notebook_profile_for_a_team_without_gpu_quota_is_refused():
    team = raw(RECSYS, "mlops:team")
    team["training"]["notebook-profiles"][0]["gpus"] = 1
    with pytest.raises(ConfigError) as caught:
        parse_team(team, RECSYS)
    assert str(caught.value) == (
        f"{RECSYS}: mlops:team.training.notebook-profiles[0].gpus: 1 for a team without GPU quota "
        "(training.pools gpus sum to 0); allowed: 0"
    )


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (
            lambda pool: pool.update({"availability-zones": ["us-east-1a", "us-east-1b"]}),
            "availability-zones",
            "us-east-1a, us-east-1b for an efa pool; allowed: exactly one availability zone (EFA traffic does not "
            "cross zones)",
        ),
        (
            lambda pool: pool.update({"capacity-type": "spot"}),
            "capacity-type",
            "'spot' for an efa pool; allowed: on-demand",
        ),
        (
            lambda pool: pool.update({"instance-families": ["m7i"]}),
            "instance-families[0]",
            "'m7i' has no EFA; allowed: ",
        ),
    ],
)
def test_efa_pool_rules_are_one_line_naming_the_key(edit, key, message):
    platform = raw(PROD, "mlops:platform")
    edit(platform["training"]["pools"][2])
    with pytest.raises(ConfigError) as caught:
        parse_platform(platform, PROD)
    assert str(caught.value).startswith(f"{PROD}: mlops:platform.training.pools[2].{key}: {message}")
    assert "\n" not in str(caught.value)


def test_a_training_pool_zone_outside_the_region_is_refused():
    platform = raw(PROD, "mlops:platform")
    platform["training"]["pools"][2]["availability-zones"] = ["us-west-2a"]
    with pytest.raises(
        ConfigError,
        match=r"training\.pools\[2\]\.availability-zones\[0\]: 'us-west-2a' is not a zone of "
        r"region us-east-1; allowed: us-east-1a, us-east-1b, us-east-1c$",
    ):
        parse_platform(platform, PROD)


def test_an_unknown_training_key_is_refused():
    team = raw(FRAUD, "mlops:team")
    team["training"]["quota"] = {}
    with pytest.raises(
        ConfigError, match=r"mlops:team\.training\.quota: unknown key; allowed: pools, notebook-profiles"
    ):
        parse_team(team, FRAUD)


# -- Kueue and JupyterHub releases ---------------------------------------------------------------------------------


def test_kueue_runs_the_published_image_hardened_on_the_system_nodes(prod):
    """The chart at tag v0.14.8 names a staging image with pullPolicy Always (values.yaml); the release pins the
    published registry.k8s.io image of the same version. Metrics stay on the secure port 8443 (authenticated,
    templates/rbac/metrics_auth_role.yaml); KueueViz and Prometheus objects off."""
    values = effective_values(releases(prod)["training-kueue"])
    manager = values["controllerManager"]["manager"]
    assert manager["image"] == {
        "repository": "registry.k8s.io/kueue/kueue",
        "tag": "v0.14.8",
        "pullPolicy": "IfNotPresent",
    }
    assert manager["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    assert manager["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["controllerManager"]["replicas"] == 2
    assert values["controllerManager"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert values["controllerManager"]["nodeSelector"] == {"mlops.io/node-role": "system"}
    assert values["enableKueueViz"] is False and values["enablePrometheus"] is False
    config = yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])
    assert config["metrics"] == {"bindAddress": ":8443"}
    assert config["managedJobsNamespaceSelector"] == {
        "matchExpressions": [{"key": "team", "operator": "Exists"}]
    }
    assert "pod" in config["integrations"]["frameworks"]


def test_the_hub_signs_in_through_the_platforms_oidc_and_maps_groups_to_teams(prod):
    values = effective_values(releases(prod)["training-hub"])
    oauth = values["hub"]["config"]["GenericOAuthenticator"]
    oidc = raw(PROD, "mlops:platform")["identity"]["oidc"]
    assert oauth["authorize_url"] == oidc["authorization-endpoint"]
    assert oauth["token_url"] == oidc["token-endpoint"]
    assert oauth["client_id"] == oidc["client-id"]
    assert oauth["claim_groups_key"] == "groups" and oauth["manage_groups"] is True
    assert oauth["allowed_groups"] == ["fraud-ml-engineers", "recsys-ml-engineers"]
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    teams = values["custom"]["teams"]
    assert {name: team["group"] for name, team in teams.items()} == {
        "fraud": "fraud-ml-engineers",
        "recsys": "recsys-ml-engineers",
    }
    gpu_profiles = [
        p["slug"]
        for t in teams.values()
        for p in t["profiles"]
        if "extra_resource_limits" in p["kubespawner_override"]
    ]
    assert gpu_profiles == ["fraud-gpu-single"]
    assert values["proxy"]["service"]["type"] == "ClusterIP"
    assert values["cull"]["enabled"] is True and values["cull"]["timeout"] == 3600
    assert values["singleuser"]["storage"]["dynamic"]["storageClass"] == "gp3-encrypted"
    ingress = by_name(prod, "training-hub-ingress")["inputs"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/auth-type"] == "oidc"


CHART_CONFIG = REPO / "tests/data/charts/jupyterhub-4.3.5/files/hub/jupyterhub_config.py"


def chart_image(singleuser: dict[str, Any]) -> str:
    """KubeSpawner's image as the chart's files/hub/jupyterhub_config.py composes it (``name:tag``, the name alone
    for an empty tag); the test fails if the chart's composition reads otherwise."""
    assert 'tag = get_config("singleuser.image.tag")\n    if tag:\n        image = f"{image}:{tag}"' in (
        CHART_CONFIG.read_text()
    )
    name, tag = singleuser["image"]["name"], singleuser["image"]["tag"]
    return f"{name}:{tag}" if tag else name


def singleuser_pod(values: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """The pod KubeSpawner 7.0.0 makes for ``profile``: the chart's singleuser values mapped to KubeSpawner traits as
    files/hub/jupyterhub_config.py maps them (image, uid, fs_gid, allow_privilege_escalation, extra_pod_config,
    extra_labels; the cloudMetadata init container only with blockWithIptables true), then ``hub.config.KubeSpawner``
    (loaded after them), then the profile's kubespawner_override (which replaces a trait whole)."""
    singleuser = values["singleuser"]
    spawner = values["hub"]["config"].get("KubeSpawner", {})
    override = profile["kubespawner_override"]
    assert (
        singleuser["cloudMetadata"]["blockWithIptables"] is False
    )  # else a privileged NET_ADMIN init container
    traits = {
        "image": chart_image(singleuser),
        "extra_labels": singleuser["extraLabels"],
        "node_selector": singleuser["nodeSelector"],
        **spawner,
        **override,
    }
    pod = make_pod(
        name="jupyter-someone",
        cmd=["jupyterhub-singleuser"],
        port=8888,
        image=traits["image"],
        uid=singleuser["uid"],
        fs_gid=singleuser["fsGid"],
        allow_privilege_escalation=singleuser["allowPrivilegeEscalation"],
        container_security_context=traits.get("container_security_context"),
        pod_security_context=traits.get("pod_security_context"),
        extra_pod_config=singleuser["extraPodConfig"],
        node_selector=traits["node_selector"],
        labels={"component": "singleuser-server", **traits["extra_labels"]},
        annotations=override["extra_annotations"],
        cpu_limit=override["cpu_limit"],
        cpu_guarantee=override["cpu_guarantee"],
        mem_limit=override["mem_limit"],
        mem_guarantee=override["mem_guarantee"],
        extra_resource_limits=override.get("extra_resource_limits"),
        extra_resource_guarantees=override.get("extra_resource_guarantees"),
        service_account=override["service_account"],
        automount_service_account_token=override["automount_service_account_token"],
    )
    from kubernetes_asyncio.client import ApiClient

    # Serialisation only (the class's own method, no client session, which would need an event loop).
    manifest = ApiClient.__new__(ApiClient).sanitize_for_serialization(pod)
    manifest["metadata"]["namespace"] = override["namespace"]
    return manifest


def hub_profiles(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["slug"]: p for t in values["custom"]["teams"].values() for p in t["profiles"]}


def test_the_single_user_pod_is_hardened_in_the_team_namespace(prod):
    """KubeSpawner's own pod for the fraud GPU profile: validated with kubernetes-validate, in the team namespace
    with its service account, non-root uid 1000, no privilege escalation, no privileged container, no token, the
    team's LocalQueue and do-not-disrupt, on the profile's pool, and a GPU only where the profile asks."""
    import kubernetes_validate

    values = effective_values(releases(prod)["training-hub"])
    profiles = hub_profiles(values)
    pod = singleuser_pod(values, profiles["fraud-gpu-single"])
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", **pod}, "1.33.0", strict=True)
    assert pod["metadata"]["namespace"] == "team-fraud"
    assert pod["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "training"
    assert pod["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "models" and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {
        "fsGroup": 100,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = spec["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "initContainers" not in spec
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    # The training NodePools label their nodes mlops.io/pool (components.training.specs), as do the flavors.
    assert spec["nodeSelector"] == {"mlops.io/pool": "gpu"}
    assert values["singleuser"]["startTimeout"] == 900
    cpu = singleuser_pod(values, profiles["recsys-cpu-small"])
    assert "nvidia.com/gpu" not in cpu["spec"]["containers"][0]["resources"]["limits"]
    assert cpu["metadata"]["namespace"] == "team-recsys"
    assert cpu["spec"]["nodeSelector"] == {"mlops.io/pool": "cpu"}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """The Pod Security Standards rules of the baseline and restricted profiles a pod breaks."""
    spec = pod["spec"]
    psc = spec.get("securityContext") or {}
    found = []
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        found.append("host namespaces")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= {
            "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"
        }:  # fmt: skip
            found.append(f"volume types: {volume['name']}")
    if (psc.get("seccompProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
        found.append("seccomp (pod)")
    if psc.get("runAsUser") == 0:
        found.append("running as non-root user (pod)")
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        csc = container.get("securityContext") or {}
        name = container["name"]
        if csc.get("privileged"):
            found.append(f"privileged containers: {name}")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            found.append(f"host ports: {name}")
        if csc.get("allowPrivilegeEscalation") is not False:
            found.append(f"privilege escalation: {name}")
        if csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            found.append(f"running as non-root: {name}")
        if csc.get("runAsUser") == 0:
            found.append(f"running as non-root user: {name}")
        seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"seccomp: {name}")
        capabilities = csc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []) or set(capabilities.get("add") or []) - {
            "NET_BIND_SERVICE"
        }:
            found.append(f"capabilities: {name}")
    return found


def test_every_notebook_pod_meets_the_restricted_pod_security_standard(prod):
    """Team namespaces enforce Pod Security ``restricted``; KubeSpawner 7.0.0's pod for every profile meets each
    rule of https://kubernetes.io/docs/concepts/security/pod-security-standards/ checked here:
    baseline: host namespaces (hostNetwork/hostPID/hostIPC unset), privileged containers (none), host ports (none);
    restricted: volume types (configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected,
    secret only), privilege escalation (allowPrivilegeEscalation false on every container), running as non-root
    (runAsNonRoot true, on the container or the pod), running as non-root user (runAsUser never 0), seccomp
    (RuntimeDefault or Localhost, on the container or the pod), capabilities (drop ALL, add only NET_BIND_SERVICE).
    The checker itself refuses the pod the chart's own settings alone would give (no capabilities dropped)."""
    values = effective_values(releases(prod)["training-hub"])
    profiles = hub_profiles(values)
    assert sorted(profiles) == ["fraud-cpu-small", "fraud-gpu-single", "recsys-cpu-large", "recsys-cpu-small"]
    for slug, profile in profiles.items():
        assert restricted_violations(singleuser_pod(values, profile)) == [], slug
    bare = copy.deepcopy(values)
    del bare["hub"]["config"]["KubeSpawner"]
    assert restricted_violations(singleuser_pod(bare, profiles["fraud-cpu-small"])) == [
        "running as non-root: notebook",
        "seccomp: notebook",
        "capabilities: notebook",
    ]


def test_the_notebook_image_is_the_stacks_digest_reference(prod):
    """The image KubeSpawner runs is ``repository@sha256:<digest>`` exactly as the stack pins it: the chart joins
    name and tag with ``:`` (files/hub/jupyterhub_config.py), and ``repository:sha256:...`` is no valid reference
    (https://github.com/distribution/reference/blob/main/reference.go: a tag is [\\w][\\w.-]{0,127})."""
    import re

    values = effective_values(releases(prod)["training-hub"])
    image = raw(PROD, "mlops:platform")["training"]["notebooks"]["image"]
    for profile in hub_profiles(values).values():
        (container,) = singleuser_pod(values, profile)["spec"]["containers"]
        assert container["image"] == image
    assert re.fullmatch(r"[a-z0-9.\-]+(/[a-z0-9._\-]+)+@sha256:[0-9a-f]{64}", image)


def netpol_peer_admits(
    peer: dict[str, Any], pod_labels: dict[str, str], ns_labels: dict[str, str], own: bool
) -> bool:
    """Whether one NetworkPolicy peer selects a pod (https://kubernetes.io/docs/concepts/services-networking/
    network-policies/#behavior-of-to-and-from-selectors): a podSelector alone means the policy's own namespace."""
    from tests.components.test_chart_values import expression_matches

    def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items()) and all(
            expression_matches(e, labels) for e in selector.get("matchExpressions") or []
        )

    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], ns_labels):
            return False
    elif not own:
        return False
    return selects(peer.get("podSelector") or {}, pod_labels)


def test_notebook_servers_in_team_namespaces_reach_the_hub_api(prod, fraud):
    """A server calls the hub at ``hub_connect_url``: the hub Service by its cluster DNS name (the chart's default
    ``http://hub:8081`` resolves only in the hub's namespace), and the chart's rendered hub NetworkPolicy admits the
    server's pod (its own labels, from KubeSpawner) from the team namespace (its labels from the team stack) on the
    API port, while a pod of the team namespace that is no notebook server stays out; the team namespace's
    egress policy lets the server out to the hub's namespace on that port."""
    inputs = releases(prod)["training-hub"]
    values = effective_values(inputs)
    assert (
        values["hub"]["config"]["JupyterHub"]["hub_connect_url"]
        == "http://hub.jupyterhub.svc.cluster.local:8081"
    )
    services = [d for _, d in rendered(inputs) if d["kind"] == "Service" and d["metadata"]["name"] == "hub"]
    assert [(s["metadata"]["name"], s["spec"]["ports"][0]["port"]) for s in services] == [("hub", 8081)]
    assert inputs["namespace"] == "jupyterhub"
    (policy,) = [d for p, d in rendered(inputs) if p == "templates/hub/netpol.yaml"]
    # The team namespace in each region the team stack deploys to, labelled alike.
    namespaces = [
        s["inputs"]["metadata"]
        for s in states(fraud, "kubernetes:core/v1:Namespace")
        if s["inputs"]["metadata"]["name"] == "team-fraud"
    ]
    assert len(namespaces) == 2 and namespaces[0]["labels"] == namespaces[1]["labels"]
    ns_labels = namespaces[0]["labels"]
    assert ns_labels["team"] == "fraud" and ns_labels["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = singleuser_pod(values, hub_profiles(values)["fraud-gpu-single"])
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"

    def admitted(labels: dict[str, str]) -> bool:
        return any(
            any(port.get("port") in (8081, "http") for port in rule.get("ports") or [])
            and any(netpol_peer_admits(peer, labels, ns_labels, own=False) for peer in rule.get("from") or [])
            for rule in policy["spec"]["ingress"]
        )

    assert admitted(pod["metadata"]["labels"])
    assert not admitted({"team": "fraud", "app": "batch-job"})
    egress = by_name(fraud, "team-fraud-training-netpol-notebooks-to-hub")["inputs"]["spec"]
    assert egress["podSelector"] == {"matchLabels": {"component": "singleuser-server"}}
    assert egress["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "jupyterhub"}}}],
            "ports": [{"port": 8081, "protocol": "TCP"}],
        }
    ]


def test_the_metadata_service_is_denied_by_the_team_namespaces_default_deny(fraud):
    """With blockWithIptables off, the team namespace's NetworkPolicies decide: default deny, and no egress rule
    admits 169.254.169.254 (egress names the VPC CIDR, the S3 prefix list, DNS, MLflow and the hub)."""
    import ipaddress

    policies = [s["inputs"] for s in states(fraud, "kubernetes:networking.k8s.io/v1:NetworkPolicy")]
    assert any(p["metadata"]["name"] == "default-deny" for p in policies)
    metadata = ipaddress.ip_address("169.254.169.254")
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block:
                    assert metadata not in ipaddress.ip_network(block["cidr"]), policy["metadata"]["name"]
    names = {p["metadata"]["name"] for p in policies}
    assert {"allow-notebooks-from-hub", "allow-notebooks-to-hub"} <= names


def test_the_hub_may_spawn_only_in_team_namespaces_it_is_granted(fraud):
    role = by_name(fraud, "team-fraud-training-hub-role")["inputs"]
    assert role["metadata"]["namespace"] == "team-fraud"
    binding = by_name(fraud, "team-fraud-training-hub-binding")["inputs"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "namespace": "jupyterhub", "name": "hub"}]


def test_the_team_stack_exports_its_local_queue(fraud):
    outputs = fraud.get("outputs") or {}
    assert outputs.get("training") == {
        "namespace": "team-fraud",
        "localQueue": "training",
        "clusterQueue": "team-fraud",
        "queueLabel": "kueue.x-k8s.io/queue-name",
    }


def test_every_efa_family_has_instance_types_the_efa_device_plugin_supports():
    """The EFA families a pool may name each have instance types in the EFA device plugin chart's list of EFA
    instances (aws/eks-charts stable/aws-efa-k8s-device-plugin values.yaml supportedInstanceLabels, which cites
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa.html#efa-instance-types); the plugin runs only there."""
    from components.training.config import EFA_FAMILIES

    chart = yaml.safe_load(
        (REPO / "tests/data/charts/aws-efa-k8s-device-plugin-v0.5.30/values.yaml").read_text()
    )
    families = {name.split(".", 1)[0] for name in chart["supportedInstanceLabels"]["values"]}
    assert sorted(EFA_FAMILIES - families) == []


def training_pool_nodes(document: dict[str, Any]) -> dict[str, tuple[dict[str, str], list[dict[str, str]]]]:
    """Each training pool's node labels (with the kubelet's os/arch and, for the chart affinities, an instance
    type of the pool) and taints, from the NodePool inputs."""
    instance = {"gpu": "g6e.12xlarge", "gpu-spot": "g6e.12xlarge", "efa": "p5.48xlarge", "cpu": "m7i.4xlarge"}
    found = {}
    for pool, itype in instance.items():
        template = by_name(document, f"training-pool-{pool}")["inputs"]["spec"]["template"]
        labels = {
            **template["metadata"]["labels"],
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": itype,
        }
        found[pool] = (labels, template["spec"]["taints"])
    return found


def test_device_plugins_run_on_the_training_nodes_they_serve_and_controllers_on_system_nodes(prod):
    """As Helm renders them (with the charts' default affinities) against each training pool's labels and taints
    (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/): the NVIDIA plugin on every GPU
    training pool, the EFA plugin on the EFA pool only, no serving or system controller on any training node, and
    Kueue's manager, the hub and the proxy on the tainted system nodes."""
    from tests.components.test_chart_values import schedulable_on, workloads

    pools = training_pool_nodes(prod)
    found = releases(prod)
    (nvidia,) = [
        d
        for path, d in workloads(found["cluster-us-east-1-nvidia-device-plugin"])
        if path == "templates/daemonset-device-plugin.yml"
    ]
    (efa,) = [d for _, d in workloads(found["training-efa-device-plugin"])]
    for name, (labels, taints) in pools.items():
        assert schedulable_on(nvidia["spec"]["template"]["spec"], labels, taints) == (name != "cpu"), name
        assert schedulable_on(efa["spec"]["template"]["spec"], labels, taints) == (name == "efa"), name
    system = by_name(prod, "cluster-us-east-1-system-nodes")["inputs"]
    system_labels = {**system["labels"], "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    system_taints = [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}]
    for release in (
        "training-kueue",
        "training-hub",
        "cluster-us-east-1-karpenter",
        "cluster-us-east-1-keda",
    ):
        for path, doc in workloads(found[release]):
            pod = doc["spec"]["template"]["spec"]
            assert schedulable_on(pod, system_labels, system_taints), (release, path)
            assert not any(schedulable_on(pod, labels, taints) for labels, taints in pools.values()), (
                release,
                path,
            )


def test_efa_nodes_join_the_eks_cluster_security_group_which_admits_all_traffic_from_itself(prod):
    """EFA needs a security group allowing all inbound and outbound traffic from and to itself (EC2 User Guide,
    "Prepare an EFA-enabled security group"). The security group EKS creates for a cluster has exactly that:
    inbound all from self, outbound all to self "for EFA traffic"
    (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html). The EFA pool's node class selects
    security groups by the discovery tag, which is on that cluster security group (its id from the cluster's
    vpcConfig) and on no other group, and the stack adds no rule that narrows it."""
    node_class = by_name(prod, "training-node-class-efa")["inputs"]["spec"]
    assert node_class["securityGroupSelectorTerms"] == [
        {"tags": {"karpenter.sh/discovery": "mlops-prod-us-east-1"}}
    ]
    tags = [
        s["inputs"]
        for s in states(prod, "aws:ec2/tag:Tag")
        if s["inputs"]["key"] == "karpenter.sh/discovery" and s["inputs"]["value"] == "mlops-prod-us-east-1"
    ]
    assert [t["resourceId"].startswith("sg-") for t in tags] == [True]
    tag = by_name(prod, "cluster-us-east-1-cluster-sg-discovery")
    assert any(dep.endswith("::cluster-us-east-1-eks") for dep in tag["dependencies"])
    egress = [
        s
        for s in states(prod, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if s["inputs"].get("securityGroupId") == tags[0]["resourceId"]
    ]
    assert egress == []


def test_training_is_refused_on_internet_free_stacks_and_without_sign_in():
    platform = raw(PROD, "mlops:platform")
    # Pipelines (quay.io images) and OpenCost are refused on internet-free stacks too, first: left out to reach
    # training's check.
    free = {
        **{k: v for k, v in platform.items() if k not in ("pipelines", "cost")},
        "internet-free": True,
        "nat": "none",
    }
    with pytest.raises(
        ConfigError, match=r"mlops:platform\.training: not available with internet-free: true"
    ):
        parse_platform(free, PROD)
    unsigned = copy.deepcopy(platform)
    del unsigned["identity"]["oidc"]
    unsigned["environment"] = "staging"  # prod requires the sign-in for MLflow already
    unsigned.pop("pipelines")  # Argo's sign-in needs identity.oidc too
    with pytest.raises(ConfigError, match=r"mlops:platform\.training\.notebooks: needs identity\.oidc"):
        parse_platform(unsigned, PROD)
