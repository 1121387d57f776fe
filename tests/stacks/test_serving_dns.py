"""The serving path's names across the platform and team stacks: the serving ALB the platform owns per region,
the team models' hosts and certificates on it, and their health-checked routed records.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from mlops.synth import UNKNOWN
from tests.conftest import STACKS, by_name, edit_stack_file, run_mlops, states, to_byo_cluster
from tests.kube import manifests

ALB = "alb.ingress.kubernetes.io"
# The load balancer's "Exclusive" annotations: set on one Ingress of an IngressGroup or with the same value on
# all of them (aws-load-balancer-controller v2.13.2 docs/guide/ingress/annotations.md, MergeBehavior column).
# listen-ports is "Merge" (merged across the group), kept equal so no Ingress adds a listener; group.name names
# the group itself.
GROUP_SETTINGS = (
    "scheme",
    "ssl-policy",
    "load-balancer-attributes",
    "load-balancer-name",
    "listen-ports",
    "group.name",
)


def test_every_team_ingress_agrees_with_the_platforms_serving_entry(synth):
    platform, team = synth("prod", deployed=True), synth("team-fraud-prod")
    for region in ("us-east-1", "us-west-2"):
        entry = by_name(platform, f"serving-{region}-ingress")["inputs"]["metadata"]["annotations"]
        models = [m for m in manifests(team) if m["kind"] == "Ingress"]
        assert len(models) == 4  # two models in two regions
        for ingress in (m for m in models if region in m["spec"]["rules"][1]["host"]):
            annotations = ingress["metadata"]["annotations"]
            for key in GROUP_SETTINGS:
                assert annotations[f"{ALB}/{key}"] == entry[f"{ALB}/{key}"], key
            # The team's certificate is the one the platform publishes for the region.
            assert (
                annotations[f"{ALB}/certificate-arn"] == platform["outputs"]["dns"]["certificateArns"][region]
            )
            assert (
                "defaultBackend" not in ingress["spec"]
            )  # only the entry sets the listener's default action


def test_serving_entry_owns_the_alb_and_names_the_region(synth):
    """An Ingress needs rules or a default backend; the entry's default backend is a fixed 404 (annotation
    action), so the ALB exists from the platform's deployment on, with no service behind it. The ALB is read
    by its name once the entry Ingress exists: in a preview of a new platform that lookup depends on an Ingress
    pending creation, which the engine answers with an unknown result (pulumi sdk/python
    pulumi/runtime/invoke.py: "The engine declines to service an invoke whose dependencies are pending
    creation"), so the record's target is unknown there and known once deployed."""
    fresh = synth("prod")
    lookups = [i for i in fresh["invokes"] if i["token"] == "aws:lb/getLoadBalancer:getLoadBalancer"]
    assert [(i["args"], i["result"]) for i in lookups] == [({"name": "mlops-prod-serving"}, "unknown")] * 2
    assert sorted(i["pendingDependencies"][0].rsplit("::", 1)[1] for i in lookups) == [
        "serving-us-east-1-ingress",
        "serving-us-west-2-ingress",
    ]
    assert by_name(fresh, "serving-us-east-1-record")["inputs"]["aliases"][0]["name"] == UNKNOWN
    prod = synth("prod", deployed=True)
    assert {i["result"] for i in prod["invokes"]} == {"known"}
    for region in ("us-east-1", "us-west-2"):
        ingress = by_name(prod, f"serving-{region}-ingress")
        spec = ingress["inputs"]["spec"]
        assert spec["defaultBackend"] == {
            "service": {"name": "not-found", "port": {"name": "use-annotation"}}
        }
        action = json.loads(ingress["inputs"]["metadata"]["annotations"][f"{ALB}/actions.not-found"])
        assert action["type"] == "fixed-response" and action["fixedResponseConfig"]["statusCode"] == "404"
        assert by_name(prod, f"cluster-{region}-lbc")["urn"] in ingress["dependencies"]
        serving = prod["outputs"]["regions"][region]["serving"]
        record = by_name(prod, f"serving-{region}-record")["inputs"]
        assert record["name"] == f"*.{region}.models.example.com" and record["type"] == "A"
        assert record["aliases"] == [
            {
                "name": serving["loadBalancerDnsName"],
                "zoneId": serving["loadBalancerZoneId"],
                "evaluateTargetHealth": False,
            }
        ]
        assert serving["loadBalancerArnSuffix"].startswith("app/mlops-prod-serving/")
        # The platform's load-balancer alarms name the same ALB.
        latency = by_name(prod, f"observability-{region}-serving-p99-latency")["inputs"]
        assert latency["dimensions"] == {"LoadBalancer": serving["loadBalancerArnSuffix"]}


def test_routed_model_names_fail_over_on_cloudwatch_health(synth):
    """Route 53 health checkers probe from the internet and cannot reach internal ALBs; a CLOUDWATCH_METRIC
    health check reads an alarm instead (Route 53 Developer Guide, "Monitoring a CloudWatch alarm"), and a
    CALCULATED one combines the versions. The alarm names the target group and the ALB the controller made
    (AWS/ApplicationELB HealthyHostCount has the TargetGroup and LoadBalancer dimensions)."""
    platform, team = synth("prod", deployed=True), synth("team-fraud-prod")
    zone = platform["outputs"]["dns"]["hostedZoneId"]
    roles = {"us-east-1": "PRIMARY", "us-west-2": "SECONDARY"}
    for region, role in roles.items():
        serving = platform["outputs"]["regions"][region]["serving"]
        ingress = by_name(team, f"fraud-embedder-{region}-route")
        for version in ("v1", "v2"):
            alarm = by_name(team, f"fraud-embedder-{region}-dns-{version}-healthy")["inputs"]
            assert alarm["namespace"] == "AWS/ApplicationELB" and alarm["metricName"] == "HealthyHostCount"
            assert alarm["dimensions"]["LoadBalancer"] == serving["loadBalancerArnSuffix"]
            # The version's own target group, a resource of the team stack (no lookup); CloudWatch names it by
            # the final portion of its ARN, targetgroup/<name>/<id> (ELB User Guide, "CloudWatch metrics for
            # your Application Load Balancer", dimension TargetGroup).
            group = by_name(team, f"fraud-embedder-{region}-{version}-tg")
            assert alarm["dimensions"]["TargetGroup"] == group["id"].split(":", 5)[5]
            assert alarm["dimensions"]["TargetGroup"].startswith("targetgroup/fraud-embedder-")
            assert (
                group["urn"]
                in by_name(team, f"fraud-embedder-{region}-dns-{version}-healthy")["dependencies"]
            )
            assert (alarm["comparisonOperator"], alarm["threshold"], alarm["statistic"]) == (
                "LessThanThreshold",
                1,
                "Minimum",
            )
            assert alarm["treatMissingData"] == "breaching"
            assert (
                ingress["urn"]
                not in by_name(team, f"fraud-embedder-{region}-dns-{version}-healthy")["dependencies"]
            )
            check = by_name(team, f"fraud-embedder-{region}-dns-{version}-health")["inputs"]
            assert check["type"] == "CLOUDWATCH_METRIC"
            assert (check["cloudwatchAlarmName"], check["cloudwatchAlarmRegion"]) == (alarm["name"], region)
        calculated = by_name(team, f"fraud-embedder-{region}-dns-health")
        assert (
            calculated["inputs"]["type"] == "CALCULATED" and calculated["inputs"]["childHealthThreshold"] == 1
        )
        assert len(calculated["inputs"]["childHealthchecks"]) == 2
        record = by_name(team, f"fraud-embedder-{region}-dns-record")
        assert record["inputs"]["zoneId"] == zone
        assert (
            record["inputs"]["name"] == "embedder-fraud.models.example.com"
            and record["inputs"]["type"] == "A"
        )
        assert record["inputs"]["aliases"] == [
            {
                "name": serving["loadBalancerDnsName"],
                "zoneId": serving["loadBalancerZoneId"],
                "evaluateTargetHealth": True,
            }
        ]
        assert record["inputs"]["setIdentifier"] == region
        assert record["inputs"]["failoverRoutingPolicies"] == [{"type": role}]
        assert record["inputs"]["healthCheckId"] == calculated["id"]
    assert states(team, "aws:route53/healthCheck:HealthCheck")
    assert not [
        c for c in states(team, "aws:route53/healthCheck:HealthCheck") if c["inputs"]["type"] == "HTTPS"
    ]


def test_single_region_models_get_a_plain_record(synth):
    dev = synth("team-fraud-dev")
    records = states(dev, "aws:route53/record:Record")
    assert records and all(
        "setIdentifier" not in r["inputs"] and "healthCheckId" not in r["inputs"] for r in records
    )
    assert {r["inputs"]["name"] for r in records} <= {
        f"{m}-fraud.dev.models.example.com" for m in ("scorer", "embedder")
    }


def team_document(value: dict) -> dict:
    return {"config": {"mlops:team": value}}


def copy_stacks(tmp_path):
    for path in STACKS.glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path)


