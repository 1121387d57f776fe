"""Provenance where people and tools look (labels, annotations, tags, outputs), the per-model alarms and dashboard
of the example prod team stack, and `mlops inventory` over the shipped stacks, offline and --live with a stand-in
kubectl (as tests/smoke/test_discovery.py exercises the smoke suite's kubectl backend)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from components.loader import ConfigError
from components.serving.config import TeamConfig
from mlops.inventory import (
    COLUMNS,
    image_id_digest,
    live_drift,
    parse_contexts,
    render,
    render_drift,
    rows_of,
)
from tests.conftest import STACKS, by_name, run_mlops, states
from tests.kube import invalid_builtin_objects

SCORER = "333333333333.dkr.ecr.us-east-1.amazonaws.com/models/fraud/scorer@sha256:d5fdb5b46c9b1993d2a418fd59b33c6cb666955605704a0587c889be65d3b9d9"
EMBEDDER_V2 = "333333333333.dkr.ecr.us-east-1.amazonaws.com/models/fraud/embedder@sha256:348656c439477d255a17e20c82bc3399900b60387b9a61172744c0bd39e874d9"


def team(stack: str) -> TeamConfig:
    from components.config import parse_team

    return parse_team(
        yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]["mlops:team"], None
    )


def test_each_version_deployment_and_its_pods_carry_labels_and_provenance(synth):
    document = synth("team-fraud-prod")
    deployment = by_name(document, "fraud-embedder-us-west-2-v2")["inputs"]
    labels = {
        "app": "embedder",
        "team": "fraud",
        "environment": "prod",
        "version": "v2",
        "app.kubernetes.io/name": "embedder",
        "app.kubernetes.io/instance": "embedder-v2",
        "app.kubernetes.io/version": "v2",
        "app.kubernetes.io/part-of": "team-fraud",
        "app.kubernetes.io/managed-by": "pulumi",
        "mlops.platform/purpose": "model-version",
    }
    annotations = {
        "mlops.platform/source": "https://github.com/example-org/fraud-embedder",
        "mlops.platform/commit": "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1",
        "mlops.platform/license": "MIT",
        "mlops.platform/run": "runs:/5f3b2c1d9e8a4f7b6c5d4e3f2a1b0c9d/model",
        "mlops.platform/notes": "Canary: distilled from v1 on the same training set.",
    }
    assert deployment["metadata"]["labels"] == labels
    # Beside them, the release annotations the pack's release policies read (policies/release.py): v2 is the
    # embedder's later version at 10%, the team's first canary step; the model and version names are what the
    # canary policy looks up in the base revision's traffic (on the Deployment only: the pods do not roll).
    release = {
        "mlops.platform/model": "embedder",
        "mlops.platform/version": "v2",
        "mlops.platform/traffic-weight": "10",
        "mlops.platform/canary-first-step": "10",
        "mlops.platform/version-position": "later",
        "mlops.platform/image-account": "333333333333",
    }
    assert deployment["metadata"]["annotations"] == {**annotations, **release}
    # Notes and run stay on the Deployment: editing them must not change the pod template, whose change (and only
    # it) starts a rollout (Kubernetes docs, Deployments, "Updating a Deployment",
    # https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#updating-a-deployment).
    pod = {k: v for k, v in annotations.items() if k not in ("mlops.platform/notes", "mlops.platform/run")}
    assert deployment["spec"]["template"]["metadata"] == {"labels": labels, "annotations": pod}
    assert sorted(pod) == ["mlops.platform/commit", "mlops.platform/license", "mlops.platform/source"]
    # The selector is unchanged: a Deployment's selector is immutable, and a change would replace it.
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "embedder", "version": "v2"}}
    scorer = by_name(document, "fraud-scorer-us-east-1-v3")["inputs"]["spec"]["template"]["metadata"]
    assert scorer["annotations"]["mlops.platform/license"] == "Apache-2.0"
    assert scorer["annotations"]["prometheus.io/scrape"] == "true"  # rps scaling keeps its scrape annotations
    assert invalid_builtin_objects(document) == []  # label and annotation syntax, by kubernetes-validate


def test_target_groups_are_tagged_with_the_version_provenance(synth):
    tags = by_name(synth("team-fraud-prod"), "fraud-scorer-us-west-2-v3-tg")["inputs"]["tags"]
    assert {
        key: tags[key]
        for key in ("model", "version", "model-source", "model-commit", "model-license", "model-run")
    } == {
        "model": "scorer",
        "version": "v3",
        "model-source": "https://github.com/example-org/fraud-scorer",
        "model-commit": "3f9c2a7d1e4b5c6a8d0f1e2b3c4d5e6f7a8b9c0d",
        "model-license": "Apache-2.0",
        "model-run": "models:/fraud-scorer/3",
    }


def test_health_alarms_and_checks_are_tagged_with_the_version_provenance(synth):
    document = synth("team-fraud-prod")
    expected = {
        "model": "embedder",
        "version": "v2",
        "model-source": "https://github.com/example-org/fraud-embedder",
        "model-commit": "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1",
        "model-license": "MIT",
        "model-run": "runs:/5f3b2c1d9e8a4f7b6c5d4e3f2a1b0c9d/model",
        "Name": "fraud-embedder-us-east-1-dns-v2",
    }
    for resource in ("fraud-embedder-us-east-1-dns-v2-healthy", "fraud-embedder-us-east-1-dns-v2-health"):
        tags = by_name(document, resource)["inputs"]["tags"]
        assert {key: tags.get(key) for key in expected} == expected, resource
    v1 = by_name(document, "fraud-embedder-us-east-1-dns-v1-health")["inputs"]["tags"]
    assert (v1["version"], v1["model-license"]) == ("v1", "Apache-2.0")
    calculated = by_name(document, "fraud-embedder-us-east-1-dns-health")["inputs"]["tags"]
    assert "model-commit" not in calculated and "version" not in calculated  # the model's, across versions


def test_the_team_stack_outputs_each_versions_provenance(synth):
    outputs = synth("team-fraud-prod")["outputs"]["provenance"]
    assert outputs["scorer"]["v3"] == {
        "source": {
            "repository": "https://github.com/example-org/fraud-scorer",
            "commit": "3f9c2a7d1e4b5c6a8d0f1e2b3c4d5e6f7a8b9c0d",
        },
        "license": "Apache-2.0",
        "run": "models:/fraud-scorer/3",
        "notes": "Gradient-boosted scorer retrained on the Q3 feature set.",
    }
    assert sorted(outputs["embedder"]) == ["v1", "v2"] and "notes" not in outputs["embedder"]["v1"]


def test_per_version_alarms_on_the_target_groups_5xx_rate_and_p99_latency(synth):
    """The ALB's metrics, namespace AWS/ApplicationELB, dimensions TargetGroup and LoadBalancer:
    HTTPCode_Target_5XX_Count and RequestCount (statistic Sum), TargetResponseTime (percentiles such as p99);
    published only while requests flow (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
    load-balancer-cloudwatch-metrics.html)."""
    document = synth("team-fraud-prod")
    platform = synth("prod", deployed=True)["outputs"]
    load_balancer = platform["regions"]["us-west-2"]["serving"]["loadBalancerArnSuffix"]
    group = by_name(document, "fraud-embedder-us-west-2-v2-tg")
    topics = [
        "arn:aws:sns:us-west-2:333333333333:mlops-prod-team-fraud-alerts",
        platform["observability"]["alertTopicArns"]["us-west-2"],
    ]
    assert (
        by_name(document, "team-fraud-us-west-2-alerts-topic")["inputs"]["name"]
        == "mlops-prod-team-fraud-alerts"
    )
    # The target group's ARN suffix (targetgroup/<name>/<id>), the TargetGroup dimension's value.
    dimensions = {"TargetGroup": group["id"].split(":", 5)[5], "LoadBalancer": load_balancer}

    errors = by_name(document, "fraud-embedder-us-west-2-alarms-v2-5xx-rate")
    assert errors["provider"].split("::")[-2] == "aws-us-west-2"
    inputs = errors["inputs"]
    assert inputs["name"] == "mlops-prod-team-fraud.embedder.v2-us-west-2-5xx-rate"
    assert inputs["alarmActions"] == inputs["okActions"] == topics
    # prod's own thresholds (stacks/Pulumi.prod.yaml observability.thresholds: load-balancer-5xx-percent 2,
    # p99-latency-seconds 1), not the defaults (5, 2), through the platform contract's alarmThresholds.
    assert platform["observability"]["alarmThresholds"] == {
        "loadBalancer5xxPercent": 2,
        "p99LatencySeconds": 1,
        "periodSeconds": 60,
        "evaluationPeriods": 5,
        "datapointsToAlarm": 3,
    }
    assert (
        inputs["comparisonOperator"],
        inputs["threshold"],
        inputs["treatMissingData"],
        inputs["evaluationPeriods"],
        inputs["datapointsToAlarm"],
        inputs["alarmDescription"],
    ) == (
        "GreaterThanThreshold",
        2,
        "notBreaching",
        5,
        3,
        "embedder v2 in us-west-2: targets answer 5xx for more than 2% of requests",
    )
    assert inputs["metricQueries"] == [
        {
            "id": "errors",
            "metric": {
                "dimensions": dimensions,
                "metricName": "HTTPCode_Target_5XX_Count",
                "namespace": "AWS/ApplicationELB",
                "period": 60,
                "stat": "Sum",
            },
            "returnData": False,
        },
        {
            "id": "requests",
            "metric": {
                "dimensions": dimensions,
                "metricName": "RequestCount",
                "namespace": "AWS/ApplicationELB",
                "period": 60,
                "stat": "Sum",
            },
            "returnData": False,
        },
        {
            "expression": "IF(requests > 0, 100 * errors / requests, 0)",
            "id": "rate",
            "label": "5xx-rate",
            "returnData": True,
        },
    ]
    assert inputs["tags"]["model-commit"] == "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1"

    latency = by_name(document, "fraud-embedder-us-west-2-alarms-v2-p99-latency")["inputs"]
    assert {
        key: latency[key]
        for key in ("namespace", "metricName", "extendedStatistic", "dimensions", "threshold")
    } == {
        "namespace": "AWS/ApplicationELB",
        "metricName": "TargetResponseTime",
        "extendedStatistic": "p99",
        "dimensions": dimensions,
        "threshold": 1,
    }
    assert latency["alarmDescription"] == "embedder v2 in us-west-2: p99 target response time above 1s"
    assert latency["name"] == "mlops-prod-team-fraud.embedder.v2-us-west-2-p99-latency"
    assert "statistic" not in latency and latency["alarmActions"] == topics
    # Two alarms per version and region: 3 versions x 2 regions.
    names = [s["inputs"]["name"] for s in states(document, "aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert len([n for n in names if n.startswith("mlops-prod-team-fraud.")]) == 12


def test_model_alarm_names_follow_the_cloudwatch_alarm_name_rules_and_never_collide():
    """CloudWatch PutMetricAlarm, AlarmName: 1 to 255 characters, UTF-8 without ASCII control characters, unique
    in the account and region (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/
    API_PutMetricAlarm.html). Team, model and version names are DNS-1123 labels (components/serving/config.py:
    no dots), so the dots between them keep team `fraud-x` model `scorer` apart from team `fraud` model
    `x-scorer`, and the environment keeps dev and prod apart in one account."""
    from components.serving.config import ModelSpec, ModelVersion, TeamConfig
    from components.serving.monitoring import model_alarm_name

    first = model_alarm_name("prod", "fraud-x", "scorer", "v1", "us-east-1", "5xx-rate")
    second = model_alarm_name("prod", "fraud", "x-scorer", "v1", "us-east-1", "5xx-rate")
    assert (first, second) == (
        "mlops-prod-team-fraud-x.scorer.v1-us-east-1-5xx-rate",
        "mlops-prod-team-fraud.x-scorer.v1-us-east-1-5xx-rate",
    )
    assert model_alarm_name("dev", "fraud", "scorer", "v1", "us-east-1", "5xx-rate") != model_alarm_name(
        "prod", "fraud", "scorer", "v1", "us-east-1", "5xx-rate"
    )
    # The longest names the config allows (team 30, model 30, version 20 characters) fit in 255 characters.
    longest = model_alarm_name("staging", "t" * 30, "m" * 30, "v" * 20, "ap-southeast-4", "p99-latency")
    assert len(longest) == 128 <= 255 and all(0x20 <= ord(c) < 0x7F for c in longest)
    for field, max_length in (
        (TeamConfig.model_fields["name"], 30),
        (ModelSpec.model_fields["name"], 30),
        (ModelVersion.model_fields["name"], 20),
    ):
        constraints = {
            k: getattr(m, k) for m in field.metadata for k in ("pattern", "max_length") if hasattr(m, k)
        }
        assert constraints["max_length"] == max_length
        assert re.match(constraints["pattern"], "a.b") is None and re.match(constraints["pattern"], "a-b")


def test_the_team_alert_topic_is_encrypted_and_cloudwatch_may_publish(synth):
    document = synth("team-fraud-prod")
    platform = synth("prod", deployed=True)["outputs"]
    topic = by_name(document, "team-fraud-us-east-1-alerts-topic")["inputs"]
    assert topic["name"] == "mlops-prod-team-fraud-alerts"
    assert topic["kmsMasterKeyId"] == platform["regions"]["us-east-1"]["keyArns"]["logs"]
    policy = json.loads(by_name(document, "team-fraud-us-east-1-alerts-topic-policy")["inputs"]["policy"])
    subscription = by_name(document, "team-fraud-us-east-1-alerts-topic-email-0")["inputs"]
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "fraud-ml-oncall@example.com")
    publish = {s["Sid"]: s for s in policy["Statement"]}["CloudWatchAlarmsPublish"]
    assert publish["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "333333333333"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:333333333333:alarm:*"},
    }


def test_the_dashboard_has_a_section_per_model_version(synth):
    document = synth("team-fraud-prod")
    dashboard = by_name(document, "team-fraud-dashboard")["inputs"]
    assert dashboard["dashboardName"] == "mlops-prod-team-fraud-models"
    widgets = json.loads(dashboard["dashboardBody"])["widgets"]
    headers = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert headers == ["## scorer v3", "## embedder v1", "## embedder v2"]
    titles = [w["properties"]["title"] for w in widgets if w["type"] == "metric"]
    assert "us-west-2: embedder v2 p99 latency" in titles and len(titles) == 12
    group = by_name(document, "fraud-scorer-us-east-1-v3-tg")["id"].split(":", 5)[5]
    p99 = next(w for w in widgets if w["properties"].get("title") == "us-east-1: scorer v3 p99 latency")
    assert p99["properties"]["metrics"][0][:4] == [
        "AWS/ApplicationELB",
        "TargetResponseTime",
        "TargetGroup",
        group,
    ]


# ---------------------------------------------------------------------------------------------------------
# mlops inventory


def shipped_rows(synth):
    return [
        *rows_of("team-fraud-dev", team("team-fraud-dev"), synth("team-fraud-dev")),
        *rows_of("team-fraud-prod", team("team-fraud-prod"), synth("team-fraud-prod")),
        *rows_of("team-recsys-prod", team("team-recsys-prod"), synth("team-recsys-prod")),
    ]


def test_inventory_rows_of_the_shipped_team_stacks(synth):
    rows = shipped_rows(synth)
    assert [(r.stack, r.model, r.version) for r in rows] == [
        ("team-fraud-dev", "embedder", "v1"),
        ("team-fraud-dev", "embedder", "v2"),
        ("team-fraud-dev", "scorer", "v3"),
        ("team-fraud-prod", "embedder", "v1"),
        ("team-fraud-prod", "embedder", "v2"),
        ("team-fraud-prod", "scorer", "v3"),
        ("team-recsys-prod", "ranker", "v1"),
    ]
    scorer = rows[5]
    assert (scorer.team, scorer.environment, scorer.regions, scorer.namespace, scorer.weight) == (
        "fraud",
        "prod",
        ("us-east-1", "us-west-2"),
        "team-fraud",
        100,
    )
    assert scorer.image == SCORER and scorer.digest == SCORER.split("@")[1]
    assert (scorer.commit, scorer.license, scorer.run, scorer.owner_group) == (
        "3f9c2a7d1e4b5c6a8d0f1e2b3c4d5e6f7a8b9c0d",
        "Apache-2.0",
        "models:/fraud-scorer/3",
        "fraud-ml-engineers",
    )
    assert (scorer.min_replicas, scorer.max_replicas) == (3, 12)  # its ScaledObject (rps-target)
    assert (rows[3].weight, rows[4].weight, rows[4].min_replicas, rows[4].max_replicas) == (
        90,
        10,
        2,
        6,
    )  # HPA
    assert rows[0].digest == ""  # dev images are tags
    ranker = rows[6]
    assert (ranker.team, ranker.regions, ranker.namespace, ranker.license, ranker.owner_group) == (
        "recsys",
        ("us-east-1",),
        "team-recsys",
        "MIT",
        "recsys-ml-engineers",
    )
    assert (ranker.min_replicas, ranker.max_replicas) == (2, 8)


def test_inventory_formats_parse_back(synth):
    rows = shipped_rows(synth)
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert len(parsed) == 7 and list(parsed[0]) == list(COLUMNS)
    assert parsed[5]["regions"] == "us-east-1;us-west-2" and parsed[5]["license"] == "Apache-2.0"
    assert parsed[4]["image"] == EMBEDDER_V2 and parsed[4]["weight"] == "10"
    document = json.loads(render(rows, "json"))
    assert document[5]["regions"] == ["us-east-1", "us-west-2"] and document[5]["max_replicas"] == 12
    markdown = render(rows, "markdown").splitlines()
    assert len(markdown) == 2 + 7
    assert markdown[0] == "| " + " | ".join(COLUMNS) + " |"
    assert markdown[1] == "| " + " | ".join("---" for _ in COLUMNS) + " |"
    assert all(
        line.startswith("| ") and line.endswith(" |") and line.count(" | ") == len(COLUMNS) - 1
        for line in markdown
    )
    assert "| embedder | v2 |" in markdown[6]
    text = render(rows, "text").splitlines()
    assert text[0].split() == list(COLUMNS) and len(text) == 8 and text[6].split()[4] == "v3"
    assert parsed[6]["stack"] == "team-recsys-prod" and parsed[6]["license"] == "MIT"


def stand_in_kubectl(directory: Path, answers: dict[str, dict]) -> Path:
    """A `kubectl` that logs its argv and answers, for `--context C`, `get deployments -n NS ...` with
    the items of ``answers[C]["deployments"]`` in NS and `get pods -l SELECTOR ...` with ``answers[C]["pods"][SELECTOR]`` (no pods
    when the selector is not there)."""
    log = directory / "kubectl.log"
    script = directory / "kubectl"
    script.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        args = sys.argv[1:]
        with open({str(log)!r}, "a") as log:
            log.write(json.dumps(args) + "\\n")
        context = args[args.index("--context") + 1]
        answers = {answers!r}
        if context not in answers:
            sys.exit(f'error: context "{{context}}" does not exist')
        if args[1] == "pods":
            print(json.dumps(answers[context].get("pods", {{}}).get(args[args.index("-l") + 1], {{"items": []}})))
        else:
            namespace = args[args.index("-n") + 1]
            items = answers[context]["deployments"]["items"]
            print(json.dumps({{"items": [i for i in items if i["metadata"]["namespace"] == namespace]}}))
        """)
    )
    script.chmod(0o755)
    return log


