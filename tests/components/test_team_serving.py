"""TeamSpace and ModelDeployment under the mock monitor, from the example prod team's config.

The fixture program builds the components with literal platform values, so these tests see the team's
resources without a platform stack; tests/stacks covers the real team stacks through the StackReference.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components.serving.config import ModelSpec
from components.serving.deployment import rps_query, target_group_name, weighted_forward_action
from components.serving.team import team_access_policy
from tests.conftest import REPO, STACKS, by_name, states
from tests.kube import invalid_builtin_objects, is_builtin, manifests

PROGRAM = REPO / "tests" / "fixtures" / "team_program" / "__main__.py"


@pytest.fixture(scope="module")
def team_doc(tmp_path_factory) -> dict:
    code = (
        "import json, sys; from pathlib import Path; from mlops.synth import synthesize\n"
        f"json.dump(synthesize('team-fraud-prod', Path({str(STACKS)!r}), Path({str(PROGRAM)!r})), sys.stdout)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_namespace_is_restricted_and_labelled(team_doc):
    namespace = by_name(team_doc, "team-fraud-us-east-1-ns")["inputs"]["metadata"]
    assert namespace["name"] == "team-fraud"
    assert namespace["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert namespace["labels"]["team"] == "fraud" and namespace["labels"]["environment"] == "prod"


def test_quota_and_limit_range_from_team_quotas(team_doc):
    quota = by_name(team_doc, "team-fraud-us-east-1-quota")["inputs"]["spec"]["hard"]
    assert quota == {
        "requests.cpu": "480",
        "limits.cpu": "480",
        "requests.memory": "3584Gi",
        "limits.memory": "3584Gi",
        "requests.nvidia.com/gpu": "40",
        "pods": "200",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    limits = by_name(team_doc, "team-fraud-us-east-1-limits")["inputs"]["spec"]["limits"][0]
    assert limits == {
        "type": "Container",
        "default": {"cpu": "1000m", "memory": "2048Mi"},
        "defaultRequest": {"cpu": "1000m", "memory": "2048Mi"},
    }


def test_default_deny_and_allows(team_doc):
    deny = by_name(team_doc, "team-fraud-us-east-1-netpol-default-deny")["inputs"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = by_name(team_doc, "team-fraud-us-east-1-netpol-allow-dns")["inputs"]["spec"]["egress"][0]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    mlflow = by_name(team_doc, "team-fraud-us-east-1-netpol-allow-mlflow")["inputs"]["spec"]["egress"][0]
    assert mlflow["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "mlflow"}
    aws_apis = by_name(team_doc, "team-fraud-us-east-1-netpol-allow-aws-endpoints")["inputs"]["spec"][
        "egress"
    ]
    assert [(rule["to"][0]["ipBlock"]["cidr"], rule["ports"][0]["port"]) for rule in aws_apis] == [
        ("10.30.0.0/16", 443),
        ("198.18.0.0/24", 443),
        ("169.254.170.23/32", 80),
    ]
    inbound = by_name(team_doc, "team-fraud-us-west-2-netpol-allow-ingress-from-vpc")["inputs"]["spec"][
        "ingress"
    ][0]
    assert inbound["from"] == [{"ipBlock": {"cidr": "10.31.0.0/16"}}]
    assert inbound["ports"] == [{"port": 8080, "protocol": "TCP"}]


def test_pod_identity_role_is_scoped_to_team(team_doc):
    role = by_name(team_doc, "team-fraud-models-role")["inputs"]
    trust = json.loads(role["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Statement"][0]["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    # EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity"
    # (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html): the request tags Pod Identity sends pin
    # the cluster, namespace and service account; aws:SourceAccount pins the platform's account.
    assert trust["Statement"][0]["Condition"] == {
        "StringEquals": {
            "aws:SourceAccount": "333333333333",
            "aws:RequestTag/eks-cluster-arn": [
                f"arn:aws:eks:{region}:333333333333:cluster/mlops-prod-{region}"
                for region in ("us-east-1", "us-west-2")
            ],
            "aws:RequestTag/kubernetes-namespace": "team-fraud",
            "aws:RequestTag/kubernetes-service-account": "models",
        }
    }
    policy = json.loads(by_name(team_doc, "team-fraud-models-policy")["inputs"]["policy"])
    by_sid = {statement["Sid"]: statement for statement in policy["Statement"]}
    bucket = "arn:aws:s3:::mlops-prod-333333333333-artifacts-{}".format
    # Each region's pods read their own region's bucket; writes go to the primary's only.
    assert by_sid["ReadOwnPrefixes"]["Resource"] == [
        f"{bucket(region)}/{prefix}"
        for region in ("us-east-1", "us-west-2")
        for prefix in ("teams/fraud/*", "shared/features/*")
    ]
    assert by_sid["WriteOwnPrefixes"]["Resource"] == [f"{bucket('us-east-1')}/teams/fraud/*"]
    assert by_sid["ListOwnPrefixes"]["Condition"] == {
        "StringLike": {"s3:prefix": ["teams/fraud/*", "shared/features/*"]}
    }
    repos = sorted(by_sid["PullOwnImages"]["Resource"])
    assert repos == [
        "arn:aws:ecr:us-east-1:333333333333:repository/models/fraud/embedder",
        "arn:aws:ecr:us-east-1:333333333333:repository/models/fraud/scorer",
    ]
    for statement in policy["Statement"]:
        assert statement["Action"] != "*"
        assert statement["Resource"] != "*" or statement["Action"] == "ecr:GetAuthorizationToken"
    association = by_name(team_doc, "team-fraud-us-west-2-pod-identity")
    assert association["inputs"]["namespace"] == "team-fraud"
    assert association["inputs"]["serviceAccount"] == "models"
    assert association["inputs"]["clusterName"] == "mlops-prod-us-west-2"
    assert association["provider"].split("::")[-2] == "aws-us-west-2"


def test_team_repositories_and_access_entry(team_doc):
    repo = by_name(team_doc, "team-fraud-embedder-repo")["inputs"]
    assert repo["name"] == "models/fraud/embedder"
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    edit = by_name(team_doc, "team-fraud-us-east-1-access-edit")["inputs"]
    assert edit["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
    assert edit["accessScope"] == {"type": "namespace", "namespaces": ["team-fraud"]}


def test_ninety_ten_canary(team_doc):
    deployments = {s["inputs"]["metadata"]["name"] for s in states(team_doc, "kubernetes:apps/v1:Deployment")}
    assert {"embedder-v1", "embedder-v2", "scorer-v3"} == deployments
    route = by_name(team_doc, "fraud-embedder-us-east-1-route")["inputs"]
    action = json.loads(route["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.weighted"])
    assert [
        (group["targetGroupARN"], group["weight"]) for group in action["forwardConfig"]["targetGroups"]
    ] == [
        (by_name(team_doc, "fraud-embedder-us-east-1-v1-tg")["id"], 90),
        (by_name(team_doc, "fraud-embedder-us-east-1-v2-tg")["id"], 10),
    ]
    assert route["metadata"]["annotations"]["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert route["spec"]["rules"][0]["http"]["paths"][1] == {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": "weighted", "port": {"name": "use-annotation"}}},
    }


def test_model_metrics_are_not_served_through_the_load_balancer(team_doc):
    """/metrics is for the collector inside the VPC: each host's /metrics prefix gets a fixed 404 action. The
    controller puts longer Prefix paths first (aws-load-balancer-controller v2.13.2
    pkg/ingress/model_build_listener_rules.go sortIngressPaths), so it precedes /."""
    route = by_name(team_doc, "fraud-scorer-us-east-1-route")["inputs"]
    for rule in route["spec"]["rules"]:
        assert [
            (p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]
        ] == [("/metrics", "Prefix", "no-metrics"), ("/", "Prefix", "weighted")]
    action = json.loads(route["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.no-metrics"])
    assert action == {
        "type": "fixed-response",
        "fixedResponseConfig": {"contentType": "text/plain", "statusCode": "404", "messageBody": "not found"},
    }


def test_gpu_model_pod_spec_is_hardened(team_doc):
    deployment = by_name(team_doc, "fraud-embedder-us-west-2-v2")
    pod = deployment["inputs"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "models"
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["image"].split("@")[1].startswith("sha256:")
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert deployment["ignoreChanges"] == ["spec.replicas"]


def test_autoscaling_and_disruption_budget(team_doc):
    hpa = by_name(team_doc, "fraud-embedder-us-east-1-v1-hpa")["inputs"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 60},
    }
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "embedder-v1"}
    scaled = by_name(team_doc, "fraud-scorer-us-east-1-v3-scaledobject")["inputs"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (3, 12)
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metadata"]["threshold"] == "200"
    pdbs = {
        s["urn"].rsplit("::", 1)[-1]: s["inputs"]["spec"]
        for s in states(team_doc, "kubernetes:policy/v1:PodDisruptionBudget")
    }
    assert pdbs["fraud-embedder-us-east-1-pdb"] == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "embedder"}},
    }
    assert len(pdbs) == 4  # one per model per region


def test_every_builtin_object_passes_kubernetes_validate(team_doc):
    objects = manifests(team_doc)
    # 48: with the RoleBinding of the team's deploy group in each region's namespace.
    assert sum(is_builtin(m["apiVersion"]) for m in objects) == 48
    assert invalid_builtin_objects(team_doc) == []


def test_strict_validation_catches_a_misspelt_field(team_doc):
    broken = json.loads(json.dumps(team_doc))
    for step in broken["steps"]:
        if step["newState"]["type"] == "kubernetes:apps/v1:Deployment":
            step["newState"]["inputs"]["spec"]["replica"] = 2
            break
    assert len(invalid_builtin_objects(broken)) == 1


def test_weighted_action_names_each_versions_target_group_by_arn():
    """An action's forwardConfig may name target groups made outside the controller by `targetGroupARN`, with a
    weight each (aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md, "actions"); a forward
    action holds at most 5 target groups ("Quotas for your Application Load Balancers": target groups per
    action), which the versions' limit of 5 keeps."""
    model = ModelSpec.model_validate(
        {
            "name": "m",
            "port": 9000,
            "versions": [
                {"name": "a", "image": "r/m:1.0", "weight": 75},
                {"name": "b", "image": "r/m:1.1", "weight": 25},
            ],
        }
    )
    arns = {
        "a": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1",
        "b": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2",
    }
    assert weighted_forward_action(model, arns)["forwardConfig"]["targetGroups"] == [
        {"targetGroupARN": arns["a"], "weight": 75},
        {"targetGroupARN": arns["b"], "weight": 25},
    ]
    assert [
        m.max_length for m in ModelSpec.model_fields["versions"].metadata if hasattr(m, "max_length")
    ] == [5]
    assert rps_query("team-x", "m", "a") == (
        'sum(rate(http_requests_total{namespace="team-x",app="m",version="a"}[2m])) '
        'or (0 * sum(up{namespace="team-x",app="m",version="a"}))'
    )


