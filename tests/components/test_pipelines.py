"""Pipelines (Argo Workflows) and inference graphs: config checks, the chart's effective values by Helm's own merge,
custom resources against closed schemas written from the upstream CRDs, SSO RBAC, the workflow identity, and
property-based graph validation.

Upstream sources: chart argo-workflows 0.45.15 (argoproj/argo-helm, tests/data/charts/argo-workflows-0.45.15),
argo-workflows v3.6.7 (docs and manifests/base/crds/full, tests/schemas/argo-workflows-v3.6.7.json), kserve
v0.15.2 (config/crd/full, tests/schemas/kserve-v0.15.2.json; cmd/router/main.go).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import parse_platform, parse_team
from components.configbase import KeyedValueError
from components.loader import ConfigError
from components.pipelines.config import GraphSpec, PipelineTemplate, check_pipelines, find_cycle, graph_errors
from components.pipelines.graphs import inference_graph
from components.pipelines.team import KUEUE_QUEUE_LABEL, workflow_access_policy, workflow_template
from policies.pack import environment_config
from tests.components.test_chart_values import CHARTS, chart, effective_values, releases, rendered
from tests.conftest import STACKS, by_name, states
from tests.iam_lint import Document, parliament_findings
from tests.kube import manifests
from tests.policies.cases import CASES, document
from tests.policies.validate import analyze_in_process

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
ARGO = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "argo-workflows-v3.6.7.json").read_text()))
KSERVE = jsonschema.Draft202012Validator(json.loads((SCHEMAS / "kserve-v0.15.2.json").read_text()))
PROD_OIDC_ISSUER = "https://example.okta.com/oauth2/default"
MODELS = ["scorer", "embedder"]


@pytest.fixture(scope="module")
def prod(synth) -> dict[str, Any]:
    return synth("prod")


@pytest.fixture(scope="module")
def team(synth) -> dict[str, Any]:
    return synth("team-fraud-prod")


def argo_release(prod) -> dict[str, Any]:
    return releases(prod)["pipelines-release"]


def raw(stack: str, key: str) -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"][key])


# ---------------------------------------------------------------------------------------------------------
# The chart: effective values (Helm's merge of the pinned chart's values.yaml with the release's values)


def test_the_release_pins_the_stored_chart(prod):
    inputs = argo_release(prod)
    assert (inputs["chart"], inputs["version"], inputs["namespace"]) == ("argo-workflows", "0.45.15", "argo")
    assert inputs["repositoryOpts"] == {"repo": "https://argoproj.github.io/argo-helm"}
    with chart("argo-workflows", "0.45.15") as loaded:
        assert loaded.version == "0.45.15"
    app = yaml.safe_load((CHARTS / "argo-workflows-0.45.15" / "Chart.yaml").read_text())["appVersion"]
    assert app == "v3.6.7"
    assert "argoproj/argo-workflows v3.6.7" in ARGO.schema["$comment"]


def test_the_server_authenticates_with_sso_only_never_server_mode(prod):
    """docs/argo-server-auth-mode.md (v3.6.7): `server` mode uses the server's own service account for every
    request; only `sso` is enabled, and the rendered server runs `--auth-mode=sso` alone."""
    values = effective_values(argo_release(prod))
    assert values["server"]["authModes"] == ["sso"]
    assert values["server"]["authMode"] in ("", None)
    [server] = [doc for path, doc in rendered(argo_release(prod)) if path.endswith("server-deployment.yaml")]
    args = server["spec"]["template"]["spec"]["containers"][0]["args"]
    assert [a for a in args if a.startswith("--auth-mode")] == ["--auth-mode=sso"]
    assert "--secure=false" in args  # TLS ends at the internal ALB


def test_sso_uses_the_platform_oidc_issuer_and_the_client_secret_with_group_rbac(prod):
    """docs/argo-server-sso.md (v3.6.7) "SSO RBAC": `rbac.enabled` and the `groups` scope; the client id and
    secret are read from a Secret in the server's namespace (chart values.yaml server.sso.clientId/clientSecret)."""
    sso = effective_values(argo_release(prod))["server"]["sso"]
    assert sso["enabled"] is True
    assert sso["issuer"] == PROD_OIDC_ISSUER
    assert sso["clientId"] == {"name": "argo-oidc", "key": "clientID"}
    assert sso["clientSecret"] == {"name": "argo-oidc", "key": "clientSecret"}
    assert sso["rbac"]["enabled"] is True
    assert "groups" in sso["scopes"]
    assert sso["redirectUrl"] == "https://argo.prod.mlops.internal/oauth2/callback"
    secret = by_name(prod, "pipelines-signin-client")["inputs"]
    assert secret["metadata"] == {
        "name": "argo-oidc",
        "namespace": "argo",
        "labels": {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "argo-workflows"},
    }
    config = next(
        d for p, d in rendered(argo_release(prod)) if p.endswith("workflow-controller-config-map.yaml")
    )
    rendered_sso = yaml.safe_load(config["data"]["config"])["sso"]
    assert rendered_sso["rbac"] == {"enabled": True} and rendered_sso["issuer"] == PROD_OIDC_ISSUER