def test_a_team_without_host_or_certificate_is_a_config_error(tmp_path):
    """A team on a platform with no DNS zone and certificate must name its own; otherwise its HTTPS listener
    could never be configured."""
    copy_stacks(tmp_path)
    platform = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    del platform["config"]["mlops:platform"]["dns"]
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(platform))
    for command in (["team", "validate", "team-fraud-dev"], ["preview", "team-fraud-dev"]):
        result = run_mlops(*command, "--stacks-dir", str(tmp_path))
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"error: {tmp_path / 'Pulumi.team-fraud-dev.yaml'}: mlops:team.ingress: missing; platform stack 'dev' "
            "publishes no DNS zone and certificate for us-east-1 (its dns section); allowed: ingress.domain and "
            "ingress.certificate-arns for us-east-1\n"
        )
    team = yaml.safe_load((tmp_path / "Pulumi.team-fraud-dev.yaml").read_text())
    team["config"]["mlops:team"]["ingress"] = {
        "domain": "fraud.example.org",
        "certificate-arns": {"us-east-1": "arn:aws:acm:us-east-1:111111111111:certificate/fraud"},
    }
    (tmp_path / "Pulumi.team-fraud-dev.yaml").write_text(yaml.safe_dump(team))
    preview = run_mlops("preview", "team-fraud-dev", "--stacks-dir", str(tmp_path), "--json")
    assert preview.returncode == 0, preview.stderr
    document = json.loads(preview.stdout)
    [ingress] = [
        m for m in manifests(document) if m["kind"] == "Ingress" and m["metadata"]["name"] == "scorer"
    ]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [
        "scorer-fraud.fraud.example.org",
        "scorer-fraud.us-east-1.fraud.example.org",
    ]
    assert ingress["metadata"]["annotations"][f"{ALB}/certificate-arn"] == (
        "arn:aws:acm:us-east-1:111111111111:certificate/fraud"
    )
    # The team's own domain: its DNS is its own, no record in a zone the platform does not have.
    assert states(document, "aws:route53/record:Record") == []


