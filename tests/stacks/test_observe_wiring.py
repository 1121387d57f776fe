"""Identity, observability and DNS wired into the shipped stacks."""

from __future__ import annotations

import json

from mlops.synth import UNKNOWN
from tests.conftest import by_name, states


def test_prod_has_sso_access_alarms_trail_metrics_and_serving_names(synth):
    document = synth("prod")
    assert len(states(document, "aws:ssoadmin/permissionSet:PermissionSet")) == 3
    assert len(states(document, "aws:ssoadmin/accountAssignment:AccountAssignment")) == 3
    for region in ("us-east-1", "us-west-2"):
        cluster = by_name(document, f"cluster-{region}-eks")
        admin = by_name(document, f"identity-{region}-platform-admin-policy")["inputs"]
        assert admin["clusterName"] == cluster["inputs"]["name"]
        assert admin["accessScope"] == {"type": "cluster"}
        engineer = by_name(document, f"identity-{region}-ml-engineer-policy")["inputs"]
        assert engineer["accessScope"] == {"type": "namespace", "namespaces": ["models"]}
        assert engineer["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
    trail = by_name(document, "observability-trail-trail")["inputs"]
    assert trail["isMultiRegionTrail"] is True and trail["enableLogFileValidation"] is True
    assert trail["kmsKeyId"].startswith("arn:aws:kms:us-east-1:333333333333:key/")
    alarms = states(document, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) >= 8
    topics = {t["inputs"]["name"]: t for t in states(document, "aws:sns/topic:Topic")}
    for alarm in alarms:
        region = "us-east-1" if "-us-east-1-" in alarm["inputs"]["name"] else "us-west-2"
        assert alarm["inputs"]["alarmActions"] == [
            f"arn:aws:sns:{region}:333333333333:mlops-prod-{region}-alerts"
        ]
        assert topics[f"mlops-prod-{region}-alerts"]["inputs"]["kmsMasterKeyId"].startswith(
            f"arn:aws:kms:{region}:333333333333:key/"
        )
    node_cpu = by_name(document, "observability-us-west-2-node-cpu")["inputs"]
    assert node_cpu["dimensions"] == {
        "ClusterName": by_name(document, "cluster-us-west-2-eks")["inputs"]["name"]
    }
    assert node_cpu["threshold"] == 80
    queue = by_name(document, "observability-us-east-1-interruption-queue-age")["inputs"]
    assert queue["namespace"] == "AWS/SQS" and queue["threshold"] == 120
    # The dashboard names the serving ALBs, which the platform reads once the controller made them: unknown in
    # a preview of a new stack, known once deployed.
    assert by_name(document, "observability-dashboard")["inputs"]["dashboardBody"] == UNKNOWN
    deployed = synth("prod", deployed=True)
    body = json.loads(by_name(deployed, "observability-dashboard")["inputs"]["dashboardBody"])
    assert {"node_cpu_utilization", "ApproximateAgeOfOldestMessage"} <= {
        line[1] for w in body["widgets"] if w["type"] == "metric" for line in w["properties"]["metrics"]
    }
    assert len(states(document, "aws:amp/workspace:Workspace")) == 2
    grafana = states(document, "aws:grafana/workspace:Workspace")[0]["inputs"]
    assert grafana["authenticationProviders"] == ["AWS_SSO"]
    # The routed, health-checked model names are the team stacks' (tests/stacks/test_serving_dns.py); the
    # platform names each region's serving ALB, MLflow and the Argo server.
    records = sorted(r["inputs"]["name"] for r in states(document, "aws:route53/record:Record"))
    assert records == [
        "*.us-east-1.models.example.com",
        "*.us-west-2.models.example.com",
        "argo.prod.mlops.internal",
        "mlflow.prod.mlops.internal",
    ]
    assert states(document, "aws:route53/healthCheck:HealthCheck") == []
    outputs = document["outputs"]
    assert set(outputs["identity"]["permissionSetArns"]) == {"platform-admin", "ml-engineer", "read-only"}
    assert (
        outputs["observability"]["trailArn"]
        == "arn:aws:cloudtrail:us-east-1:333333333333:trail/mlops-prod-trail"
    )
    assert set(outputs["observability"]["ampWorkspaceIds"]) == {"us-east-1", "us-west-2"}
    assert outputs["dns"]["hostedZoneId"].startswith("Z")


def test_staging_roles_without_suffix_have_no_access_entries_and_publish_latency_routing(synth):
    document = synth("staging")
    assert not [s for s in states(document, "aws:eks/accessEntry:AccessEntry") if "::identity-" in s["urn"]]
    assert document["outputs"]["dns"]["routing"] == "latency"
    wildcard = by_name(document, "serving-us-east-1-record")["inputs"]
    assert wildcard["name"] == "*.us-east-1.staging.models.example.com"
    assert "latencyRoutingPolicies" not in wildcard and "setIdentifier" not in wildcard