def live_deployment(
    name: str,
    image: str,
    ready: int,
    updated: int | None = None,
    available: int | None = None,
    lag: int = 0,
    namespace: str = "team-fraud",
) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace, "generation": 4},
        "spec": {"template": {"spec": {"containers": [{"name": "model", "image": image}]}}},
        "status": {
            "observedGeneration": 4 - lag,
            "readyReplicas": ready,
            "updatedReplicas": ready if updated is None else updated,
            "availableReplicas": ready if available is None else available,
        },
    }


def pods(*image_ids: str) -> dict:
    """Pods as `kubectl get pods -o json` lists them: the `model` container's image ID beside a sidecar's."""
    sidecar = "docker.io/istio/proxyv2@sha256:" + "e" * 64
    return {
        "items": [
            {
                "status": {
                    "containerStatuses": [
                        {"name": "proxy", "imageID": sidecar},
                        {"name": "model", "imageID": image_id},
                    ]
                }
            }
            for image_id in image_ids
        ]
    }


def in_sync(rows) -> dict:
    return {
        "deployments": {
            "items": [
                live_deployment(r.deployment, r.image, r.min_replicas, namespace=r.namespace) for r in rows
            ]
        },
        # dockershim's image ID (docker-pullable://) and containerd's (the bare repo@digest)
        "pods": {
            f"app={r.model},version={r.version}": pods(f"docker-pullable://{r.image}", r.image) for r in rows
        },
    }


