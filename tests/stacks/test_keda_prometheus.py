"""Requests-per-second autoscaling: KEDA queries the region's managed Prometheus with SigV4.

KEDA objects are validated against a closed JSON Schema generated from the upstream CRDs of the KEDA version
the stacks pin (tests/schemas/keda-v2.17.1.json, see its $comment); the wiring between the platform stack
(role, Pod Identity association, ClusterTriggerAuthentication, query URL in the contract) and the team
stack (ScaledObjects) is checked across the two previews.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.observability.prometheus import prometheus_query_url
from tests.conftest import STACKS, by_name, states, to_byo_cluster
from tests.kube import manifests

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "schemas" / "keda-v2.17.1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def keda_objects(document):
    return [m for m in manifests(document) if m["apiVersion"].startswith("keda.sh/")]


def test_the_schema_is_from_the_pinned_keda_release():
    pinned = {
        yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]["mlops:platform"]["cluster"][
            "charts"
        ]["keda"]
        for stack in ("dev", "staging", "prod")
    }
    assert pinned == {"2.17.1"}
    assert "kedacore/keda v2.17.1" in SCHEMA["$comment"]


@pytest.mark.parametrize("stack", ["prod", "team-fraud-prod", "team-fraud-dev"])
def test_every_keda_object_matches_the_upstream_crd(synth, stack):
    objects = keda_objects(synth(stack))
    assert objects
    for manifest in objects:
        errors = [error.message for error in VALIDATOR.iter_errors(manifest)]
        assert errors == [], f"{manifest['kind']} {manifest['metadata']['name']}: {errors}"


def test_a_misspelt_keda_field_is_rejected(synth):
    [scaled] = [m for m in keda_objects(synth("team-fraud-prod")) if m["metadata"]["name"] == "scorer-v3"][:1]
    broken = copy.deepcopy(scaled)
    broken["spec"]["triggers"][0]["authenticationRefs"] = broken["spec"]["triggers"][0].pop(
        "authenticationRef"
    )
    assert not VALIDATOR.is_valid(broken)
    auth = next(m for m in keda_objects(synth("prod")) if m["kind"] == "ClusterTriggerAuthentication")
    wrong = copy.deepcopy(auth)
    wrong["spec"]["podIdentity"]["provider"] = "aws-eks-pod-identity"
    assert not VALIDATOR.is_valid(wrong)


def test_scaled_objects_query_the_regions_workspace_through_the_aws_pod_identity(synth):
    """KEDA's prometheus scaler signs requests with SigV4 when its TriggerAuthentication uses the `aws` pod
    identity provider and `awsRegion` is set, and appends `/api/v1/query` to `serverAddress` (kedacore/keda
    v2.17.1 pkg/scalers/prometheus_scaler.go, pkg/scalers/aws/aws_sigv4.go; upstream e2e test
    tests/scalers/aws/aws_managed_prometheus_pod_identity)."""
    platform, team = synth("prod"), synth("team-fraud-prod")
    urls = platform["outputs"]["observability"]["prometheusQueryUrls"]
    workspaces = platform["outputs"]["observability"]["ampWorkspaceIds"]
    auth_names = {
        m["metadata"]["name"] for m in keda_objects(platform) if m["kind"] == "ClusterTriggerAuthentication"
    }
    assert auth_names == {"aws-pod-identity"}
    for region in ("us-east-1", "us-west-2"):
        assert (
            urls[region] == f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspaces[region]}"
        )
        scaled = by_name(team, f"fraud-scorer-{region}-v3-scaledobject")["inputs"]
        [trigger] = scaled["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        assert trigger["metadata"]["serverAddress"] == urls[region]
        assert not trigger["metadata"]["serverAddress"].endswith("/")
        assert trigger["metadata"]["awsRegion"] == region
        assert trigger["authenticationRef"] == {
            "name": "aws-pod-identity",
            "kind": "ClusterTriggerAuthentication",
        }
        assert trigger["metadata"]["query"] == (
            'sum(rate(http_requests_total{namespace="team-fraud",app="scorer",version="v3"}[2m])) '
            'or (0 * sum(up{namespace="team-fraud",app="scorer",version="v3"}))'
        )


def test_a_broken_metrics_pipeline_is_a_scaler_error_that_holds_the_replicas(synth):
    """With ignoreNullValues true KEDA's prometheus scaler reads an empty result as 0 (kedacore/keda v2.17.1
    pkg/scalers/prometheus_scaler.go), so a missing collector would scale every model down. The trigger sets
    it "false" (the query itself answers 0 while the pods are scraped, through their `up` series, which
    Prometheus writes for every scraped target: Prometheus docs, "Jobs and instances"), and the fallback keeps
    the current replicas after 3 failed polls (pkg/fallback/fallback.go, behavior currentReplicasIfHigher,
    for AverageValue metrics: the prometheus scaler's default metric type)."""
    for stack in ("team-fraud-prod", "team-fraud-dev"):
        scaled = by_name(synth(stack), "fraud-scorer-us-east-1-v3-scaledobject")["inputs"]["spec"]
        [trigger] = scaled["triggers"]
        assert trigger["metadata"]["ignoreNullValues"] == "false"
        assert "metricType" not in trigger
        assert scaled["fallback"] == {
            "failureThreshold": 3,
            "replicas": scaled["minReplicaCount"],
            "behavior": "currentReplicasIfHigher",
        }


def test_rps_scaling_from_zero_replicas_is_a_config_error():
    """The requests are counted by the model's pods; with none the ALB answers 503 for an empty target group
    and no request is counted (ELB User Guide, "CloudWatch metrics for your Application Load Balancer":
    RequestCount counts only requests for which a target was chosen), so the model would never scale up."""
    from components.serving.config import Autoscaling

    with pytest.raises(ValueError, match="0 with rps-target never scales up again"):
        Autoscaling.model_validate({"min-replicas": 0, "max-replicas": 4, "rps-target": 50})
    assert (
        Autoscaling.model_validate(
            {
                "min-replicas": 0,
                "max-replicas": 4,
                "keda": {
                    "type": "aws-sqs-queue",
                    "metadata": {"queueURL": "https://sqs.us-east-1.amazonaws.com/1/q"},
                },
            }
        ).min_replicas
        == 0
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda p: p["observability"].__setitem__("prometheus-encryption", "customer-key"),
        to_byo_cluster,
    ],
    ids=["customer-key", "byo"],
)
def test_rps_scaling_where_nothing_fills_or_reads_the_workspace_is_a_config_error(tmp_path, edit):
    """customer-key workspaces get no managed collector (README, IAM lint section) and byo clusters no KEDA
    role or ClusterTriggerAuthentication: a ScaledObject there could only ever see no data."""
    import shutil

    from tests.conftest import edit_stack_file, run_mlops

    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path)
    edit_stack_file(tmp_path, "prod", lambda config: edit(config["mlops:platform"]))
    # OpenCost reads the same workspace and is refused first without it (components.cost.opencost): off here.
    edit_stack_file(tmp_path, "prod", lambda config: config["mlops:platform"]["cost"].pop("opencost"))
    edit_stack_file(
        tmp_path,
        "team-fraud-prod",
        lambda config: config["mlops:team"].__setitem__(
            "ingress",
            {
                "domain": "fraud.example.org",
                "certificate-arns": {
                    r: f"arn:aws:acm:{r}:333333333333:certificate/fraud" for r in ("us-east-1", "us-west-2")
                },
            },
        ),
    )
    result = run_mlops("team", "validate", "team-fraud-prod", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.team-fraud-prod.yaml'}: mlops:team.models[0].autoscaling.rps-target: needs the "
        "managed Prometheus of platform stack 'prod' in us-east-1 (its observability section with "
        "prometheus-encryption aws-owned, on an eks cluster); allowed there: cpu-target or keda\n"
    )