def test_a_byo_platforms_zone_cannot_name_team_models(tmp_path):
    """A byo cluster gets no serving load balancer from the platform (its load balancer controller is not
    installed there), so a team on it names its own domain: a config error offline, not a failed lookup."""
    copy_stacks(tmp_path)
    edit_stack_file(tmp_path, "dev", lambda config: to_byo_cluster(config["mlops:platform"]))

    def cpu_scaling(config):
        for model in config["mlops:team"]["models"]:
            model["autoscaling"] = {"min-replicas": 1, "max-replicas": 2, "cpu-target": 70}

    edit_stack_file(tmp_path, "team-fraud-dev", cpu_scaling)
    result = run_mlops("team", "validate", "team-fraud-dev", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.team-fraud-dev.yaml'}: mlops:team.ingress: missing; platform stack 'dev' owns no "
        "serving load balancer in us-east-1 (a byo cluster), so its zone dev.models.example.com cannot name the "
        "team's models; allowed: ingress.domain and ingress.certificate-arns for us-east-1\n"
    )


def validate_with_team_certificate(tmp_path, arn: str):
    """`mlops team validate` of the dev team stack with its own domain and this certificate for us-east-1."""
    copy_stacks(tmp_path)
    edit_stack_file(
        tmp_path,
        "team-fraud-dev",
        lambda config: config["mlops:team"].__setitem__(
            "ingress", {"domain": "fraud.example.org", "certificate-arns": {"us-east-1": arn}}
        ),
    )
    return run_mlops("team", "validate", "team-fraud-dev", "--stacks-dir", str(tmp_path))