def test_sso_rbac_is_delegated_to_namespaces_with_a_login_account_of_lowest_precedence(prod, team):
    """docs/argo-server-sso.md (v3.6.7) "SSO RBAC Namespace Delegation": SSO_DELEGATE_RBAC_TO_NAMESPACE=true on the
    server; every user must map to an account in the installation namespace first (rule "true", precedence 0), and
    a namespace account of higher precedence applies in its namespace."""
    env = effective_values(argo_release(prod))["server"]["extraEnv"]
    assert {"name": "SSO_DELEGATE_RBAC_TO_NAMESPACE", "value": "true"} in env
    login = by_name(prod, "pipelines-login")["inputs"]["metadata"]
    assert login["namespace"] == "argo"
    assert login["annotations"] == {
        "workflows.argoproj.io/rbac-rule": "true",
        "workflows.argoproj.io/rbac-rule-precedence": "0",
    }
    sso = by_name(team, "fraud-pipelines-sso")["inputs"]["metadata"]
    assert (sso["name"], sso["namespace"]) == ("fraud-sso", "team-fraud")
    assert sso["annotations"]["workflows.argoproj.io/rbac-rule"] == "'fraud-ml-engineers' in groups"
    assert int(sso["annotations"]["workflows.argoproj.io/rbac-rule-precedence"]) > 0
    binding = by_name(team, "fraud-pipelines-sso-binding")["inputs"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "fraud-sso", "namespace": "team-fraud"}]
    assert binding["roleRef"]["name"] == "fraud-sso-workflows"
    # No account is bound to any role in the installation namespace: login alone grants nothing.
    assert not [
        s for s in states(prod, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding") if "login" in s["urn"]
    ]


def test_sso_accounts_have_their_token_secret_named_after_them(prod, team):
    """docs/service-account-secrets.md (v3.6.7): since Kubernetes 1.24 the token Secret is created by hand, found
    by the name `<service account>.service-account-token`, typed kubernetes.io/service-account-token."""
    for document_, resource, account, namespace in (
        (prod, "pipelines-login-token", "user-default-login", "argo"),
        (team, "fraud-pipelines-sso-token", "fraud-sso", "team-fraud"),
    ):
        secret = by_name(document_, resource)["inputs"]
        assert secret["type"] == "kubernetes.io/service-account-token"
        assert secret["metadata"]["name"] == f"{account}.service-account-token"
        assert secret["metadata"]["namespace"] == namespace
        assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": account}


def test_workflow_defaults_limit_parallelism_ttl_and_pod_gc(prod):
    """docs/default-workflow-specs.md and chart values.yaml controller.workflowDefaults, parallelism and
    namespaceParallelism (v3.6.7)."""
    controller = effective_values(argo_release(prod))["controller"]
    assert (controller["parallelism"], controller["namespaceParallelism"]) == (100, 20)
    spec = controller["workflowDefaults"]["spec"]
    assert spec["ttlStrategy"] == {
        "secondsAfterCompletion": 86400,
        "secondsAfterSuccess": 86400,
        "secondsAfterFailure": 86400,
    }
    assert spec["podGC"] == {"strategy": "OnPodCompletion", "deleteDelayDuration": "60s"}
    assert spec["parallelism"] == 5 and spec["activeDeadlineSeconds"] == 86400
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] >= 10000