OLD_DIGEST = "sha256:" + "0" * 64


def test_live_reports_running_digests_and_replicas_and_drift(synth, tmp_path):
    """The digest a pod runs is in its `status.containerStatuses[].imageID` (Kubernetes API reference, Pod v1
    ContainerStatus: "imageID: ImageID is the image ID of the container's image", the runtime's reference by
    digest, https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#PodStatus); a
    Deployment's `updatedReplicas`/`availableReplicas` count pods of its current template only once
    `status.observedGeneration` has caught up with `metadata.generation`
    (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#deployment-status)."""
    rows = [r for r in shipped_rows(synth) if r.stack == "team-fraud-prod"]
    embedder_v1, scorer = rows[0], rows[2]
    drifted_scorer = SCORER.replace("d5fdb5", "000000")
    drifted = {
        "deployments": {
            "items": [
                live_deployment("scorer-v3", drifted_scorer, 3),
                # 2 ready, but only 1 of the current template and not yet observed
                live_deployment("embedder-v1", embedder_v1.image, 2, updated=1, available=2, lag=1),
                live_deployment(
                    "embedder-old", embedder_v1.image, 2
                ),  # not in the stack; embedder-v2 is missing
            ]
        },
        "pods": {
            # One pod of the pinned digest, one of another (containerd's imageID form)
            "app=scorer,version=v3": pods(
                f"docker-pullable://{scorer.image}", scorer.image.split("@")[0] + "@" + OLD_DIGEST
            ),
            "app=embedder,version=v1": pods(embedder_v1.image, "sha256:" + "1" * 64),  # no repo@: unknown
        },
    }
    log = stand_in_kubectl(tmp_path, {"use1": in_sync(rows), "usw2": drifted})
    kubectl = str(tmp_path / "kubectl")
    drift, live, compared = live_drift(rows, {(None, "us-east-1"): "use1"}, kubectl)
    assert (drift, compared) == ([], 1)
    assert render_drift(drift, live, compared).splitlines() == [
        f"live: team-fraud-prod us-east-1: embedder v1 runs {rows[0].digest}; replicas ready 2, updated 2, "
        "available 2",
        f"live: team-fraud-prod us-east-1: embedder v2 runs {rows[1].digest}; replicas ready 2, updated 2, "
        "available 2",
        f"live: team-fraud-prod us-east-1: scorer v3 runs {scorer.digest}; replicas ready 3, updated 3, "
        "available 3",
        "live: no drift (1 stack regions compared)",
    ]
    drift, live, compared = live_drift(
        rows, {("prod", "us-east-1"): "use1", (None, "us-west-2"): "usw2"}, kubectl
    )
    assert compared == 2
    assert [(d.region, d.what) for d in drift if d.region == "us-west-2"] == [
        (
            "us-west-2",
            "embedder v1 (team-fraud/embedder-v1): a pod runs ?, the stack pins " + embedder_v1.digest,
        ),
        (
            "us-west-2",
            "embedder v1 (team-fraud/embedder-v1): the controller has not yet observed the current spec",
        ),
        (
            "us-west-2",
            "embedder v1 (team-fraud/embedder-v1): 1 updated and 2 available replicas, below min-replicas 2",
        ),
        ("us-west-2", "embedder v2 (team-fraud/embedder-v2): not in the cluster"),
        (
            "us-west-2",
            f"scorer v3 (team-fraud/scorer-v3): its template has {drifted_scorer}, the stack declares {SCORER}",
        ),
        (
            "us-west-2",
            f"scorer v3 (team-fraud/scorer-v3): a pod runs {OLD_DIGEST}, the stack pins {scorer.digest}",
        ),
        ("us-west-2", "team-fraud/embedder-old: a model version the stack does not declare"),
    ]
    west = [
        line
        for line in render_drift(drift, live, compared).splitlines()
        if "live: " in line and "us-west-2" in line
    ]
    assert west == [
        f"live: team-fraud-prod us-west-2: embedder v1 runs ?, {embedder_v1.digest}; replicas ready 2, "
        "updated 1, available 2 (spec not yet observed)",
        f"live: team-fraud-prod us-west-2: scorer v3 runs {OLD_DIGEST}, {scorer.digest}; replicas ready 3, "
        "updated 3, available 3",
    ]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # per region: the Deployments, then the pods of each version found (embedder v2 is missing: no pods query)
    assert [(c[1], c[5] if c[1] == "pods" else "") for c in calls if c[-1] == "usw2"] == [
        ("deployments", ""),
        ("pods", "app=embedder,version=v1"),
        ("pods", "app=scorer,version=v3"),
    ]
    assert calls[-1] == [
        "get",
        "pods",
        "-n",
        "team-fraud",
        "-l",
        "app=scorer,version=v3",
        "-o",
        "json",
        "--context",
        "usw2",
    ]
    deployments = [c for c in calls if c[1] == "deployments"]
    assert deployments[-1] == [
        "get",
        "deployments",
        "-n",
        "team-fraud",
        "-l",
        "mlops.platform/purpose=model-version",
        "-o",
        "json",
        "--context",
        "usw2",
    ]