def test_a_team_certificate_in_another_region_is_a_config_error(tmp_path):
    result = validate_with_team_certificate(tmp_path, "arn:aws:acm:eu-west-1:111111111111:certificate/fraud")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.team-fraud-dev.yaml'}: mlops:team.ingress.certificate-arns.us-east-1: "
        "'arn:aws:acm:eu-west-1:111111111111:certificate/fraud' is in another region; allowed: a certificate in "
        "us-east-1 (a load balancer can only use certificates of its own region)\n"
    )


def test_rps_scaling_without_the_platforms_prometheus_is_a_config_error(tmp_path):
    copy_stacks(tmp_path)
    platform = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    del platform["config"]["mlops:platform"]["observability"]
    del platform["config"]["mlops:platform"]["cost"]["opencost"]  # it needs the workspace too, refused first
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(platform))
    result = run_mlops("team", "validate", "team-fraud-prod", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.team-fraud-prod.yaml'}: mlops:team.models[0].autoscaling.rps-target: needs the "
        "managed Prometheus of platform stack 'prod' in us-east-1 (its observability section with "
        "prometheus-encryption aws-owned, on an eks cluster); allowed there: cpu-target or keda\n"
    )


def test_a_serving_platform_without_a_regions_certificate_is_a_config_error(tmp_path):
    copy_stacks(tmp_path)
    platform = yaml.safe_load((tmp_path / "Pulumi.prod.yaml").read_text())
    del platform["config"]["mlops:platform"]["dns"]["certificate-arns"]["us-west-2"]
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump(platform))
    result = run_mlops("preview", "prod", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.prod.yaml'}: mlops:platform.dns.certificate-arns.us-west-2: missing; the serving "
        "load balancer of us-west-2 listens on HTTPS only and needs an ACM certificate there for "
        "*.models.example.com and *.us-west-2.models.example.com\n"
    )


def test_alb_quota_usage_counts_target_groups_rules_certificates_and_targets():
    """Per Application Load Balancer: 100 target groups (not adjustable), 100 rules besides the default, 25
    certificates besides the default, 1,000 targets ("Quotas for your Application Load Balancers", ELB User
    Guide)."""
    from components.serving.ingress import ALB_QUOTAS, quota_excess, serving_alb_usage

    assert ALB_QUOTAS == {
        "target groups": (100, False),
        "rules": (100, True),
        "certificates": (25, True),
        "targets": (1000, True),
    }
    usage = serving_alb_usage([(2, 6, "arn:p"), (1, 3, "arn:p"), (3, 2, "arn:team")], "arn:p")
    assert usage == {"target groups": 6, "rules": 12, "certificates": 1, "targets": 2 * 6 + 3 + 3 * 2}
    assert serving_alb_usage([(1, 1, "arn:b"), (1, 1, "arn:a")], None)["certificates"] == 1
    assert quota_excess({"target groups": 101, "rules": 100, "certificates": 0, "targets": 1001}) == [
        "101 target groups (quota 100 per ALB, not adjustable)",
        "1001 targets (quota 1000 per ALB, adjustable in Service Quotas)",
    ]


def test_team_stacks_that_together_overflow_the_shared_alb_are_a_config_error(tmp_path):
    """Every team stack on a platform shares its serving ALB in a region: a new team whose models would take
    it past 100 target groups is refused by `mlops team validate` and `mlops preview`, naming the teams: fraud's 3
    (scorer v3, embedder v1 and v2), recsys's 1 and the new team's 100."""
    copy_stacks(tmp_path)
    team = yaml.safe_load((tmp_path / "Pulumi.team-fraud-prod.yaml").read_text())["config"]["mlops:team"]
    image = team["models"][1]["versions"][0]["image"]
    provenance = {key: team["models"][1]["versions"][0][key] for key in ("source", "license", "run")}
    team.update(name="risk", ingress=None)
    team.pop("ingress")
    team["data-access"] = [{"prefix": "teams/risk/", "access": "read-write"}]  # its own prefix
    team["owners"]["role-arn"] = team["owners"]["role-arn"].replace(
        "mlops-fraud", "mlops-risk"
    )  # its own role
    team["quotas"] = {"cpu": "512", "memory": "2048Gi", "gpus": 0, "pods": 400}
    team.pop("pipelines", None)  # they name the fraud team's models
    team.pop("graphs", None)
    team["models"] = [
        {
            "name": f"m{index}",
            "autoscaling": {"min-replicas": 1, "max-replicas": 2, "cpu-target": 70},
            # with the provenance prod requires, taken from the fraud team's version
            "versions": [{"name": f"v{v}", "image": image, "weight": 20, **provenance} for v in range(5)],
        }
        for index in range(20)
    ]
    (tmp_path / "Pulumi.team-risk-prod.yaml").write_text(yaml.safe_dump({"config": {"mlops:team": team}}))
    for command in (["team", "validate", "team-risk-prod"], ["preview", "team-fraud-prod"]):
        result = run_mlops(*command, "--stacks-dir", str(tmp_path))
        assert result.returncode == 2, result.stderr
        name = command[-1]
        assert result.stderr == (
            f"error: {tmp_path / f'Pulumi.{name}.yaml'}: mlops:team.models: the serving ALB of platform stack 'prod' "
            "in us-east-1 would need 104 target groups (quota 100 per ALB, not adjustable) with the models of teams "
            "fraud, recsys, risk; allowed: fewer versions, replicas or certificates (or a raised quota where adjustable)\n"
        )