def test_target_group_names_follow_the_elb_naming_rule():
    """CreateTargetGroup: a name of at most 32 characters, only alphanumerics and hyphens, not beginning or
    ending with a hyphen (Elastic Load Balancing API Reference, CreateTargetGroup, Name)."""
    import re

    rule = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
    long = target_group_name("a-very-long-team-name", "model-with-long-name", "v12", 8080, "vpc-0123")
    for name in (
        long,
        target_group_name("fraud", "scorer", "v3", 8080, "vpc-1"),
        target_group_name("ab", "m", "v-", 1024, "vpc-1"),
    ):
        assert rule.match(name), name
    # Whatever replaces a target group (its port, its VPC) gives it a new name: created before the old is deleted.
    assert target_group_name("fraud", "scorer", "v3", 8080, "vpc-1") != target_group_name(
        "fraud", "scorer", "v3", 8081, "vpc-1"
    )
    assert target_group_name("fraud", "scorer", "v3", 8080, "vpc-1") != target_group_name(
        "fraud", "scorer", "v3", 8080, "vpc-2"
    )


def test_read_only_team_gets_no_write_or_encrypt():
    policy = team_access_policy(["arn:aws:s3:::b"], None, ["arn:k"], [("p/", "read")], ["arn:r"])
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert sids == [
        "ListOwnPrefixes",
        "ReadOwnPrefixes",
        "UseArtifactsKeyThroughS3",
        "PullOwnImages",
        "RegistryLogin",
    ]
    assert policy["Statement"][2]["Action"] == ["kms:Decrypt"]


def test_model_ingress_is_https_only_with_hosts_and_its_regions_certificate(team_doc):
    """An HTTPS listener without a certificate never becomes ready, and a rule without a host would catch every
    name on the shared load balancer."""
    for region in ("us-east-1", "us-west-2"):
        ingress = by_name(team_doc, f"fraud-embedder-{region}-route")["inputs"]
        annotations = ingress["metadata"]["annotations"]
        assert annotations["alb.ingress.kubernetes.io/certificate-arn"] == (
            f"arn:aws:acm:{region}:333333333333:certificate/serving-{region}"
        )
        assert json.loads(annotations["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTPS": 443}]
        assert annotations["alb.ingress.kubernetes.io/group.name"] == "mlops-serving"
        assert annotations["alb.ingress.kubernetes.io/load-balancer-name"] == "mlops-prod-serving"
        assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
        assert [rule["host"] for rule in ingress["spec"]["rules"]] == [
            "embedder-fraud.models.example.com",
            f"embedder-fraud.{region}.models.example.com",
        ]