def test_the_archive_is_postgresql_over_tls_in_its_own_database_with_credentials_from_a_secret(prod):
    """docs/workflow-archive.md and chart values.yaml controller.persistence (v3.6.7): the user and password come
    from a Secret in the controller's namespace."""
    persistence = effective_values(argo_release(prod))["controller"]["persistence"]
    database = by_name(prod, "registry-db")["inputs"]
    assert persistence["archive"] is True
    postgresql = persistence["postgresql"]
    assert postgresql["database"] == "argo_archive" != database["dbName"]
    assert postgresql["host"].startswith("mlops-prod-mlflow.")
    assert (postgresql["ssl"], postgresql["sslMode"]) == (True, "require")
    assert postgresql["userNameSecret"] == {"name": "argo-archive-db", "key": "username"}
    assert postgresql["passwordSecret"] == {"name": "argo-archive-db", "key": "password"}
    secret = by_name(prod, "pipelines-archive-secret")
    assert secret["inputs"]["metadata"]["namespace"] == "argo"
    # The whole stringData is a Pulumi secret (it holds the drawn password): never in the preview in clear.
    assert secret["inputs"]["stringData"]["value"] == "[secret]"


def test_the_archive_bootstrap_job_reads_only_the_managed_master_secret(prod):
    """The Job's role may read the RDS-managed master secret and decrypt it through Secrets Manager, nothing else;
    the release waits for the Job, the Job for its Pod Identity association."""
    job = by_name(prod, "pipelines-archive-job")
    association = by_name(prod, "pipelines-archive-identity")
    assert association["urn"] in job["dependencies"]
    assert job["urn"] in by_name(prod, "pipelines-release")["dependencies"]
    assert (association["inputs"]["namespace"], association["inputs"]["serviceAccount"]) == (
        "argo",
        "argo-archive-bootstrap",
    )
    policy = json.loads(by_name(prod, "pipelines-archive-policy")["inputs"]["policy"])
    assert [s["Action"] for s in policy["Statement"]] == ["secretsmanager:GetSecretValue", "kms:Decrypt"]
    assert parliament_findings(_doc(policy)) == []
    pod = job["inputs"]["spec"]["template"]["spec"]
    assert (
        pod["serviceAccountName"] == "argo-archive-bootstrap" and pod["automountServiceAccountToken"] is False
    )
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert env == {"AWS_REGION", "DB_HOST", "DB_SECRET_ARN", "ARCHIVE_PASSWORD"}