@pytest.mark.parametrize(
    ("stack", "edit", "key"),
    [
        (
            "prod",
            lambda c: c["mlops:platform"]["dns"]["certificate-arns"].__setitem__(
                "us-west-2", "arn:aws:acm:us-west-2:999999999999:certificate/x"
            ),
            "mlops:platform.dns.certificate-arns.us-west-2",
        ),
        (
            "prod",
            lambda c: c["mlops:platform"]["registry"].__setitem__(
                "certificate-arn", "arn:aws:acm:us-east-1:999999999999:certificate/x"
            ),
            "mlops:platform.registry.certificate-arn",
        ),
    ],
)
def test_a_certificate_of_another_account_is_a_config_error(tmp_path, stack, edit, key):
    """A listener uses ACM certificates of the load balancer's own account (ELB User Guide, "SSL certificates
    for your Application Load Balancer")."""
    copy_stacks(tmp_path)
    edit_stack_file(tmp_path, stack, edit)
    result = run_mlops("preview", stack, "--stacks-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / f'Pulumi.{stack}.yaml'}: {key}: 'arn:aws:acm:{'us-west-2' if 'dns' in key else 'us-east-1'}:"
        "999999999999:certificate/x' is in account 999999999999; allowed: a certificate of account 333333333333\n"
    )


def test_a_team_certificate_of_another_account_is_a_config_error(tmp_path):
    result = validate_with_team_certificate(tmp_path, "arn:aws:acm:us-east-1:999999999999:certificate/f")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.team-fraud-dev.yaml'}: mlops:team.ingress.certificate-arns.us-east-1: "
        "'arn:aws:acm:us-east-1:999999999999:certificate/f' is in account 999999999999; allowed: a certificate of "
        "account 111111111111\n"
    )


def test_a_team_name_that_ends_with_another_teams_name_is_a_config_error(tmp_path):
    """Model hosts are `<model>-<team>.<zone>` and the admission policy admits for team `fraud` every host ending
    in `-fraud.<zone>`: team `risk-fraud` beside `fraud` would let `fraud` name `scorer-risk-fraud`, a host of
    `risk-fraud` (and the same name would be claimed twice by model `scorer-risk` of `fraud`)."""
    copy_stacks(tmp_path)
    team = yaml.safe_load((tmp_path / "Pulumi.team-fraud-prod.yaml").read_text())["config"]["mlops:team"]
    team["name"] = "risk-fraud"
    team["data-access"] = [{"prefix": "teams/risk-fraud/", "access": "read-write"}]  # its own prefix
    team["owners"]["role-arn"] = team["owners"]["role-arn"].replace("mlops-fraud", "mlops-risk-fraud")
    (tmp_path / "Pulumi.team-risk-fraud-prod.yaml").write_text(
        yaml.safe_dump({"config": {"mlops:team": team}})
    )
    result = run_mlops("team", "validate", "team-risk-fraud-prod", "--stacks-dir", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"error: {tmp_path / 'Pulumi.team-risk-fraud-prod.yaml'}: mlops:team.name: 'risk-fraud' and team 'fraud' of "
        "platform stack 'prod' share the ending -fraud: host <model>-risk-fraud.<zone> of team 'risk-fraud' is "
        "also the host of a model '<model>-risk' of team 'fraud', so the admission policy could not keep them "
        "apart; allowed: a team name that is not another team's name with a prefix\n"
    )
