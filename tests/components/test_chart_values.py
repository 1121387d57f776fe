"""The effective values of every Helm release the platform installs, computed by Helm's own library.

Each chart is stored at the version the stacks pin under tests/data/charts/<chart>-<version>/ (source and commit
in that folder's README.md). The values are the Release inputs of synthesised previews, exactly as the program
hands them to the provider. `helm-python-sdk` embeds Helm's library: `Chart.merge_values` is the coalescing an
install performs (the chart's values.yaml under the release's values), `Chart.render` renders the templates
offline. What is asserted is what the cluster needs of the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import helm_python
import pytest
import yaml

from components.config import parse_platform
from components.loader import ConfigError
from tests.conftest import FIXTURES, REPO, by_name, states

CHARTS = REPO / "tests" / "data" / "charts"
RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
AIRGAPPED_ACCOUNT = "444444444444"
CLUSTER_PROGRAM = REPO / "tests" / "fixtures" / "cluster_program" / "__main__.py"
PROD_REGIONS = ("us-east-1", "us-west-2")
AIRGAPPED_REGIONS = ("eu-west-1", "eu-central-1")


@pytest.fixture(scope="module")
def prod(synth) -> dict[str, Any]:
    return synth("prod")


@pytest.fixture(scope="module")
def airgapped(synth) -> dict[str, Any]:
    return synth("airgapped-cluster", FIXTURES)


@pytest.fixture(scope="module")
def byo(synth) -> dict[str, Any]:
    return synth("cluster-byo", FIXTURES, CLUSTER_PROGRAM)


def chart(name: str, version: str) -> helm_python.Chart:
    """The stored chart at exactly the version a release pins (a release of another version has no chart here).

    Loaded afresh each time: rendering prunes the dependencies a condition disables from the loaded chart's
    metadata (Helm's dependency processing), so a chart once rendered no longer shows them.
    """
    folder = CHARTS / f"{name}-{version}"
    assert folder.is_dir(), f"no stored chart {folder.name}: store it (see tests/data/charts/README.md)"
    loaded = helm_python.Chart.load(folder)
    assert (loaded.name, loaded.version) == (name, version)
    return loaded


def chart_values(name: str, version: str) -> dict[str, Any]:
    """The chart's default values (its values.yaml)."""
    with chart(name, version) as loaded:
        return loaded.values


def releases(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each Helm release of a preview by resource name: its inputs as the provider receives them."""
    return {state["urn"].rsplit("::", 1)[-1]: state["inputs"] for state in states(document, RELEASE)}


def chart_name(inputs: dict[str, Any]) -> str:
    # `chart` is the name, or an OCI reference ending in it; the release is named after the chart.
    return inputs["chart"].rsplit("/", 1)[-1]


def effective_values(inputs: dict[str, Any]) -> dict[str, Any]:
    with chart(chart_name(inputs), inputs["version"]) as loaded:
        return loaded.merge_values(inputs["values"])


def rendered(inputs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(template path, object) of every object the release's chart renders with the release's values."""
    with chart(chart_name(inputs), inputs["version"]) as loaded:
        manifests = loaded.render(
            values=inputs["values"], name=inputs["name"], namespace=inputs["namespace"], is_install=True
        )
    found = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        # A template may join `---` to a comment (the issuer's rbac.yaml: `---# Permission ...`), which Helm's
        # YAML splitter accepts as a separator: split there too.
        text = re.sub(r"^---(?=\S)", "---\n", text, flags=re.M)
        found.extend((path.split("/", 1)[1], doc) for doc in yaml.safe_load_all(text) if doc)
    return found


def workloads(inputs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(path, doc) for path, doc in rendered(inputs) if doc["kind"] in ("Deployment", "DaemonSet")]


# ---------------------------------------------------------------------------------------------------------
# Helm's merge: what a values map can and cannot change


def test_helm_deletes_a_default_key_only_with_null_an_empty_map_changes_nothing():
    """Helm coalesces the values passed into the chart's defaults key by key: an empty map leaves a default map
    as it is; only null deletes a default key (https://helm.sh/docs/chart_template_guide/values_files/
    #deleting-a-default-key). So `affinity: {}` never removed the device plugin chart's node affinity, and Pulumi's
    Python SDK drops None map values before they reach the provider ("Deleting Helm Chart Default Values",
    https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/deleting-helm-chart-default-values/)."""
    with chart("nvidia-device-plugin", "0.17.2") as nvidia:
        default = nvidia.values["affinity"]
        assert default["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert nvidia.merge_values({"affinity": {}})["affinity"] == default
        assert "affinity" not in nvidia.merge_values({"affinity": None})


def test_helm_merges_a_map_value_key_by_key_so_a_charts_default_node_selector_stays(prod):
    """A map value is merged into the default map (same page as above): Karpenter's effective nodeSelector is the
    chart's `kubernetes.io/os: linux` (values.yaml) plus the platform's system-node label. The system node group
    carries that label, and the kubelet sets kubernetes.io/os on every node
    (https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-os)."""
    for region in PROD_REGIONS:
        inputs = releases(prod)[f"cluster-{region}-karpenter"]
        assert effective_values(inputs)["nodeSelector"] == {
            "kubernetes.io/os": "linux",
            "mlops.io/node-role": "system",
        }
        labels = by_name(prod, f"cluster-{region}-system-nodes")["inputs"]["labels"]
        assert labels["mlops.io/node-role"] == "system"


# ---------------------------------------------------------------------------------------------------------
# Every key the platform sets is one the chart has

# Where a chart accepts keys its values.yaml does not list, by chart and key path; the walk stops there.
# Each reason names the template that reads the keys.
# Charts of the platform's primary cluster alone, not of every cluster (their releases are not named per region):
# Argo Workflows (components.pipelines; its placement on the system nodes: tests/components/test_pipelines.py).
PRIMARY_ONLY_CHARTS = {"argo-workflows"}
# Charts the internet-free stacks refuse (components/cost/config.py check_opencost): not in the airgapped fixture.
INTERNET_ONLY_CHARTS = {"opencost"}
ACCEPTED_BEYOND_DEFAULTS: dict[str, dict[str, str]] = {
    "argo-workflows": {
        "controller.nodeSelector": "a label map, rendered whole (templates/controller/workflow-controller-deployment.yaml:122)",
        "controller.pdb.minAvailable": "read when set (templates/controller/workflow-controller-deployment-pdb.yaml:10)",
        "controller.persistence": "rendered whole into the controller's config (templates/controller/"
        "workflow-controller-config-map.yaml:145); its secrets named in the roles (workflow-controller-cluster-roles.yaml:131)",
        "controller.podSecurityContext": "a PodSecurityContext, rendered whole (templates/controller/"
        "workflow-controller-deployment.yaml:33)",
        "controller.resources": "rendered whole (templates/controller/workflow-controller-deployment.yaml:100)",
        "controller.securityContext": "rendered whole (templates/controller/workflow-controller-deployment.yaml:80)",
        "controller.workflowDefaults": "rendered whole (templates/controller/workflow-controller-config-map.yaml:148)",
        "executor.resources": "rendered whole (templates/controller/workflow-controller-config-map.yaml:53)",
        "executor.securityContext": "rendered whole (templates/controller/workflow-controller-config-map.yaml:62)",
        "mainContainer.securityContext": "rendered whole (templates/controller/workflow-controller-config-map.yaml:46)",
        "server.nodeSelector": "a label map, rendered whole (templates/server/server-deployment.yaml:152)",
        "server.pdb.minAvailable": "read when set (templates/server/server-deployment-pdb.yaml:10)",
        "server.podSecurityContext": "rendered whole (templates/server/server-deployment.yaml:41)",
        "server.resources": "rendered whole (templates/server/server-deployment.yaml:125)",
        "server.securityContext": "rendered whole (templates/server/server-deployment.yaml:58)",
    },
    "karpenter": {
        "nodeSelector": "a label map, rendered whole as the pod's nodeSelector (templates/deployment.yaml:218)",
        "controller.resources": "a ResourceRequirements, rendered whole (templates/deployment.yaml:192)",
    },
    "keda": {
        "nodeSelector": "a label map, rendered whole by each deployment (templates/manager/deployment.yaml:225)",
        **{
            f"podSecurityContext.{part}": f"a PodSecurityContext, rendered whole when set (templates/{folder}"
            f"/deployment.yaml:{line})"
            for part, folder, line in (
                ("operator", "manager", 60),
                ("metricServer", "metrics-server", 59),
                ("webhooks", "webhooks", 58),
            )
        },
        **{
            f"securityContext.{part}": f"a container SecurityContext, rendered whole when set (templates/{folder}"
            f"/deployment.yaml:{line})"
            for part, folder, line in (
                ("operator", "manager", 68),
                ("metricServer", "metrics-server", 67),
                ("webhooks", "webhooks", 66),
            )
        },
        **{
            f"podDisruptionBudget.{part}": f"read as podDisruptionBudget.{part}.minAvailable/maxUnavailable "
            f"(templates/{folder}/poddisruptionbudget.yaml:{line}); values.yaml has `podDisruptionBudget: {{}}`"
            for part, folder, line in (
                ("operator", "manager", 22),
                ("metricServer", "metrics-server", 22),
                ("webhooks", "webhooks", 23),
            )
        },
    },
    "aws-load-balancer-controller": {
        "nodeSelector": "a label map, rendered whole (templates/deployment.yaml:240)",
        "podSecurityContext": "a PodSecurityContext, rendered whole (templates/deployment.yaml:57)",
        "securityContext": "a container SecurityContext, rendered whole (templates/deployment.yaml:212)",
        "resources": "a ResourceRequirements, rendered whole (templates/deployment.yaml:230)",
    },
    "metrics-server": {
        "nodeSelector": "a label map, rendered whole (templates/deployment.yaml:144)",
        "securityContext": "a container SecurityContext, rendered whole (templates/deployment.yaml:60)",
        "resources": "a ResourceRequirements, rendered whole (templates/deployment.yaml:95)",
    },
    "nvidia-device-plugin": {
        "nodeSelector": "a label map, rendered whole (templates/daemonset-device-plugin.yml:252)",
        "resources": "a ResourceRequirements, rendered whole (templates/daemonset-device-plugin.yml:221)",
    },
    # Training (components.training), on the training region's cluster only.
    "kueue": {
        "controllerManager.manager.containerSecurityContext": "a container SecurityContext, rendered whole "
        "(templates/manager/manager.yaml:68)",
        "controllerManager.nodeSelector": "a label map, rendered whole (templates/manager/manager.yaml:91)",
    },
    "jupyterhub": {
        "custom.teams": "`custom` holds anything for the hub's extraConfig (values.yaml: custom), read with "
        "z2jh.get_config",
        "hub.config.Authenticator": "hub.config sections are Configurable class names, passed through "
        "(files/hub/jupyterhub_config.py:500)",
        "hub.config.GenericOAuthenticator": "as hub.config.Authenticator (files/hub/jupyterhub_config.py:500)",
        "hub.config.JupyterHub": "as hub.config.Authenticator (files/hub/jupyterhub_config.py:500): loaded after the "
        "chart's own hub_connect_url default, so it wins",
        "hub.config.KubeSpawner": "as hub.config.Authenticator (files/hub/jupyterhub_config.py:500)",
        "hub.extraConfig.team-profiles": "each hub.extraConfig entry is executed (files/hub/jupyterhub_config.py:539)",
        "hub.nodeSelector": "a label map, rendered whole (templates/hub/deployment.yaml:39)",
        "hub.resources": "a ResourceRequirements, rendered whole (templates/hub/deployment.yaml:170)",
        "proxy.chp.nodeSelector": "a label map, rendered whole (templates/proxy/deployment.yaml:50)",
        "proxy.chp.resources": "a ResourceRequirements, rendered whole (templates/proxy/deployment.yaml:115)",
        "singleuser.extraPodConfig": "merged into the single-user pod by KubeSpawner (extra_pod_config, "
        "files/hub/jupyterhub_config.py:177)",
    },
    "aws-efa-k8s-device-plugin": {
        "nodeSelector": "a label map, rendered whole (templates/daemonset.yaml:45)",
        "resources": "a ResourceRequirements, rendered whole (templates/daemonset.yaml:70)",
    },
    "opencost": {
        "podSecurityContext": "a PodSecurityContext, rendered whole (templates/deployment.yaml:40-41)",
        "service.annotations": "an annotation map, rendered whole (templates/service.yaml:11-13)",
        "opencost.nodeSelector": "a label map, rendered whole (templates/deployment.yaml:48-49)",
        "opencost.exporter.resources": "a ResourceRequirements, rendered whole (templates/deployment.yaml:115)",
        "opencost.exporter.securityContext": "a container SecurityContext, rendered whole "
        "(templates/deployment.yaml:143-144)",
        "opencost.sigV4Proxy.resources": "rendered whole (templates/deployment.yaml:470-472)",
        "opencost.sigV4Proxy.securityContext": "rendered whole (templates/deployment.yaml:474-476)",
    },
}
# Installed on a platform with a training section (prod), never on the internet-free fixture or a byo cluster.
TRAINING_CHARTS = {"kueue", "jupyterhub", "aws-efa-k8s-device-plugin"}


def unknown_keys(
    values: dict[str, Any], defaults: Any, accepted: dict[str, str], path: str = ""
) -> Iterator[str]:
    """Key paths of ``values`` absent from the chart's ``defaults`` (its values.yaml), except under ``accepted``.

    A map value is walked into; a list or scalar value is a leaf (Helm replaces it whole).
    """
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        if here in accepted:
            continue
        if not isinstance(defaults, dict) or key not in defaults:
            yield here
            continue
        if isinstance(value, dict):
            yield from unknown_keys(value, defaults[key], accepted, here)


def test_every_key_the_platform_sets_is_a_key_of_the_charts_defaults(prod, airgapped, byo):
    """A values key a chart does not read is silently ignored by Helm: a typo would leave the chart's default in
    force. Every key of every release (prod, the internet-free fixture with mirrored images, a bring-your-own
    cluster) exists in the chart's values.yaml at the pinned version, or is listed above with the template that
    reads it."""
    seen = set()
    for document in (prod, airgapped, byo):
        for name, inputs in releases(document).items():
            found = chart_name(inputs)
            seen.add(found)
            defaults = chart_values(found, inputs["version"])
            assert list(unknown_keys(inputs["values"], defaults, ACCEPTED_BEYOND_DEFAULTS[found])) == [], name
    assert seen == set(ACCEPTED_BEYOND_DEFAULTS)


def test_the_key_walk_fails_on_a_key_the_chart_does_not_have():
    """The check above can fail: a misspelt key, at the top or nested, is reported with its path; a key under an
    accepted path is not."""
    defaults = chart_values("karpenter", "1.5.0")
    accepted = ACCEPTED_BEYOND_DEFAULTS["karpenter"]
    values = {
        "replicas": 2,
        "dnsPolicy": "Default",
        "dnsPolicey": "Default",
        "settings": {"clusterName": "c", "isolatedVpc": True},
        "controller": {"resources": {"requests": {"cpu": "1"}}, "imagePullPolicy": "Always"},
        "nodeSelector": {"any/label": "x"},
    }
    assert list(unknown_keys(values, defaults, accepted)) == [
        "dnsPolicey",
        "settings.isolatedVpc",
        "controller.imagePullPolicy",
    ]
    assert list(unknown_keys({"nodeSelector": {"a": "b"}}, defaults, {})) == ["nodeSelector.a"]


# ---------------------------------------------------------------------------------------------------------
# The NVIDIA device plugin runs on the GPU pools' nodes


def expression_matches(expression: dict[str, Any], labels: dict[str, str]) -> bool:
    """One NodeSelectorRequirement against a node's labels (In, NotIn, Exists, DoesNotExist)."""
    key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    raise AssertionError(f"operator {operator} not evaluated here")


def schedulable_on(pod: dict[str, Any], labels: dict[str, str], taints: list[dict[str, str]]) -> bool:
    """Whether the scheduler may place ``pod`` (a pod spec) on a node with these labels and taints.

    nodeSelector and required node affinity must both hold; the affinity's nodeSelectorTerms are ORed, the
    matchExpressions of a term ANDed (https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/
    #node-affinity). Every NoSchedule taint needs a toleration with the same key and effect (an empty effect
    matches all), `Exists`, or `Equal` (the default) with the same value
    (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/).
    """
    selector = pod.get("nodeSelector") or {}
    if any(labels.get(key) != value for key, value in selector.items()):
        return False
    required = (
        (pod.get("affinity") or {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if required is not None and not any(
        term.get("matchExpressions") and all(expression_matches(e, labels) for e in term["matchExpressions"])
        for term in required["nodeSelectorTerms"]
    ):
        return False

    def tolerated(taint: dict[str, str]) -> bool:
        for toleration in pod.get("tolerations") or []:
            if toleration.get("key") not in (None, taint["key"]):
                continue
            if toleration.get("effect") not in (None, "", taint["effect"]):
                continue
            if toleration.get("operator", "Equal") == "Exists" or toleration.get("value") == taint.get(
                "value"
            ):
                return True
        return False

    return all(tolerated(taint) for taint in taints if taint["effect"] in ("NoSchedule", "NoExecute"))


def pool_nodes(
    document: dict[str, Any], region: str
) -> dict[str, tuple[dict[str, str], list[dict[str, str]]]]:
    """Each NodePool's node labels and taints, as its template gives them (the preview's NodePool inputs)."""
    found = {}
    for state in states(document, NODE_POOL):
        name = state["urn"].rsplit("::", 1)[-1]
        if name.startswith(f"cluster-{region}-pool-"):
            template = state["inputs"]["spec"]["template"]
            found[name.removeprefix(f"cluster-{region}-pool-")] = (
                template["metadata"]["labels"],
                template["spec"].get("taints", []),
            )
    return found


def device_plugin_pod(inputs: dict[str, Any]) -> dict[str, Any]:
    daemonsets = [doc for path, doc in workloads(inputs) if path == "templates/daemonset-device-plugin.yml"]
    assert len(daemonsets) == 1
    return daemonsets[0]["spec"]["template"]["spec"]


@pytest.mark.parametrize("case", ["prod", "airgapped"])
def test_the_nvidia_device_plugin_daemonset_schedules_on_every_gpu_pool_node_and_no_other(case, request):
    """The DaemonSet as Helm renders it (templates/daemonset-device-plugin.yml:252-259 render `nodeSelector` and
    `affinity` whole, lines 260-263 `tolerations`) with the chart's default node affinity, which requires
    nvidia.com/gpu.present=true or node-feature-discovery's labels (values.yaml `affinity`), against the labels
    and taints each NodePool gives its nodes: it runs on the GPU pool's nodes, and on no CPU pool's."""
    document = request.getfixturevalue(case)
    regions = PROD_REGIONS if case == "prod" else AIRGAPPED_REGIONS
    for region in regions:
        pod = device_plugin_pod(releases(document)[f"cluster-{region}-nvidia-device-plugin"])
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert {"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]} in [
            expression for term in terms["nodeSelectorTerms"] for expression in term["matchExpressions"]
        ]
        pools = pool_nodes(document, region)
        gpu = {name for name, (labels, _) in pools.items() if labels.get("mlops.io/accelerator") == "nvidia"}
        assert gpu and gpu != set(pools)
        for name, (labels, taints) in pools.items():
            assert schedulable_on(pod, labels, taints) == (name in gpu), (region, name)


def test_without_the_gpu_present_label_the_charts_default_affinity_keeps_the_plugin_off_gpu_nodes(prod):
    """What the previous values did: `affinity: {}` merged into the default (so the default stayed) and GPU nodes
    without nvidia.com/gpu.present: the DaemonSet's pod fits no node, and GPU pods never get `nvidia.com/gpu`."""
    inputs = dict(releases(prod)["cluster-us-east-1-nvidia-device-plugin"])
    inputs["values"] = {**inputs["values"], "affinity": {}}
    pod = device_plugin_pod(inputs)
    labels, taints = pool_nodes(prod, "us-east-1")["gpu"]
    assert schedulable_on(pod, labels, taints)
    without = {key: value for key, value in labels.items() if key != "nvidia.com/gpu.present"}
    assert not schedulable_on(pod, without, taints)


# ---------------------------------------------------------------------------------------------------------
# Karpenter starts without CoreDNS


def test_karpenter_uses_the_nodes_resolver_so_it_does_not_wait_for_coredns(prod):
    """`dnsPolicy: Default` makes the controller resolve through the node's resolver (the VPC's), so it starts
    before in-cluster DNS runs (Karpenter troubleshooting, "Let Karpenter manage your in-cluster DNS service",
    https://karpenter.sh/docs/troubleshooting/; the chart's default is ClusterFirst, values.yaml `dnsPolicy`,
    rendered by templates/deployment.yaml:50-52). Its release and namespace then need the system nodes and
    admin access but not CoreDNS; the other charts' namespaces still wait for CoreDNS."""
    for region in PROD_REGIONS:
        inputs = releases(prod)[f"cluster-{region}-karpenter"]
        (deployment,) = [doc for path, doc in workloads(inputs) if path == "templates/deployment.yaml"]
        assert deployment["spec"]["template"]["spec"]["dnsPolicy"] == "Default"
        coredns = by_name(prod, f"cluster-{region}-addon-coredns")["urn"]
        nodes = by_name(prod, f"cluster-{region}-system-nodes")["urn"]
        release = by_name(prod, f"cluster-{region}-karpenter")
        namespace = by_name(prod, f"cluster-{region}-ns-karpenter")
        assert namespace["urn"] in release["dependencies"]
        assert coredns not in release["dependencies"] and coredns not in namespace["dependencies"]
        assert nodes in namespace["dependencies"]
        assert any(dep.endswith(f"cluster-{region}-admin-0-policy") for dep in namespace["dependencies"])
        for other in ("keda", "aws-load-balancer-controller"):
            assert coredns in by_name(prod, f"cluster-{region}-ns-{other}")["dependencies"]


# ---------------------------------------------------------------------------------------------------------
# Internet-free: every image a chart renders comes from the account's ECR


def images(inputs: dict[str, Any]) -> list[str]:
    """Every container and init container image of the release's rendered Deployments and DaemonSets."""
    found = []
    for _, doc in workloads(inputs):
        pod = doc["spec"]["template"]["spec"]
        # OpenCost's Deployment renders an empty `initContainers:` (null) when no init container is on.
        found.extend(c["image"] for c in [*(pod.get("initContainers") or []), *pod["containers"]])
    return found


def condition_holds(condition: str, values: dict[str, Any]) -> bool:
    """A Chart.yaml dependency `condition`: the first of its comma-separated paths that resolves to a boolean in
    the values decides; none resolving leaves the subchart enabled
    (https://helm.sh/docs/topics/charts/#tags-and-condition-fields)."""
    for path in condition.split(","):
        value: Any = values
        for key in path.strip().split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return value
    return True


def test_internet_free_charts_render_only_images_from_the_accounts_ecr(airgapped):
    """With no route out, every image the charts render (Helm's templates over the merged values) must come
    through the region's ECR: a values key a chart does not read for its image would leave the public default.
    A chart's subcharts are not stored and their images are not mirrored, so each declared dependency must be
    disabled by its condition under the effective values."""
    for region in AIRGAPPED_REGIONS:
        registry = f"{AIRGAPPED_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/"
        found = releases(airgapped)
        assert {chart_name(inputs) for name, inputs in found.items() if f"-{region}-" in name} == set(
            set(ACCEPTED_BEYOND_DEFAULTS) - PRIMARY_ONLY_CHARTS - INTERNET_ONLY_CHARTS
        ) - TRAINING_CHARTS
        for name, inputs in found.items():
            if f"-{region}-" not in name:
                continue
            rendered_images = images(inputs)
            assert rendered_images, name
            assert [image for image in rendered_images if not image.startswith(registry)] == [], name
            with chart(chart_name(inputs), inputs["version"]) as loaded:
                metadata = loaded.metadata
            assert chart_name(inputs) != "nvidia-device-plugin" or metadata["dependencies"]
            for dependency in metadata.get("dependencies") or []:
                assert not condition_holds(dependency.get("condition", ""), effective_values(inputs)), (
                    name,
                    dependency["name"],
                )


def test_the_image_check_sees_public_images_with_internet(prod):
    """The same rendering over prod (internet, no mirror) finds the charts' public registries: the check above
    can fail."""
    found = {image.split("/", 1)[0] for inputs in releases(prod).values() for image in images(inputs)}
    assert {"public.ecr.aws", "ghcr.io", "registry.k8s.io", "nvcr.io"} <= found


def test_the_device_plugin_subchart_condition_follows_helms_first_boolean_rule():
    """nfd (node-feature-discovery) is enabled by `nfd.enabled,gfd.enabled` (Chart.yaml): values.yaml leaves
    nfd.enabled unset and gfd.enabled false, so the subchart is off unless one is set true."""
    with chart("nvidia-device-plugin", "0.17.2") as nvidia:
        (dependency,) = nvidia.metadata["dependencies"]
        condition = dependency["condition"]
        assert condition == "nfd.enabled,gfd.enabled"
        assert not condition_holds(condition, nvidia.merge_values({}))
        assert condition_holds(condition, nvidia.merge_values({"gfd": {"enabled": True}}))
        assert not condition_holds(
            condition, nvidia.merge_values({"nfd": {"enabled": False}, "gfd": {"enabled": True}})
        )


def test_stored_charts_are_the_pinned_versions_of_every_stack():
    """Each chart the stacks pin is stored at exactly that version (a version bump without new test data fails)."""
    pinned = set()
    for path in [*(REPO / "stacks").glob("Pulumi.*.yaml"), *FIXTURES.glob("Pulumi.*.yaml")]:
        platform = (yaml.safe_load(path.read_text()).get("config") or {}).get("mlops:platform", {})
        for section in (platform.get("cluster"), platform.get("training")):
            for chart_key, version in ((section or {}).get("charts") or {}).items():
                pinned.add(f"{chart_key}-{version}")
    assert pinned and pinned <= {path.name for path in CHARTS.iterdir() if path.is_dir()}
    for folder in pinned:
        name, version = folder.rsplit("-", 1)
        chart(name, version).close()


def test_the_charts_readme_names_the_source_of_every_stored_chart():
    readme = (CHARTS / "README.md").read_text()
    for path in CHARTS.iterdir():
        if path.is_dir():
            assert f"`{path.name}`" in readme, path.name


# ---------------------------------------------------------------------------------------------------------
# EKS managed add-ons: Container Insights pinned like the others


def test_every_eks_managed_addon_runs_the_version_its_stack_file_pins(prod):
    """An add-on version must be one DescribeAddonVersions lists for the cluster's Kubernetes version
    (https://docs.aws.amazon.com/eks/latest/userguide/addon-compat.html, `create-addon --addon-version`); each is
    pinned in the stack file so a deployment never takes whatever EKS offers that day. Every add-on of prod,
    Container Insights' amazon-cloudwatch-observability (created by observability) included, runs the version
    `cluster.addons` pins; v4.10.1-eksbuild.1 is the version listed for Kubernetes 1.33 (awslabs/cdk-eks-blueprints
    lib/addons/cloud-watch-insights/index.ts versionMap, from `aws eks describe-addon-versions`)."""
    raw = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]
    pinned = raw["cluster"]["addons"]
    addons = states(prod, "aws:eks/addon:Addon")
    assert {state["inputs"]["addonName"] for state in addons} == set(pinned)
    for state in addons:
        assert state["inputs"]["addonVersion"] == pinned[state["inputs"]["addonName"]], state["urn"]
    insights = by_name(prod, "observability-us-east-1-container-insights")["inputs"]
    assert insights["addonVersion"] == "v4.10.1-eksbuild.1"


def test_a_stack_without_the_container_insights_version_is_refused_naming_the_key():
    raw = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]
    del raw["cluster"]["addons"]["amazon-cloudwatch-observability"]
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    message = str(caught.value)
    assert "stacks/Pulumi.prod.yaml" in message
    assert "cluster.addons.amazon-cloudwatch-observability" in message


# Managed node group taint effects in the EKS API, as Kubernetes spells them
# (https://docs.aws.amazon.com/eks/latest/userguide/node-taints-managed-node-groups.html).
EKS_TAINT_EFFECTS = {
    "NO_SCHEDULE": "NoSchedule",
    "NO_EXECUTE": "NoExecute",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
}


def test_every_controller_fits_the_tainted_system_nodes_with_its_charts_default_affinity(prod):
    """Each controller Deployment as Helm renders it, the charts' default affinities included (Karpenter's
    values.yaml requires nodes without karpenter.sh/nodepool), fits the system node group: its labels, the
    kubelet's kubernetes.io/os and kubernetes.io/arch (https://kubernetes.io/docs/reference/labels-annotations-
    taints/), and its CriticalAddonsOnly taint. The device plugin is a GPU-node DaemonSet, checked above."""
    for region in PROD_REGIONS:
        group = by_name(prod, f"cluster-{region}-system-nodes")["inputs"]
        labels = {**group["labels"], "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
        taints = [{**taint, "effect": EKS_TAINT_EFFECTS[taint["effect"]]} for taint in group["taints"]]
        assert {taint["key"] for taint in taints} == {"CriticalAddonsOnly"}
        checked = set()
        for name, inputs in releases(prod).items():
            if f"-{region}-" not in name or chart_name(inputs) == "nvidia-device-plugin":
                continue
            for path, doc in workloads(inputs):
                assert doc["kind"] == "Deployment", (name, path)
                assert schedulable_on(doc["spec"]["template"]["spec"], labels, taints), (name, path)
                assert not schedulable_on(
                    doc["spec"]["template"]["spec"], {**labels, "mlops.io/node-role": "x"}, taints
                )
                checked.add(chart_name(inputs))
        assert (
            checked
            == set(ACCEPTED_BEYOND_DEFAULTS)
            - {"nvidia-device-plugin", *TRAINING_CHARTS}
            - PRIMARY_ONLY_CHARTS
        )


# ---------------------------------------------------------------------------------------------------------
# The trust charts (cert-manager, the AWS Private CA issuer, trust-manager): keys and internet-free images

TRUST_CHARTS = {
    "cert-manager": "v1.19.6",
    "aws-privateca-issuer": "v1.9.0",
    "trust-manager": "v0.20.2",
}
# Keys the platform sets on the trust charts that their values.yaml does not list, with the template reading them.
TRUST_ACCEPTED_BEYOND_DEFAULTS: dict[str, dict[str, str]] = {
    "cert-manager": {
        "podDisruptionBudget.minAvailable": "a documented commented key (templates/poddisruptionbudget.yaml:23-24)",
        "webhook.podDisruptionBudget.minAvailable": "templates/webhook-poddisruptionbudget.yaml:23-24",
        "cainjector.podDisruptionBudget.minAvailable": "templates/cainjector-poddisruptionbudget.yaml:23-24",
        "resources": "a ResourceRequirements, rendered whole (templates/deployment.yaml:193); values.yaml `{}`",
        "http_proxy": "a documented commented key (values.yaml:451; templates/deployment.yaml:181)",
        "https_proxy": "templates/deployment.yaml:185",
        "no_proxy": "templates/deployment.yaml:189",
    },
    "aws-privateca-issuer": {
        "securityContext": "a container SecurityContext, rendered whole (templates/deployment.yaml:44-45)",
        "podSecurityContext": "a PodSecurityContext, rendered whole (templates/deployment.yaml:40-41)",
        "env": "a name-to-value map ranged over (templates/deployment.yaml:77-79); values.yaml `env:` (null)",
    },
    "trust-manager": {
        "podDisruptionBudget.minAvailable": "a documented commented key (templates/poddisruptionbudget.yaml)",
    },
}


@pytest.fixture(scope="module")
def private(synth) -> dict[str, Any]:
    return synth("private-network", FIXTURES)


def trust_values(chart_: str, mirror: str | None, proxy: dict[str, str]) -> dict[str, Any]:
    """The values the trust component gives a chart (components/trust/charts.py), as ClusterTrust passes them."""
    from components.trust.charts import cert_manager_values, pca_issuer_values, trust_manager_values

    if chart_ == "cert-manager":
        return cert_manager_values(proxy, mirror)
    if chart_ == "aws-privateca-issuer":
        return pca_issuer_values(proxy, mirror)
    return trust_manager_values(mirror)


def test_every_key_the_platform_sets_on_the_trust_charts_is_a_key_of_their_defaults(private):
    """As for the cluster's charts above: every key of the trust releases (with the proxy) exists in the chart's
    values.yaml at the pinned version; and with a mirror (internet-free) too."""
    seen = set()
    for name, inputs in releases(private).items():
        found = chart_name(inputs)
        if found not in TRUST_CHARTS:
            continue
        seen.add(found)
        defaults = chart_values(found, inputs["version"])
        assert list(unknown_keys(inputs["values"], defaults, TRUST_ACCEPTED_BEYOND_DEFAULTS[found])) == [], (
            name
        )
    assert seen == set(TRUST_CHARTS)
    mirror = f"{AIRGAPPED_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
    for found, version in TRUST_CHARTS.items():
        values = trust_values(found, mirror, {})
        assert (
            list(unknown_keys(values, chart_values(found, version), TRUST_ACCEPTED_BEYOND_DEFAULTS[found]))
            == []
        )
    # The walk can fail on these charts too.
    assert list(unknown_keys({"crds": {"enable": True}}, chart_values("cert-manager", "v1.19.6"), {})) == [
        "crds.enable"
    ]


def test_internet_free_trust_charts_render_only_images_from_the_accounts_ecr():
    """Internet-free platforms may have a private CA (only egress-proxy contradicts internet-free): Helm's render of
    each trust chart with the component's mirrored values pulls every container image from the region's ECR
    (cert-manager and trust-manager from the `copies/` the README asks to fill, the issuer through the
    `ecr-public` pull-through rule), and tests/data/chart_images.yaml says the same."""
    from tests.components.test_internet_free import effective_images

    mirror = f"{AIRGAPPED_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
    for found, version in TRUST_CHARTS.items():
        values = trust_values(found, mirror, {})
        inputs = {
            "chart": found,
            "version": version,
            "values": values,
            "name": found,
            "namespace": "cert-manager",
        }
        rendered_images = images(inputs)
        assert rendered_images, found
        assert [image for image in rendered_images if not image.startswith(f"{mirror}/")] == [], found
        recorded = effective_images(found, values)
        assert recorded and all(image.startswith(f"{mirror}/") for image in recorded), (found, recorded)
    # With internet the same charts render their public registries: the check can fail.
    public = [
        image
        for found, version in TRUST_CHARTS.items()
        for image in images(
            {
                "chart": found,
                "version": version,
                "values": trust_values(found, None, {}),
                "name": found,
                "namespace": "cert-manager",
            }
        )
    ]
    assert {image.split("/", 1)[0] for image in public} == {"quay.io", "public.ecr.aws"}


# ---------------------------------------------------------------------------------------------------------
# OpenCost (cost.opencost): the region's workspace through the SigV4 proxy, in-cluster only


def opencost_objects(
    prod: dict[str, Any], region: str
) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    inputs = releases(prod)[f"opencost-{region}-release"]
    assert (chart_name(inputs), inputs["version"], inputs["namespace"]) == ("opencost", "2.5.17", "opencost")
    assert inputs["repositoryOpts"]["repo"] == "https://opencost.github.io/opencost-helm-chart"
    return inputs, rendered(inputs)


def test_opencost_queries_the_regions_workspace_through_the_charts_sigv4_proxy(prod):
    """The chart's AMP mode (opencost-helm-chart opencost-2.5.17 values.yaml `opencost.prometheus.amp`,
    templates/_helpers.tpl `opencost.prometheusServerEndpoint`, templates/deployment.yaml `sigv4proxy`) points
    OpenCost at `http://localhost:<proxy port>/workspaces/<id>`; the proxy (awslabs/aws-sigv4-proxy, flags
    `--name --region --host --port`) signs for service `aps` at the region's `aps-workspaces` host, the AMP query
    endpoint (https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-onboard-query-APIs.html). Only one
    Prometheus mode may be on (`isPrometheusConfigValid`), so the chart's in-cluster default is off."""
    from components.cost.opencost import SIGV4_PROXY_IMAGE

    for region in PROD_REGIONS:
        workspace = by_name(prod, f"observability-{region}-prometheus")["id"]
        inputs, objects = opencost_objects(prod, region)
        merged = effective_values(inputs)["opencost"]["prometheus"]
        assert (merged["amp"], merged["internal"]["enabled"]) == (
            {"enabled": True, "workspaceId": workspace},
            False,
        )
        (deployment,) = [doc for _, doc in objects if doc["kind"] == "Deployment"]
        containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
        assert set(containers) == {"opencost", "sigv4proxy"}  # no UI
        env = {e["name"]: e.get("value") for e in containers["opencost"]["env"]}
        assert env["PROMETHEUS_SERVER_ENDPOINT"] == f"http://localhost:8005/workspaces/{workspace}"
        assert env["CLUSTER_ID"] == f"mlops-prod-{region}"
        assert env["MCP_SERVER_ENABLED"] == "false"
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DB_BEARER_TOKEN"} & set(env)
        proxy = containers["sigv4proxy"]
        assert proxy["image"] == SIGV4_PROXY_IMAGE and not proxy["image"].endswith(":latest")
        assert proxy["args"] == [
            "--name",
            "aps",
            "--region",
            region,
            "--host",
            f"aps-workspaces.{region}.amazonaws.com",
            "--port",
            ":8005",
        ]


def test_opencost_service_account_is_the_one_its_pod_identity_association_names(prod):
    """EKS Pod Identity gives a role to pods of one namespace and service account
    (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-association.html): the chart's ServiceAccount, the
    Deployment's serviceAccountName and the association agree, and the release waits for the association (a pod
    gets credentials only if it exists when the pod starts). The role is pinned to this cluster's pods and may
    only read this region's workspace."""
    for region in PROD_REGIONS:
        _, objects = opencost_objects(prod, region)
        (account,) = [doc for _, doc in objects if doc["kind"] == "ServiceAccount"]
        (deployment,) = [doc for _, doc in objects if doc["kind"] == "Deployment"]
        association = by_name(prod, f"opencost-{region}-identity")
        assert (association["inputs"]["namespace"], association["inputs"]["serviceAccount"]) == (
            account["metadata"]["namespace"],
            account["metadata"]["name"],
        )
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
        assert association["inputs"]["clusterName"] == f"mlops-prod-{region}"
        release = by_name(prod, f"opencost-{region}-release")
        assert association["urn"] in release["dependencies"]
        assert by_name(prod, f"opencost-{region}-policy")["urn"] in release["dependencies"]
        role = by_name(prod, f"opencost-{region}-role")["inputs"]
        assert (
            role["permissionsBoundary"]
            == by_name(prod, f"cluster-{region}-keda-role")["inputs"]["permissionsBoundary"]
        )
        trust = json.loads(role["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "pods.eks.amazonaws.com"}]
        assert trust[0]["Condition"]["StringEquals"]["aws:RequestTag/eks-cluster-arn"].endswith(
            f":cluster/mlops-prod-{region}"
        )
        policy = json.loads(by_name(prod, f"opencost-{region}-policy")["inputs"]["policy"])
        # The workspace's ARN as KEDA's query policy names it (the preview records inputs, not outputs).
        keda = json.loads(by_name(prod, f"observability-{region}-keda-query")["inputs"]["policy"])
        workspace_arn = keda["Statement"][0]["Resource"]
        workspace_id = by_name(prod, f"observability-{region}-prometheus")["id"]
        assert workspace_arn == f"arn:aws:aps:{region}:333333333333:workspace/{workspace_id}"
        assert policy["Statement"] == [
            {
                "Sid": "QueryThisRegionsWorkspace",
                "Effect": "Allow",
                "Action": ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"],
                "Resource": workspace_arn,
            }
        ]


def test_opencost_is_a_cluster_ip_service_with_no_ingress_and_admits_only_in_cluster_clients(prod):
    """Reachable only inside the cluster: a ClusterIP Service (no node port or load balancer,
    https://kubernetes.io/docs/concepts/services-networking/service/#type-clusterip), no Ingress, HTTPRoute or
    Route, and NetworkPolicies that deny by default and admit the API port only from pods of the cluster and
    its private subnets (the managed collector's ENIs), since the VPC CNI enforces NetworkPolicies."""
    kinds_to_refuse = {"Ingress", "HTTPRoute", "Route"}
    for region in PROD_REGIONS:
        _, objects = opencost_objects(prod, region)
        (service,) = [doc for _, doc in objects if doc["kind"] == "Service"]
        assert service["spec"]["type"] == "ClusterIP"
        assert [p["port"] for p in service["spec"]["ports"]] == [9003]
        assert service["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9003",
        }
        assert not kinds_to_refuse & {doc["kind"] for _, doc in objects}
        assert not [
            doc for _, doc in objects if doc["kind"] == "NetworkPolicy"
        ]  # the chart's is for in-cluster Prometheus
        policies = {
            state["inputs"]["metadata"]["name"]: state["inputs"]["spec"]
            for state in states(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
            if state["urn"].rsplit("::", 1)[-1].startswith(f"opencost-{region}-")
        }
        assert set(policies) == {"default-deny", "allow-in-cluster-clients", "allow-egress"}
        assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        (rule,) = policies["allow-in-cluster-clients"]["ingress"]
        assert rule["ports"] == [{"port": 9003, "protocol": "TCP"}]
        assert rule["from"][0] == {"namespaceSelector": {}}
        cidr = "10.30.0.0/16" if region == "us-east-1" else "10.31.0.0/16"
        private = [peer["ipBlock"]["cidr"] for peer in rule["from"][1:]]
        assert len(private) == 3 and all(c.startswith(cidr.rsplit(".", 2)[0] + ".") for c in private)
        egress = policies["allow-egress"]["egress"]
        assert {"ipBlock": {"cidr": "169.254.170.23/32"}} in [peer for r in egress for peer in r["to"]]
        assert {"ipBlock": {"cidr": "0.0.0.0/0", "except": [cidr]}} in egress[-1]["to"]


def test_opencost_pods_meet_the_restricted_pod_security_standard_on_the_system_nodes(prod):
    """The namespace enforces `restricted` (https://kubernetes.io/docs/concepts/security/pod-security-standards/
    #restricted): non-root, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault; plus the
    platform's read-only root (OpenCost's /var/configs is an emptyDir), requests and limits on both containers,
    and the system nodes' selector and toleration. The rendered objects are valid Kubernetes 1.33 objects."""
    import kubernetes_validate

    for region in PROD_REGIONS:
        _, objects = opencost_objects(prod, region)
        for _, doc in objects:
            kubernetes_validate.validate(doc, "1.33.0", strict=True)
        (deployment,) = [doc for _, doc in objects if doc["kind"] == "Deployment"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["nodeSelector"] == {"mlops.io/node-role": "system"}
        assert pod["tolerations"] == [
            {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}
        ]
        assert "initContainers" not in pod or pod["initContainers"] in (None, [])
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, container["name"]
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True and context["runAsUser"] >= 10000
            assert set(container["resources"]) == {"requests", "limits"}
            assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/var/configs"]]
        namespace = by_name(prod, f"opencost-{region}-ns-opencost")["inputs"]["metadata"]["labels"]
        assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