def test_the_pods_query_selects_by_the_deployments_selector_labels(synth):
    """`get pods -l app=<model>,version=<v>`: the labels the version's Deployment selects its pods by."""
    deployment = by_name(synth("team-fraud-prod"), "fraud-scorer-us-east-1-v3")["inputs"]
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "scorer", "version": "v3"}
    template = deployment["spec"]["template"]["metadata"]["labels"]
    assert (template["app"], template["version"]) == ("scorer", "v3")


def test_image_id_digests():
    digest = "sha256:" + "a" * 64
    assert image_id_digest(f"docker-pullable://123.dkr.ecr.us-east-1.amazonaws.com/m@{digest}") == digest
    assert image_id_digest(f"123.dkr.ecr.us-east-1.amazonaws.com/m@{digest}") == digest
    assert image_id_digest(digest) == "?"  # an image's own ID, not a reference by digest
    assert image_id_digest("") == "?"


def test_contexts_are_keyed_by_platform_and_region(synth, tmp_path):
    rows = shipped_rows(synth)  # team-fraud-dev on platform dev; team-fraud-prod, team-recsys-prod on prod
    assert parse_contexts(["prod:us-east-1=a", "us-west-2=b"]) == {
        ("prod", "us-east-1"): "a",
        (None, "us-west-2"): "b",
    }
    with pytest.raises(ConfigError) as ambiguous:
        live_drift(rows, {(None, "us-east-1"): "a"})
    assert str(ambiguous.value) == (
        "--context: us-east-1=a is ambiguous: the selected stacks are on platforms dev, prod; "
        "allowed: PLATFORM:REGION=CONTEXT"
    )
    with pytest.raises(ConfigError) as unmatched:
        live_drift(rows, {("prod", "eu-west-1"): "a"})
    assert str(unmatched.value) == (
        "--context: prod:eu-west-1=a matches no selected stack; allowed: a region the selected stacks serve in "
        "(dev:us-east-1, prod:us-east-1, prod:us-west-2)"
    )
    with pytest.raises(ConfigError) as nothing:
        live_drift([], {(None, "us-east-1"): "a"})
    assert "matches no selected stack" in str(nothing.value)
    # dev and prod in the same region, each with its own cluster: no false drift from sharing one context.
    answers = {
        "dev-use1": in_sync([r for r in rows if r.stack == "team-fraud-dev"]),
        "prod-use1": in_sync([r for r in rows if r.stack != "team-fraud-dev"]),
    }
    log = stand_in_kubectl(tmp_path, answers)
    drift, live, compared = live_drift(
        rows,
        {("dev", "us-east-1"): "dev-use1", ("prod", "us-east-1"): "prod-use1"},
        str(tmp_path / "kubectl"),
    )
    assert (drift, compared) == ([], 3)
    assert [(s.stack, s.model, s.version) for s in live] == [(r.stack, r.model, r.version) for r in rows]
    contexts = {
        (call[3], call[-1])
        for call in map(json.loads, log.read_text().splitlines())
        if call[1] == "deployments"
    }
    assert contexts == {("team-fraud", "dev-use1"), ("team-fraud", "prod-use1"), ("team-recsys", "prod-use1")}