def test_the_query_url_has_no_trailing_slash_in_every_partition():
    assert (
        prometheus_query_url("us-east-1", "ws-1")
        == "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1"
    )
    assert prometheus_query_url("cn-north-1", "ws-1", "aws-cn") == (
        "https://aps-workspaces.cn-north-1.amazonaws.com.cn/workspaces/ws-1"
    )


def test_the_queried_labels_are_the_ones_the_collector_writes(synth):
    """The query selects on namespace, app and version: the managed collector's relabelling must produce them
    from the pod's namespace and labels, and the pod must be annotated for the collector's pod job."""
    config = yaml.safe_load(
        by_name(synth("prod"), "observability-us-east-1-scraper")["inputs"]["scrapeConfiguration"]
    )
    [pods] = [job for job in config["scrape_configs"] if job["job_name"] == "annotated-pods"]
    targets = {rule.get("target_label"): rule["source_labels"] for rule in pods["relabel_configs"]}
    assert targets["namespace"] == ["__meta_kubernetes_namespace"]
    assert targets["app"] == ["__meta_kubernetes_pod_label_app"]
    assert targets["version"] == ["__meta_kubernetes_pod_label_version"]
    template = by_name(synth("team-fraud-prod"), "fraud-scorer-us-east-1-v3")["inputs"]["spec"]["template"]
    assert (
        template["metadata"]["labels"]["app"] == "scorer"
        and template["metadata"]["labels"]["version"] == "v3"
    )
    scrape = {k: v for k, v in template["metadata"]["annotations"].items() if k.startswith("prometheus.io/")}
    assert scrape == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }


def test_keda_operator_role_may_query_only_its_regions_workspace(synth):
    """AMP authorises instant queries as aps:QueryMetrics on the workspace resource (Service Authorization
    Reference, "Actions, resources, and condition keys for Amazon Managed Service for Prometheus")."""
    prod = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        role = by_name(prod, f"cluster-{region}-keda-role")
        query = by_name(prod, f"observability-{region}-keda-query")
        policy = query["inputs"]
        assert query["propertyDependencies"]["role"] == [role["urn"]]
        workspace = by_name(prod, f"observability-{region}-prometheus")
        document = json.loads(policy["policy"])
        assert document["Statement"] == [
            {
                "Sid": "QueryThisRegionsWorkspace",
                "Effect": "Allow",
                "Action": "aps:QueryMetrics",
                "Resource": f"arn:aws:aps:{region}:333333333333:workspace/{prod['outputs']['observability']['ampWorkspaceIds'][region]}",
            }
        ]
        assert workspace["urn"] in by_name(prod, f"observability-{region}-keda-query")["dependencies"]
        trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]
        assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert trust["Condition"]["StringEquals"]["aws:RequestTag/eks-cluster-arn"] == (
            f"arn:aws:eks:{region}:333333333333:cluster/mlops-prod-{region}"
        )


def test_keda_starts_after_its_pod_identity_association(synth):
    """EKS Pod Identity injects credentials into pods created after the association exists (Amazon EKS User
    Guide, "Assign an IAM role to a Kubernetes service account": pods must be restarted otherwise)."""
    prod = synth("prod")
    association = by_name(prod, "cluster-us-east-1-keda-identity")
    assert (
        association["inputs"]["namespace"] == "keda"
        and association["inputs"]["serviceAccount"] == "keda-operator"
    )
    release = by_name(prod, "cluster-us-east-1-keda")
    assert association["urn"] in release["dependencies"]
    assert release["inputs"]["values"]["serviceAccount"]["operator"]["name"] == "keda-operator"
    auth = by_name(prod, "cluster-us-east-1-keda-aws-auth")
    assert release["urn"] in auth["dependencies"]
    assert auth["inputs"]["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}
    assert (
        len(
            [
                s
                for s in states(prod, "aws:eks/podIdentityAssociation:PodIdentityAssociation")
                if s["inputs"]["serviceAccount"] == "keda-operator"
            ]
        )
        == 2
    )


def test_the_query_api_is_reachable_without_the_internet_where_keda_queries_it(synth):
    """AMP's Prometheus-compatible API has its own interface endpoint, com.amazonaws.<region>.aps-workspaces
    (AMP User Guide, "Using Amazon Managed Service for Prometheus with interface VPC endpoints"); a VPC whose
    cluster does not query it (no published query URL) gets none (an interface endpoint is billed hourly)."""
    from tests.conftest import FIXTURES

    for document in (synth("prod"), synth("cluster-dev", FIXTURES), synth("observe-prod", FIXTURES)):
        names = {s["inputs"]["serviceName"] for s in states(document, "aws:ec2/vpcEndpoint:VpcEndpoint")}
        observability = document["outputs"].get("observability") or {}
        regions = {r for r in document["outputs"]["regions"]}
        queried = set(observability.get("prometheusQueryUrls") or {})
        assert {r for r in regions if f"com.amazonaws.{r}.aps-workspaces" in names} == queried
    assert set(synth("prod")["outputs"]["observability"]["prometheusQueryUrls"]) == {"us-east-1", "us-west-2"}
