"""A team's owners role cannot be a principal that already has an EKS access entry on the platform's clusters.

EKS User Guide, "Create access entries" (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html):
"An IAM principal can't be included in more than one access entry". The platform's deployer, its cluster admins,
the roles of its SSO permission sets and every other team's owners role each have one; a team stack naming one of
them would fail at its access entry. `mlops team new`, `mlops team validate` and the team stack program (the
config check, before any resource) refuse it with one line saying what to use instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.config import load_platform, parse_team
from components.identity.policies import ROLE_KEYS, permission_set_name, sso_role_arn
from components.loader import ConfigError
from components.serving.config import sso_role_name_pattern
from components.stackfile import read_config_file
from stacks import team as team_program
from stacks.access import check_owner_access
from tests.conftest import STACKS, run_mlops

SSO = "arn:aws:iam::333333333333:role/aws-reserved/sso.amazonaws.com/us-east-1/"
FRAUD = "arn:aws:iam::333333333333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_mlops-fraud_0123456789abcdef"
OWN = "a role only this team's owners sign in with (e.g. the role of an SSO permission set of their own)"
ONE_ENTRY = "EKS allows one access entry per IAM principal, and the team's owners need their own"

# kind -> (environment, owners role, what it is, what is allowed instead)
COLLISIONS = {
    "deployer": (
        "prod",
        "arn:aws:iam::333333333333:role/platform-deployer",
        "the deployer of platform stack 'prod' (deployer.role-arn)",
        OWN,
    ),
    "cluster-admin": (
        "dev",
        "arn:aws:iam::111111111111:role/platform-deployer",
        "a cluster admin of platform stack 'dev' (cluster.admin-role-arns[0]), which already administers every "
        "namespace",
        OWN,
    ),
    "sso-role": (
        "prod",
        f"{SSO}AWSReservedSSO_mlops-prod-ml-engineer_2a8ee22843209d11",
        "the ml-engineer SSO role of platform stack 'prod' (identity.roles.ml-engineer)",
        f"{OWN}, or the team's namespace in identity.ml-engineer-namespaces of platform stack 'prod'",
    ),
    # The suffix Identity Center gives a re-provisioned role differs: the permission set's name decides.
    "sso-role-any-suffix": (
        "prod",
        "arn:aws:iam::333333333333:role/AWSReservedSSO_mlops-prod-platform-admin_ffffffffffffffff",
        "the platform-admin SSO role of platform stack 'prod' (identity.roles.platform-admin)",
        OWN,
    ),
    "other-team": (
        "prod",
        FRAUD,
        "the owners role of team 'fraud' (stack team-fraud-prod)",
        OWN,
    ),
}


def message(kind: str) -> str:
    _, arn, what, instead = COLLISIONS[kind]
    return f"{arn} is {what}; {ONE_ENTRY}; allowed: {instead}"


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for stack in ("dev", "prod", "team-fraud-prod", "team-fraud-dev"):
        shutil.copy(STACKS / f"Pulumi.{stack}.yaml", tmp_path)
    return tmp_path


def new_team(stacks_dir: Path, environment: str, role: str):
    return run_mlops(
        "team",
        "new",
        "risk",
        "--env",
        environment,
        "--stacks-dir",
        str(stacks_dir),
        "--owner-group",
        "risk-engineers",
        "--owner-role-arn",
        role,
        "--cost-center",
        "cc-77",
        "--model",
        "pricer=registry.example/pricer@sha256:" + "b" * 64,
        "--alert",
        "email:risk-oncall@example.com",
        # the provenance prod requires
        "--source",
        "pricer=https://git.example/risk/pricer@" + "c" * 40,
        "--license",
        "pricer=Apache-2.0",
        "--run",
        "pricer=models:/pricer/1",
    )


def risk_team(environment: str, role: str):
    return parse_team(
        {
            "name": "risk",
            "environment": environment,
            "platform-stack": environment,
            "regions": ["us-east-1"],
            "owners": {
                "sso-group": "risk-engineers",
                "role-arn": role,
                "alerts": [{"protocol": "email", "endpoint": "risk-oncall@example.com"}],
            },
            "cost-center": "cc-77",
            "data-classification": "internal",
            "quotas": {"cpu": "8", "memory": "32Gi"},
            "models": [
                {
                    "name": "pricer",
                    "autoscaling": {"min-replicas": 2, "cpu-target": 70},
                    "versions": [
                        {
                            "name": "v1",
                            "image": "registry.example/pricer@sha256:" + "b" * 64,
                            "weight": 100,
                            "source": {"repository": "https://git.example/risk/pricer", "commit": "c" * 40},
                            "license": "Apache-2.0",
                            "run": "models:/pricer/1",
                        }
                    ],
                }
            ],
        },
        None,
    )


@pytest.mark.parametrize("kind", COLLISIONS)
def test_team_new_refuses_an_owners_role_that_has_an_access_entry(stacks_dir, kind):
    environment, role, _, _ = COLLISIONS[kind]
    result = new_team(stacks_dir, environment, role)
    assert result.returncode == 2
    assert result.stderr == f"error: --owner-role-arn: {message(kind)}\n"
    assert not (stacks_dir / f"Pulumi.team-risk-{environment}.yaml").exists()


@pytest.mark.parametrize("kind", COLLISIONS)
def test_the_team_config_check_refuses_it_before_any_resource(stacks_dir, kind):
    """The check the team stack program runs first (stacks/team.py build), so `pulumi up` refuses it too."""
    environment, role, _, _ = COLLISIONS[kind]
    file = stacks_dir / f"Pulumi.team-risk-{environment}.yaml"
    with pytest.raises(ConfigError) as raised:
        check_owner_access(risk_team(environment, role), file, stacks_dir)
    assert str(raised.value) == f"{file}: mlops:team.owners.role-arn: {message(kind)}"


def test_team_validate_refuses_an_edited_file(stacks_dir):
    file = stacks_dir / "Pulumi.team-fraud-prod.yaml"
    file.write_text(file.read_text().replace(FRAUD, COLLISIONS["deployer"][1]))
    result = run_mlops("team", "validate", "team-fraud-prod", "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2
    assert result.stderr == f"error: {file}: mlops:team.owners.role-arn: {message('deployer')}\n"


def test_the_team_program_refuses_before_its_platform_reference(stacks_dir):
    """stacks/team.py build checks the stack files beside its own before the StackReference (no resource)."""
    file = stacks_dir / "Pulumi.team-risk-prod.yaml"
    file.write_text("config: {}\n")
    with pytest.raises(ConfigError) as raised:
        team_program.build(risk_team("prod", COLLISIONS["sso-role"][1]), str(file))
    assert str(raised.value) == f"{file}: mlops:team.owners.role-arn: {message('sso-role')}"


@pytest.mark.parametrize(
    "role",
    [
        # The team's own SSO role, a role of that name in another account, another permission set's role.
        f"{SSO}AWSReservedSSO_mlops-risk_0123456789abcdef",
        "arn:aws:iam::444444444444:role/platform-deployer",
        "arn:aws:iam::333333333333:role/AWSReservedSSO_mlops-prod-ml-engineers_2a8ee22843209d11",
    ],
)
def test_a_role_of_the_team_own_passes(stacks_dir, role):
    check_owner_access(risk_team("prod", role), None, stacks_dir)
    assert new_team(stacks_dir, "prod", role).returncode == 0


def test_a_team_file_does_not_collide_with_itself(stacks_dir):
    file = stacks_dir / "Pulumi.team-fraud-prod.yaml"
    team = parse_team(read_config_file(file)["mlops:team"], file)
    check_owner_access(team, file, stacks_dir)


def test_the_sso_role_pattern_matches_the_roles_identity_center_provisions():
    """IAM Identity Center User Guide ("Referencing permission sets in resource policies, Amazon EKS cluster
    configuration maps, and AWS KMS key policies"): the role is AWSReservedSSO_<permission set>_<suffix>; the
    permission set names are components.identity's."""
    platform = load_platform(STACKS, "prod")
    for role in ROLE_KEYS:
        arn = sso_role_arn(
            "aws", platform.account_id, "eu-west-1", permission_set_name("prod", role), "1f9ff1"
        )
        assert sso_role_name_pattern("prod", role).match(arn.rsplit("/", 1)[-1])
    assert not sso_role_name_pattern("prod", "read-only").match("AWSReservedSSO_mlops-dev-read-only_1f9ff1")