def test_controller_and_server_run_hardened_on_the_system_nodes(prod):
    """Placement like the platform's other controllers (components/cluster/charts.py SYSTEM_SCHEDULING): the
    system node label and the system taint's toleration; chart defaults merged key by key keep kubernetes.io/os."""
    values = effective_values(argo_release(prod))
    for part in ("controller", "server"):
        assert values[part]["nodeSelector"]["mlops.io/node-role"] == "system"
        assert {"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"} in values[part][
            "tolerations"
        ]
        context = values[part]["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]} and context["runAsUser"] >= 10000
    assert values["server"]["serviceType"] == "ClusterIP"
    assert values["useStaticCredentials"] is False


def test_the_server_is_behind_the_internal_alb_with_sign_in_in_the_lb_tier(prod):
    ingress = by_name(prod, "pipelines-server-ingress")["inputs"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/auth-type"] == "oidc"
    assert json.loads(annotations["alb.ingress.kubernetes.io/auth-idp-oidc"])["secretName"] == "argo-oidc"
    assert ingress["metadata"]["labels"]["mlops.platform/purpose"] == "platform-ui"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "argo-workflows-server", "port": {"number": 2746}}
    # The Service the chart renders carries exactly that name and port.
    [service] = [d for p, d in rendered(argo_release(prod)) if p.endswith("server-service.yaml")]
    assert (service["metadata"]["name"], service["spec"]["ports"][0]["port"]) == (
        "argo-workflows-server",
        2746,
    )
    lb_subnets = by_name(prod, "pipelines-netpol-allow-server-from-alb")["inputs"]["spec"]["ingress"][0][
        "from"
    ]
    assert all(peer["ipBlock"]["cidr"].startswith("10.30.") for peer in lb_subnets)


def test_the_server_policy_selects_the_pods_the_chart_renders(prod):
    [server] = [d for p, d in rendered(argo_release(prod)) if p.endswith("server-deployment.yaml")]
    labels = server["spec"]["template"]["metadata"]["labels"]
    selector = by_name(prod, "pipelines-netpol-allow-server-from-alb")["inputs"]["spec"]["podSelector"][
        "matchLabels"
    ]
    assert selector.items() <= labels.items()


# ---------------------------------------------------------------------------------------------------------
# Team: identity, artifact repository, WorkflowTemplate


def test_the_workflow_role_reaches_the_teams_prefixes_only_and_passes_parliament(team):
    policy = json.loads(by_name(team, "fraud-pipelines-workflow-policy")["inputs"]["policy"])
    resources = {
        r
        for s in policy["Statement"]
        for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    objects = sorted(r.split(":::", 1)[1].split("/", 1)[1] for r in resources if ":::" in r and "/" in r)
    # prod serves data through the platform (its `data` section): the team's data prefixes come from the platform's
    # data policies and Access Grants, never as a direct statement, so the workflows reach their pipeline prefix only.
    assert objects == ["pipelines/fraud/*"]
    writes = next(s for s in policy["Statement"] if s["Sid"] == "WriteOwnPrefixes")["Resource"]
    assert sorted(r.split("/", 1)[1] for r in writes) == ["pipelines/fraud/*"]
    assert parliament_findings(_doc(policy)) == []
    association = by_name(team, "fraud-pipelines-workflow-identity")["inputs"]
    assert (association["namespace"], association["serviceAccount"]) == ("team-fraud", "workflow")
    trust = json.loads(by_name(team, "fraud-pipelines-workflow-role")["inputs"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def _doc(policy: dict[str, Any]) -> Document:
    return Document("test", "aws:iam/rolePolicy:RolePolicy", "policy", "identity", policy)


def test_the_artifact_repository_is_keyless_under_the_teams_prefix(team):
    """docs/artifact-repository-ref.md (v3.6.7): the `artifact-repositories` ConfigMap in the workflow's namespace,
    its default key named by the workflows.argoproj.io/default-artifact-repository annotation; `useSDKCreds` makes
    the executor use the pod's AWS credentials (Pod Identity), so no access key Secret exists."""
    config = by_name(team, "fraud-pipelines-artifact-repositories")["inputs"]
    assert config["metadata"]["name"] == "artifact-repositories"
    assert config["metadata"]["annotations"] == {
        "workflows.argoproj.io/default-artifact-repository": "default-v1"
    }
    repository = yaml.safe_load(config["data"]["default-v1"])
    s3 = repository["s3"]
    assert s3["useSDKCreds"] is True
    assert not {"accessKeySecret", "secretKeySecret"} & set(s3)
    assert s3["keyFormat"] == "pipelines/fraud/{{workflow.name}}/{{pod.name}}"
    assert s3["region"] == "us-east-1" and s3["encryptionOptions"]["enableEncryption"] is True


def test_the_executor_role_is_the_documented_minimum(team):
    """docs/workflow-rbac.md (v3.6.7): for >= v3.4 the executor needs create and patch on workflowtaskresults."""
    role = by_name(team, "fraud-pipelines-executor-role")["inputs"]
    assert role["rules"] == [
        {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}
    ]
    binding = by_name(team, "fraud-pipelines-executor-binding")["inputs"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "workflow", "namespace": "team-fraud"}]


def workflow_templates(document_: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in manifests(document_) if m.get("kind") == "WorkflowTemplate"]


def test_the_example_pipeline_matches_the_upstream_workflowtemplate_crd(team):
    [template] = workflow_templates(team)
    errors = [e.message for e in ARGO.iter_errors(template)]
    assert errors == []
    tasks = template["spec"]["templates"][0]["dag"]["tasks"]
    assert [(t["name"], t.get("dependencies")) for t in tasks] == [
        ("prepare", None),
        ("train", ["prepare"]),
        ("evaluate", ["train"]),
        ("register", ["evaluate"]),
    ]
    register = template["spec"]["templates"][-1]["container"]
    env = {e["name"]: e["value"] for e in register["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow.mlflow.svc.cluster.local:5000"
    assert env["MODEL_NAME"] == "fraud-scorer"
    assert template["spec"]["serviceAccountName"] == "workflow"


def test_a_misspelt_workflowtemplate_field_is_rejected(team):
    [template] = workflow_templates(team)
    broken = copy.deepcopy(template)
    broken["spec"]["templates"][1]["containr"] = broken["spec"]["templates"][1].pop("container")
    assert not ARGO.is_valid(broken)


def test_without_a_local_queue_workflow_pods_carry_no_kueue_label(team):
    [template] = workflow_templates(team)
    assert KUEUE_QUEUE_LABEL not in template["spec"]["podMetadata"]["labels"]


def test_a_local_queue_labels_every_workflow_pod_as_kueue_documents():
    """Kueue "Run An Argo Workflow" (site/content/en/docs/tasks/run/external_workloads/argo_workflow.md):
    the queue label in `spec.podMetadata` targets one LocalQueue for the whole workflow; `spec.templates[].
    metadata` per template. Both are set, and the object still matches the upstream CRD."""
    template = PipelineTemplate.model_validate({"name": "t", "image": "r.example/i:1", "model": "scorer"})
    obj = workflow_template(
        template,
        team="fraud",
        namespace="team-fraud",
        mlflow_url="http://m",
        local_queue="fraud-training",
        labels={},
    )
    assert obj["spec"]["podMetadata"]["labels"][KUEUE_QUEUE_LABEL] == "fraud-training"
    steps = [t for t in obj["spec"]["templates"] if "container" in t]
    assert [t["metadata"]["labels"][KUEUE_QUEUE_LABEL] for t in steps] == ["fraud-training"] * 4
    assert ARGO.is_valid(obj)


def test_the_team_spec_local_queue_reaches_the_template(tmp_path):
    spec = raw("team-fraud-prod", "mlops:team")
    spec["pipelines"]["local-queue"] = "fraud-training"
    assert parse_team(spec, "x").pipelines.local_queue == "fraud-training"


# ---------------------------------------------------------------------------------------------------------
# Inference graphs


def router_graph(document_: dict[str, Any], region: str) -> dict[str, Any]:
    deployment = by_name(document_, f"fraud-graph-fraud-check-{region}-deployment")["inputs"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "--graph-json"
    return json.loads(args[1])


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
def test_the_two_model_graph_is_an_inference_graph_of_the_upstream_crd(team, region):
    """The router reads its graph from --graph-json as an InferenceGraphSpec (kserve v0.15.2 cmd/router/main.go);
    that spec inside an InferenceGraph object matches the closed schema of the upstream CRD."""
    spec = router_graph(team, region)
    obj = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": "fraud-check"},
        "spec": spec,
    }
    assert [e.message for e in KSERVE.iter_errors(obj)] == []
    root = spec["nodes"]["root"]
    assert root["routerType"] == "Sequence"
    assert [(s["name"], s["serviceUrl"], s.get("data")) for s in root["steps"]] == [
        ("embedder", "http://embedder.team-fraud.svc.cluster.local:8080/predict", None),
        ("scorer", "http://scorer.team-fraud.svc.cluster.local:8080/predict", "$response"),
    ]


def test_the_router_runs_hardened_on_kserves_port_and_readiness_path(team):
    """kserve v0.15.2 pkg/constants/constants.go: RouterPort 8080, RouterReadinessEndpoint /readyz."""
    pod = by_name(team, "fraud-graph-fraud-check-us-east-1-deployment")["inputs"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["image"].startswith("333333333333.dkr.ecr.us-east-1.amazonaws.com/kserve/router@sha256:")
    assert pod["automountServiceAccountToken"] is False
    policy = by_name(team, "fraud-graph-fraud-check-us-east-1-netpol")["inputs"]["spec"]
    [rule] = policy["egress"]
    assert rule["to"][0]["podSelector"]["matchExpressions"] == [
        {"key": "app", "operator": "In", "values": ["embedder", "scorer"]}
    ]


def test_a_misspelt_inference_graph_field_is_rejected(team):
    spec = router_graph(team, "us-east-1")
    spec["nodes"]["root"]["routertype"] = spec["nodes"]["root"].pop("routerType")
    obj = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "InferenceGraph", "metadata": {}, "spec": spec}
    assert not KSERVE.is_valid(obj)


names = st.sampled_from(["a", "b", "c", "d", "e"])
step_target = st.one_of(
    st.builds(lambda m: {"model": m}, st.sampled_from([*MODELS, "ghost"])),
    st.builds(lambda g: {"graph": g}, names),
)


@st.composite
def graph_sets(draw):
    chosen = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    graphs = []
    for name in chosen:
        kind = draw(st.sampled_from(["sequence", "ensemble", "splitter", "switch"]))
        steps = draw(st.lists(step_target, min_size=2, max_size=4))
        if kind == "splitter":
            weights = [100 // len(steps)] * len(steps)
            weights[0] += 100 - sum(weights)
            steps = [{**s, "weight": w} for s, w in zip(steps, weights, strict=True)]
        if kind == "switch":
            steps = [{**s, "condition": f"instances.{i}"} for i, s in enumerate(steps)]
        graphs.append(GraphSpec.model_validate({"name": name, "type": kind, "steps": steps}))
    return graphs


def closure_has_cycle(graphs: list[GraphSpec]) -> bool:
    """An independent oracle: a graph reaches itself in the transitive closure (Warshall's algorithm)."""
    nodes = [g.name for g in graphs]
    reach = {(g.name, s.graph) for g in graphs for s in g.steps if s.graph in nodes}
    for k in nodes:
        for i in nodes:
            for j in nodes:
                if (i, k) in reach and (k, j) in reach:
                    reach.add((i, j))
    return any((n, n) in reach for n in nodes)


@settings(max_examples=200, deadline=None)
@given(graph_sets())
def test_random_graphs_with_unknown_nodes_or_cycles_are_refused_and_valid_ones_build(graphs):
    names_ = {g.name for g in graphs}
    unknown = any(
        (s.model is not None and s.model not in MODELS) or (s.graph is not None and s.graph not in names_)
        for g in graphs
        for s in g.steps
    )
    cyclic = closure_has_cycle(graphs)
    problem = graph_errors(graphs, MODELS)
    assert (problem is None) == (not unknown and not cyclic)
    if problem is not None:
        assert "\n" not in problem[1]
        if not unknown:
            assert "makes a cycle" in problem[1]
        return
    for graph in graphs:
        obj = inference_graph(graph.name, graphs, "team-fraud", {"scorer": 8080, "embedder": 9000}, {})
        assert KSERVE.is_valid(obj)
        nodes = obj["spec"]["nodes"]
        referenced = {s["nodeName"] for n in nodes.values() for s in n["steps"] if "nodeName" in s}
        assert referenced <= set(nodes) - {"root"}  # every node a step names exists
        assert nodes["root"]["routerType"] == graph.type.capitalize()
        urls = {s["serviceUrl"] for n in nodes.values() for s in n["steps"] if "serviceUrl" in s}
        assert urls <= {
            "http://scorer.team-fraud.svc.cluster.local:8080/predict",
            "http://embedder.team-fraud.svc.cluster.local:9000/predict",
        }


def test_find_cycle_returns_the_path_back_to_its_start():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None


# ---------------------------------------------------------------------------------------------------------
# One-line config errors


def team_error(change) -> str:
    spec = raw("team-fraud-prod", "mlops:team")
    change(spec)
    with pytest.raises(ConfigError) as caught:
        parse_team(spec, "stacks/Pulumi.team-fraud-prod.yaml")
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix("stacks/Pulumi.team-fraud-prod.yaml: ")


def test_team_graph_errors_name_the_key_and_what_is_allowed():
    def unknown(spec):
        spec["graphs"][0]["steps"][1] = {"model": "ranker"}

    assert team_error(unknown) == (
        "mlops:team.graphs[0].steps[1].model: 'ranker' is not a model of this team; allowed: scorer, embedder"
    )

    def cycle(spec):
        spec["graphs"] = [
            {"name": "a", "type": "sequence", "steps": [{"model": "embedder"}, {"graph": "b"}]},
            {"name": "b", "type": "sequence", "steps": [{"graph": "a"}]},
        ]

    assert team_error(cycle) == (
        "mlops:team.graphs[0].steps[1].graph: 'b' makes a cycle a -> b -> a; allowed: graphs that never reach themselves"
    )

    def weights(spec):
        spec["graphs"][0] = {
            "name": "split",
            "type": "splitter",
            "steps": [{"model": "scorer", "weight": 70}, {"model": "embedder", "weight": 20}],
        }

    assert (
        team_error(weights)
        == "mlops:team.graphs[0].steps: weights 70 + 20 = 90; allowed: weights summing to 100"
    )

    def both(spec):
        spec["graphs"][0]["steps"][0] = {"model": "scorer", "graph": "x"}

    assert team_error(both) == (
        "mlops:team.graphs[0].steps[0]: sets both or neither of model and graph; allowed: exactly one of them"
    )


def test_team_pipeline_errors_name_the_key_and_what_is_allowed():
    def unknown(spec):
        spec["pipelines"]["templates"][0]["model"] = "ranker"

    assert team_error(unknown) == (
        "mlops:team.pipelines.templates[0].model: 'ranker' is not a model of this team; allowed: scorer, embedder"
    )

    def tag(spec):
        spec["pipelines"]["templates"][0]["image"] = "r.example/pipeline:1.2"

    assert team_error(tag).startswith(
        "mlops:team.pipelines.templates[0].image: 'r.example/pipeline:1.2' is a tag; allowed in prod: an image pinned"
    )

    def typo(spec):
        spec["pipelines"]["local-queu"] = "q"

    assert team_error(typo) == "mlops:team.pipelines.local-queu: unknown key; allowed: local-queue, templates"


def platform_error(change) -> str:
    spec = raw("prod", "mlops:platform")
    change(spec)
    with pytest.raises(ConfigError) as caught:
        parse_platform(spec, "stacks/Pulumi.prod.yaml")
    message = str(caught.value)
    assert "\n" not in message
    return message.removeprefix("stacks/Pulumi.prod.yaml: ")


def test_platform_pipelines_errors_name_the_key_and_what_is_allowed():
    # In prod, identity.oidc is required by MLflow's own check first; the pipelines check is on the parsed model.
    cfg = parse_platform(raw("prod", "mlops:platform"), "stacks/Pulumi.prod.yaml")
    without_oidc = SimpleNamespace(**{**dict(cfg), "identity": SimpleNamespace(oidc=None)})
    with pytest.raises(KeyedValueError) as caught:
        check_pipelines(without_oidc)
    assert (caught.value.loc, str(caught.value)) == (
        ("pipelines",),
        "needs identity.oidc: the Argo server signs people in with the platform's OIDC provider (SSO only)",
    )

    def other_region(spec):
        spec["pipelines"]["certificate-arn"] = "arn:aws:acm:us-west-2:333333333333:certificate/x"

    assert platform_error(other_region) == (
        "mlops:platform.pipelines.certificate-arn: 'arn:aws:acm:us-west-2:333333333333:certificate/x' is in another "
        "region; allowed: a certificate in us-east-1"
    )

    def limits(spec):
        spec["pipelines"]["namespace-parallelism"] = 200

    assert platform_error(limits) == (
        "mlops:platform.pipelines.namespace-parallelism: 200 is above parallelism 100; allowed: at most parallelism"
    )

    def router_tag(spec):
        spec["pipelines"]["graph-router-image"] = "kserve/router:v0.15.2"

    assert platform_error(router_tag).startswith(
        "mlops:platform.pipelines.graph-router-image: 'kserve/router:v0.15.2' is a tag; allowed in prod"
    )


def test_the_team_stack_refuses_pipelines_on_a_platform_without_them():
    from components.outputs import ContractError, PlatformOutputs
    from stacks.team_pipelines import check_pipelines_contract

    team_ = parse_team(raw("team-fraud-prod", "mlops:team"), "x")
    contract = PlatformOutputs.model_construct(pipelines=None, registry=None)
    with pytest.raises(ContractError) as caught:
        check_pipelines_contract(contract, team_)
    assert str(caught.value) == (
        "mlops:team.pipelines: platform stack 'prod' runs no Argo Workflows (its `pipelines:` section); "
        "allowed: no pipelines key"
    )


# ---------------------------------------------------------------------------------------------------------
# Policies over the real previews


def test_the_shipped_previews_pass_the_pipeline_policies(prod, team):
    for document_ in (prod, team):
        verdicts = analyze_in_process(document_, environment_config("prod"))
        assert [v for v in verdicts if v.policy.startswith("argo-")] == []


def test_each_violating_argo_resource_is_flagged_on_its_own():
    for case in [c for c in CASES if c.policy.startswith("argo-")]:
        for resource in case.bad:
            verdicts = analyze_in_process(document([resource]), environment_config("prod"))
            assert [v for v in verdicts if v.policy == case.policy], resource.name


def test_workflow_access_policy_lists_the_prefix_under_the_artifacts_key():
    policy = workflow_access_policy(
        "arn:aws:s3:::b", "arn:aws:kms:us-east-1:1:key/k", "t", [("data/", "read")]
    )
    listed = policy["Statement"][0]["Condition"]["StringLike"]["s3:prefix"]
    assert listed == ["pipelines/t/*", "data/*"]
