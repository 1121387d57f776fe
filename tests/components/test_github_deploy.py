"""GitHub Actions deploy access in the prod preview: the OIDC provider, one deploy role per GitHub environment and
the pull-request preview role, their trust by value, through parliament and through an evaluation of the trust
against the claims GitHub's tokens carry."""

from __future__ import annotations

import copy
import json

import pytest

from components.config import parse_platform
from components.loader import ConfigError
from components.stackfile import PLATFORM_KEY, read_config_file
from tests.conftest import STACKS, by_name
from tests.iam_eval import conditions_hold
from tests.iam_lint import documents, parliament_findings

ACCOUNT = "333333333333"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
REPOSITORY = "example-org/mlops-platform"
BOUNDARY_URN_SUFFIX = "identity-permissions-boundary"


def trust(subject: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GithubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER_ARN},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": subject,
                    }
                },
            }
        ],
    }


def test_the_oidc_provider_is_github_actions_with_the_sts_audience(synth):
    """GitHub Docs, "Configuring OpenID Connect in Amazon Web Services"
    (https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-in-aws): the
    provider URL https://token.actions.githubusercontent.com and the audience sts.amazonaws.com of the official
    action (aws-actions/configure-aws-credentials)."""
    prod = synth("prod")
    provider = by_name(prod, "github-oidc-provider")
    assert provider["type"] == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    assert provider["inputs"]["url"] == "https://token.actions.githubusercontent.com"
    assert provider["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider["inputs"]["tags"]["environment"] == "prod"
    assert provider["parent"] == by_name(prod, "github")["urn"]


@pytest.mark.parametrize(
    ("resource", "name", "subject", "policy"),
    [
        (
            "github-deploy-prod-role",
            "mlops-prod-deploy-prod",
            f"repo:{REPOSITORY}:environment:prod",
            "inline",
        ),
        (
            "github-deploy-team-fraud-prod-role",
            "mlops-prod-deploy-team-fraud-prod",
            f"repo:{REPOSITORY}:environment:team-fraud-prod",
            "inline",
        ),
        (
            "github-deploy-team-recsys-prod-role",
            "mlops-prod-deploy-team-recsys-prod",
            f"repo:{REPOSITORY}:environment:team-recsys-prod",
            "inline",
        ),
        (
            "github-pr-preview-role",
            "mlops-prod-pr-preview",
            f"repo:{REPOSITORY}:pull_request",
            "ReadOnlyAccess",
        ),
    ],
)
def test_each_role_trusts_one_subject_of_the_repository_and_carries_the_boundary(
    synth, resource, name, subject, policy
):
    """GitHub Docs, "OpenID Connect reference" (https://docs.github.com/en/actions/reference/security/oidc),
    example subject claims: a job in an environment is `repo:ORG/REPO:environment:NAME`, a pull-request job
    `repo:ORG/REPO:pull_request`; IAM evaluates them as `token.actions.githubusercontent.com:sub` and `:aud`."""
    prod = synth("prod")
    role = by_name(prod, resource)
    assert role["inputs"]["name"] == name
    assert json.loads(role["inputs"]["assumeRolePolicy"]) == trust(subject)
    assert role["inputs"]["maxSessionDuration"] == 3600
    boundary = by_name(prod, BOUNDARY_URN_SUFFIX)
    assert role["propertyDependencies"]["permissionsBoundary"] == [boundary["urn"]]
    assert role["dependencies"].count(by_name(prod, "github-oidc-provider")["urn"]) == 1
    if policy == "inline":
        # A deploy role's permissions are its own inline policy (tests/components/test_deploy_roles.py).
        inline = by_name(prod, f"{resource.removesuffix('-role')}-policy")
        assert inline["type"] == "aws:iam/rolePolicy:RolePolicy"
        assert inline["inputs"]["name"] == "deploy"
        assert inline["propertyDependencies"]["role"] == [role["urn"]]
    else:
        attachment = by_name(prod, f"{resource}-{policy.lower()}")
        assert attachment["inputs"]["policyArn"] == f"arn:aws:iam::aws:policy/{policy}"


def test_the_trust_policies_pass_parliament(synth):
    trusts = [d for d in documents(synth("prod")) if d.resource.startswith("github-")]
    trusts = [d for d in trusts if d.kind == "trust"]
    assert sorted(d.resource for d in trusts) == [
        "github-deploy-prod-role",
        "github-deploy-team-fraud-prod-role",
        "github-deploy-team-recsys-prod-role",
        "github-pr-preview-role",
    ]
    assert all(d.kind == "trust" for d in trusts)
    # parliament lists only Cognito, Amazon, Facebook, Google and SAML as federation sources; an IAM OIDC
    # provider (GitHub's) is unknown to it, which tests/iam_allowlist.yaml records. Nothing else is found.
    assert {(f.resource, f.issue, f.detail) for d in trusts for f in parliament_findings(d)} == {
        (d.resource, "UNKNOWN_FEDERATION_SOURCE", PROVIDER_ARN) for d in trusts
    }


@pytest.mark.parametrize(
    ("subject", "audience", "allowed"),
    [
        (f"repo:{REPOSITORY}:environment:prod", "sts.amazonaws.com", True),
        (f"repo:{REPOSITORY}:environment:staging", "sts.amazonaws.com", False),
        (
            f"repo:{REPOSITORY}:ref:refs/heads/main",
            "sts.amazonaws.com",
            False,
        ),  # a job outside the environment
        (f"repo:{REPOSITORY}:pull_request", "sts.amazonaws.com", False),
        ("repo:example-org/fork:environment:prod", "sts.amazonaws.com", False),
        (f"repo:{REPOSITORY}:environment:prod", "api://AzureADTokenExchange", False),
    ],
)
def test_only_jobs_of_the_prod_environment_of_the_repository_assume_its_deploy_role(
    synth, subject, audience, allowed
):
    statements = json.loads(by_name(synth("prod"), "github-deploy-prod-role")["inputs"]["assumeRolePolicy"])[
        "Statement"
    ]
    context = {
        "token.actions.githubusercontent.com:sub": subject,
        "token.actions.githubusercontent.com:aud": audience,
    }
    (statement,) = statements
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert conditions_hold(statement, context) is allowed


def prod_raw() -> dict:
    return copy.deepcopy(read_config_file(STACKS / "Pulumi.prod.yaml")[PLATFORM_KEY])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda raw: raw["github"].__setitem__("repository", "mlops-platform"),
            "github.repository: 'mlops-platform' does not match the allowed pattern "
            "^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9_.-]{1,100}$",
        ),
        (
            lambda raw: raw["github"].__setitem__("platform-environments", ["prod", "prod"]),
            "github.platform-environments[1]: 'prod' is listed twice; allowed: distinct names",
        ),
        (
            lambda raw: raw["github"].update({"platform-environments": [], "team-environments": {}}),
            "github.platform-environments: no environment; allowed: at least one platform or team environment "
            "(named like its stack)",
        ),
        (
            lambda raw: raw["github"].__setitem__("team-environments", {"prod": "fraud"}),
            "github.platform-environments[0]: 'prod' is also a team environment; allowed: one role per environment",
        ),
        (
            lambda raw: raw["github"].__setitem__("team-environments", {"a": "fraud", "b": "fraud"}),
            "github.team-environments.a: team 'fraud' has two environments on this platform; allowed: one (its "
            "stack's)",
        ),
        (
            lambda raw: raw["github"].__setitem__("team-environments", {"team-Fraud": "fraud"}),
            "github.team-environments.team-Fraud: 'team-Fraud' does not match the allowed pattern "
            "^[a-z0-9][a-z0-9-]{0,39}$",
        ),
        (
            lambda raw: raw["github"].__setitem__("environments", ["prod"]),
            "github.environments: unknown key; allowed: repository, platform-environments, team-environments, "
            "runner-labels, preview-role",
        ),
        (
            lambda raw: raw["github"].__setitem__("runner-labels", ["ubuntu-latest"]),
            "github.runner-labels: ['ubuntu-latest'] are GitHub-hosted runners, which cannot reach the clusters' "
            "private API endpoint; allowed: labels of self-hosted runners in deployer.networks, including "
            "'self-hosted'",
        ),
        (
            lambda raw: raw.pop("deployer"),
            "deployer: missing; a private API endpoint answers only inside the VPC: set deployer.role-arn and "
            "deployer.networks (the CIDRs `pulumi up` runs from, e.g. the CI runners' subnet)",
        ),
        (
            lambda raw: raw.pop("identity"),
            "github: needs the identity section: its deploy and preview roles carry the platform's permissions boundary",
        ),
    ],
)
def test_bad_github_sections_are_one_line_naming_file_and_key(change, message):
    raw = prod_raw()
    change(raw)
    with pytest.raises(ConfigError) as refused:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(refused.value) == f"stacks/Pulumi.prod.yaml: mlops:platform.{message}"


def test_a_platform_environment_needs_the_deployer_it_assumes():
    """dev (public API endpoint, no deployer) with the prod identity section and a platform environment."""
    raw = copy.deepcopy(read_config_file(STACKS / "Pulumi.dev.yaml")[PLATFORM_KEY])
    assert "deployer" not in raw
    raw["identity"] = prod_raw()["identity"]
    raw["github"] = {"repository": REPOSITORY, "platform-environments": ["dev"]}
    with pytest.raises(ConfigError) as refused:
        parse_platform(raw, "stacks/Pulumi.dev.yaml")
    assert str(refused.value) == (
        "stacks/Pulumi.dev.yaml: mlops:platform.github.platform-environments: needs deployer.role-arn: a platform "
        "environment's role deploys by assuming the deployer"
    )
    # A team environment alone assumes no deployer, and GitHub-hosted runners reach a public endpoint.
    raw["github"] = {"repository": REPOSITORY, "team-environments": {"team-fraud-dev": "fraud"}}
    assert parse_platform(raw, "stacks/Pulumi.dev.yaml").github.runner_labels == ["ubuntu-latest"]
