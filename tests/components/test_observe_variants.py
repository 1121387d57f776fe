"""The optional paths of identity, observability and DNS: unknown SSO roles, one region, latency routing."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.components.conftest import OBSERVE_PROGRAM
from tests.conftest import FIXTURES, REPO, by_name, states


def test_roles_without_a_known_arn_get_no_access_entry_yet(observe_latency):
    entries = {
        s["urn"].rsplit("::", 1)[-1]: s
        for s in states(observe_latency, "aws:eks/accessEntry:AccessEntry")
        if s["parent"].endswith("::identity")
    }
    # platform-admin and ml-engineer have neither role-suffix nor role-arn; read-only names its role whole.
    assert list(entries) == ["identity-eu-west-1-read-only"]
    assert entries["identity-eu-west-1-read-only"]["inputs"]["principalArn"] == (
        "arn:aws:iam::222222222222:role/aws-reserved/sso.amazonaws.com/us-east-1/"
        "AWSReservedSSO_mlops-staging-read-only_0a1b2c3d4e5f6a7b"
    )
    # The permission sets and their assignments exist regardless: they are what creates the roles.
    assert len(states(observe_latency, "aws:ssoadmin/accountAssignment:AccountAssignment")) == 3
    assert by_name(observe_latency, "identity-platform-admin")["inputs"]["sessionDuration"] == "PT2H"
    assert by_name(observe_latency, "identity-ml-engineer")["inputs"]["sessionDuration"] == "PT8H"
    assert not states(observe_latency, "kubernetes:core/v1:Secret")


def test_alarms_follow_the_signals_without_a_load_balancer(observe_latency):
    names = sorted(
        s["inputs"]["name"] for s in states(observe_latency, "aws:cloudwatch/metricAlarm:MetricAlarm")
    )
    assert names == [
        "mlops-staging-eu-west-1-failed-nodes",
        "mlops-staging-eu-west-1-interruption-queue-age",
        "mlops-staging-eu-west-1-node-cpu",
        "mlops-staging-eu-west-1-node-memory",
        "mlops-staging-eu-west-1-rds-connections",
        "mlops-staging-eu-west-1-rds-cpu",
        "mlops-staging-eu-west-1-rds-free-storage",
        # The signed zone's, in us-east-1 (tests/components/test_dnssec_alarms.py).
        "mlops-staging-us-east-1-dnssec-internal-failure",
        "mlops-staging-us-east-1-dnssec-ksk-needs-action",
    ]
    assert not states(observe_latency, "aws:grafana/workspace:Workspace")
    assert observe_latency["outputs"]["observability"]["grafanaUrl"] is None
    assert by_name(observe_latency, "observability-trail-bucket")["protect"] is False


def test_latency_zone_publishes_its_routing(observe_latency):
    dns = observe_latency["outputs"]["dns"]
    assert dns["routing"] == "latency" and dns["zoneName"] == "staging.models.example.com"
    assert dns["certificateArns"] == {}
    assert states(observe_latency, "aws:route53/record:Record") == []


def test_oidc_without_its_secret_is_a_config_error(tmp_path):
    document = yaml.safe_load((FIXTURES / "Pulumi.observe-prod.yaml").read_text())
    del document["config"]["mlops:oidc-client-secret"]
    (tmp_path / "Pulumi.observe-prod.yaml").write_text(yaml.safe_dump(document))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from components.config import ConfigError\n"
        "from mlops.synth import synthesize\n"
        "try:\n"
        f"    synthesize('observe-prod', Path({str(tmp_path)!r}), Path({str(OBSERVE_PROGRAM)!r}))\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(2)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stderr
    # The fixture program names its own fixture stack file (the program knows only its stacks folder).
    assert result.stdout.strip() == (
        f"{FIXTURES / 'Pulumi.observe-prod.yaml'}: mlops:oidc-client-secret: missing; identity.oidc needs the "
        "client secret (pulumi config set --secret mlops:oidc-client-secret ...)"
    )