def test_mlops_inventory_all_lists_every_shipped_model_version_and_live_drift_exits_1(synth, tmp_path):
    rows = shipped_rows(synth)
    answers = {"use1": {"deployments": {"items": []}}}
    stand_in_kubectl(tmp_path, answers)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    listed = run_mlops("inventory", "--all", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["stack"], r["model"], r["version"]) for r in json.loads(listed.stdout)] == [
        (r.stack, r.model, r.version) for r in rows
    ]
    live = run_mlops("inventory", "team-fraud-prod", "--live", "--context", "us-east-1=use1", env=env)
    assert live.returncode == 1, live.stderr
    assert (
        "drift: team-fraud-prod us-east-1: scorer v3 (team-fraud/scorer-v3): not in the cluster"
        in live.stdout
    )
    missing = run_mlops("inventory", "team-fraud-prod", "--live", "--context", "us-east-1=nope", env=env)
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith('--context nope: error: context "nope" does not exist')
    assert missing.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["prod"],
            "mlops:platform: a platform stack has no models; allowed: a team stack (team-<team>-<env>)",
        ),
        (["--all", "--format", "xml"], "--format: 'xml' is not allowed; allowed: text, json, markdown, csv"),
        (["--all", "--live"], "--context: missing; --live needs [PLATFORM:]REGION=CONTEXT"),
        (["--all", "--live", "--context", "use1"], "--context: 'use1' is not [PLATFORM:]REGION=CONTEXT"),
        (
            ["--all", "--live", "--context", ":us-east-1=a"],
            "--context: ':us-east-1=a' is not [PLATFORM:]REGION",
        ),
        (
            ["--all", "--live", "--context", "us-east-1=a"],
            "--context: us-east-1=a is ambiguous: the selected stacks are on platforms dev, prod",
        ),
        (
            ["team-fraud-prod", "--live", "--context", "eu-west-1=a"],
            "--context: prod:eu-west-1=a matches no selected stack",
        ),
        (
            ["--all", "team-fraud-prod"],
            "--all: names every team stack; it cannot be combined with STACK names",
        ),
    ],
)
def test_inventory_user_errors_are_one_line(args, message):
    result = run_mlops("inventory", *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_outputs_without_alarm_thresholds_still_parse_and_give_the_defaults(synth):
    from components.outputs import ObservabilityOutputs
    from components.serving.monitoring import thresholds_of

    exported = dict(synth("prod", deployed=True)["outputs"]["observability"])
    older = ObservabilityOutputs.model_validate({k: v for k, v in exported.items() if k != "alarmThresholds"})
    assert older.alarm_thresholds is None
    defaults = thresholds_of(None)
    assert (defaults.load_balancer_5xx_percent, defaults.p99_latency_seconds, defaults.period_seconds) == (
        5,
        2,
        60,
    )
    prod = thresholds_of(ObservabilityOutputs.model_validate(exported).alarm_thresholds)
    assert (prod.load_balancer_5xx_percent, prod.p99_latency_seconds, prod.node_cpu_percent) == (2, 1, 80)
