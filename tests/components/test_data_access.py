"""Data access (components.data): the data policies, S3 Access Grants, the team-* namespace guard, the prod
trail's data events, and each example team's effective S3 scope, computed from the synthesised previews.

Rules relied on, each checked below by value and against an oracle (parliament for every document,
kubernetes-validate and cel-python for the admission policy):

- EKS Pod Identity tags every session with ``kubernetes-namespace`` (and five more); policies read them as
  ``aws:PrincipalTag/<key>`` (Amazon EKS User Guide, "Grant Pods access to AWS resources based on tags",
  https://docs.aws.amazon.com/eks/latest/userguide/pod-id-abac.html). A role's own tags are principal tags too
  (IAM User Guide, "aws:PrincipalTag/tag-key",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltag);
  policy variables resolve in Resource and in Condition string values (IAM User Guide, "IAM policy elements:
  Variables and tags", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
- S3 Access Grants assumes a location's role as ``access-grants.s3.amazonaws.com`` with sts:AssumeRole,
  sts:SetSourceIdentity and sts:SetContext (Amazon S3 User Guide, "Register a location",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-grants-location-register.html); a grant's
  S3SubPrefix is appended to the location scope and ends with ``*`` for a prefix
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_AccessGrantsLocationConfiguration.html); an
  instance is ``arn:aws:s3:<region>:<account>:access-grants/default``; grantees are IAM role ARNs.
- EKS gives an IAM role's access entry the user name ``arn:aws:sts::<account>:assumed-role/<role
  name>/{{SessionName}}``, path removed (https://docs.aws.amazon.com/eks/latest/userguide/set-custom-username.html).
- CloudTrail data events on S3 objects: advanced event selectors with eventCategory Data, resources.type
  AWS::S3::Object, resources.ARN StartsWith ``<bucket ARN>/``
  (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-data-events-with-cloudtrail.html).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest

from components.config import parse_platform
from components.data.config import own_prefix
from components.data.guard import namespace_policy_spec, session_user_prefix
from components.data.policies import location_policy, location_trust, own_prefix_policy
from components.data.team import GrantPlan, plan_grants
from components.loader import ConfigError, load_yaml
from components.serving.team import team_access_policy
from mlops.mocks import _uuid
from tests.conftest import STACKS, by_name, run_mlops, states
from tests.iam_eval import decision
from tests.iam_lint import Document, parliament_findings
from tests.kube import KUBERNETES_VERSION, manifests

ACCOUNT = "333333333333"
PRIMARY = f"arn:aws:s3:::mlops-prod-{ACCOUNT}-artifacts-us-east-1"
REPLICA = f"arn:aws:s3:::mlops-prod-{ACCOUNT}-artifacts-us-west-2"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/mrk-1"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:role/platform-deployer"


def lint(kind: str, policy: dict[str, Any]) -> list:
    return parliament_findings(Document("doc", "t", "p", kind, policy))


def resolve(policy: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """The policy as IAM evaluates it for a principal with ``tags``: each ``${aws:PrincipalTag/k}`` replaced."""
    text = json.dumps(policy)
    return json.loads(re.sub(r"\$\{aws:PrincipalTag/([^}]+)\}", lambda m: tags.get(m.group(1), "\0"), text))


def session(team: str, namespace: str) -> dict[str, str]:
    """A Pod Identity session of team ``team``'s role (its `team` tag) in ``namespace``."""
    return {"team": team, "kubernetes-namespace": namespace}


def context(tags: dict[str, str]) -> dict[str, str]:
    return {f"aws:PrincipalTag/{key}": value for key, value in tags.items()}


def can(statements: list[dict[str, Any]], tags: dict[str, str], action: str, resource: str) -> bool:
    return decision(statements, action, resource, context(tags)) == "Allow"


# -- documents by value --------------------------------------------------------------------------------


def test_own_prefix_policy_by_value_and_linted():
    policy = own_prefix_policy("read-write", [PRIMARY, REPLICA], PRIMARY, [KEY])
    assert [s["Sid"] for s in policy["Statement"]] == [
        "ListOwnTeamPrefix",
        "ReadOwnTeamPrefix",
        "WriteOwnTeamPrefix",
        "UseArtifactsKeyThroughS3",
    ]
    read = policy["Statement"][1]
    assert read["Resource"] == [
        f"{PRIMARY}/teams/${{aws:PrincipalTag/team}}/*",
        f"{REPLICA}/teams/${{aws:PrincipalTag/team}}/*",
    ]
    assert read["Condition"] == {
        "StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "team-${aws:PrincipalTag/team}"}
    }
    assert policy["Statement"][2]["Resource"] == [f"{PRIMARY}/teams/${{aws:PrincipalTag/team}}/*"]
    assert policy["Statement"][3]["Condition"] == {
        "StringLike": {"kms:ViaService": "s3.*.amazonaws.com"},
        "StringEquals": {"kms:EncryptionContext:aws:s3:arn": [PRIMARY, REPLICA]},
    }
    assert lint("identity", policy) == []
    assert lint("identity", own_prefix_policy("read", [PRIMARY], None, [KEY])) == []
    with pytest.raises(ValueError, match="primary region's bucket"):
        own_prefix_policy("read-write", [REPLICA], None, [KEY])


def test_pod_identity_session_tags_scope_a_role_to_its_namespaces_prefix():
    """The namespace tag (set by EKS Pod Identity, not by the team) decides: a role tagged team=recsys whose pod
    runs in team-fraud reaches nothing; team-fraud's pod reaches teams/fraud/ only."""
    statements = own_prefix_policy("read-write", [PRIMARY, REPLICA], PRIMARY, [KEY])["Statement"]
    fraud = session("fraud", "team-fraud")
    assert can(resolve_all(statements, fraud), fraud, "s3:GetObject", f"{REPLICA}/teams/fraud/m.bin")
    assert can(resolve_all(statements, fraud), fraud, "s3:PutObject", f"{PRIMARY}/teams/fraud/m.bin")
    assert not can(resolve_all(statements, fraud), fraud, "s3:PutObject", f"{REPLICA}/teams/fraud/m.bin")
    assert not can(resolve_all(statements, fraud), fraud, "s3:GetObject", f"{PRIMARY}/teams/recsys/m.bin")
    forged = session("recsys", "team-fraud")  # a team stack tagging its role as another team's
    assert not can(resolve_all(statements, forged), forged, "s3:GetObject", f"{PRIMARY}/teams/recsys/m.bin")
    assert not can(resolve_all(statements, forged), forged, "s3:GetObject", f"{PRIMARY}/teams/fraud/m.bin")


def resolve_all(statements: list[dict[str, Any]], tags: dict[str, str]) -> list[dict[str, Any]]:
    return resolve({"Statement": statements}, tags)["Statement"]


def test_access_grants_location_role_trust_and_policy():
    instance = f"arn:aws:s3:us-east-1:{ACCOUNT}:access-grants/default"
    trust = location_trust(ACCOUNT, instance)
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "access-grants.s3.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnEquals": {"aws:SourceArn": instance},
            },
        }
    ]
    assert lint("trust", trust) == []
    read_only = location_policy(REPLICA, [("shared/features/", False)], [KEY])
    assert [s["Sid"] for s in read_only["Statement"]] == [
        "ListDeclaredLocations",
        "ReadDeclaredLocations",
        "UseArtifactsKeyThroughS3",
    ]
    assert read_only["Statement"][1]["Resource"] == [f"{REPLICA}/shared/features/*"]
    writable = location_policy(PRIMARY, [("shared/features/", False), ("shared/labels/", True)], [KEY])
    assert writable["Statement"][2]["Resource"] == [f"{PRIMARY}/shared/labels/*"]
    assert lint("identity", read_only) == [] and lint("identity", writable) == []


def test_grants_are_planned_from_the_team_file():
    team = load_yaml(STACKS / "Pulumi.team-fraud-prod.yaml")["config"]["mlops:team"]
    entries = [(e["prefix"], e["access"]) for e in team["data-access"]]
    assert plan_grants("fraud", entries, ["shared/features/"], team["regions"], "us-east-1") == [
        GrantPlan("us-east-1", "shared/features/", "shared/features/", "READ", None),
        GrantPlan("us-west-2", "shared/features/", "shared/features/", "READ", None),
    ]
    # A sub-prefix of a location is the grant's S3SubPrefix, ending in `*`; writes only in the primary region.
    assert plan_grants(
        "fraud",
        [("shared/labels/fraud/", "read-write")],
        ["shared/labels/"],
        ["us-east-1", "us-west-2"],
        "us-east-1",
    ) == [
        GrantPlan("us-east-1", "shared/labels/fraud/", "shared/labels/", "READWRITE", "fraud/*"),
        GrantPlan("us-west-2", "shared/labels/fraud/", "shared/labels/", "READ", "fraud/*"),
    ]


# -- configuration errors -------------------------------------------------------------------------------


def _platform(data: Any) -> dict[str, Any]:
    raw = load_yaml(STACKS / "Pulumi.prod.yaml")["config"]["mlops:platform"]
    return {**raw, "data": data}


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"locations": [{"prefix": "teams/shared/"}]}, "data.locations[0].prefix", "under teams/"),
        (
            {"locations": [{"prefix": "shared/"}, {"prefix": "shared/features/"}]},
            "data.locations[1].prefix",
            "overlaps 'shared/'",
        ),
        ({"locations": [{"prefix": "shared/", "access": "write"}]}, "data.locations[0].access", "read"),
        ({"locatons": []}, "data.locatons", ""),
    ],
)
def test_bad_data_section_is_one_line(data, key, message):
    with pytest.raises(ConfigError) as caught:
        parse_platform(_platform(data), "Pulumi.prod.yaml")
    line = str(caught.value)
    assert "\n" not in line and "Pulumi.prod.yaml" in line and key in line and message in line


@pytest.fixture
def stacks_dir(tmp_path: Path) -> Path:
    for name in ("prod", "team-fraud-prod", "team-recsys-prod"):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    return tmp_path


def _edit_fraud(stacks_dir: Path, data_access: list[dict[str, str]], **extra: Any) -> Path:
    path = stacks_dir / "Pulumi.team-fraud-prod.yaml"
    raw = load_yaml(path)
    raw["config"]["mlops:team"]["data-access"] = data_access
    raw["config"]["mlops:team"].update(extra)
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("entries", "extra", "expected"),
    [
        (
            [{"prefix": "teams/recsys/", "access": "read"}],
            {},
            "mlops:team.data-access[0].prefix: 'teams/recsys/' is outside platform stack 'prod''s declared data "
            "locations; allowed: teams/fraud/ (read-write, the team's own), shared/features/ (read)",
        ),
        (
            [{"prefix": "shared/features/", "access": "read-write"}],
            {},
            "mlops:team.data-access[0].access: 'read-write' on 'shared/features/' exceeds location shared/features/ "
            "of platform stack 'prod'; allowed: read",
        ),
        (
            [{"prefix": "teams/fraud/", "access": "read-write"}],
            {"lake-formation": [{"database": "features"}]},
            "mlops:team.lake-formation: platform stack 'prod' has no Lake Formation (its data.lake-formation); "
            "allowed: no lake-formation grants",
        ),
    ],
)
def test_team_validate_refuses_entries_outside_the_declared_locations(stacks_dir, entries, extra, expected):
    path = _edit_fraud(stacks_dir, entries, **extra)
    result = run_mlops("team", "validate", str(path), "--stacks-dir", str(stacks_dir))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(expected), lines


def test_the_shipped_teams_validate(stacks_dir):
    for stack in ("team-fraud-prod", "team-recsys-prod"):
        result = run_mlops("team", "validate", stack, "--stacks-dir", str(stacks_dir))
        assert result.returncode == 0, result.stderr


# -- the previews ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def previews(synth):
    return {stack: synth(stack) for stack in ("prod", "team-fraud-prod", "team-recsys-prod")}


def test_prod_declares_the_policies_instances_and_locations(previews):
    prod = previews["prod"]
    assert by_name(prod, "data-read")["inputs"]["name"] == "mlops-prod-data-read"
    assert json.loads(by_name(prod, "data-read-write")["inputs"]["policy"]) == own_prefix_policy(
        "read-write",
        [PRIMARY, REPLICA],
        PRIMARY,
        json.loads(by_name(prod, "data-read-write")["inputs"]["policy"])["Statement"][-1]["Resource"],
    )
    for region, bucket in (("us-east-1", PRIMARY), ("us-west-2", REPLICA)):
        location = by_name(prod, f"data-{region}-location-shared-features")
        assert location["inputs"]["locationScope"] == f"s3://{bucket.rsplit(':', 1)[-1]}/shared/features/"
        assert (
            location["inputs"]["iamRoleArn"]
            == f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-data-locations-{region}"
        )
        assert by_name(prod, f"data-{region}-grants")["urn"] in location["dependencies"]
        role = by_name(prod, f"data-{region}-locations-role")["inputs"]
        assert json.loads(role["assumeRolePolicy"]) == location_trust(
            ACCOUNT, f"arn:aws:s3:{region}:{ACCOUNT}:access-grants/default"
        )
    # Lake Formation is off in the shipped prod stack.
    assert not [s for s in states(prod) if s["type"].startswith("aws:lakeformation")]


def test_prod_trail_records_data_events_on_every_artifact_bucket(previews, synth):
    trail = by_name(previews["prod"], "observability-trail-trail")["inputs"]
    assert "eventSelectors" not in trail
    assert trail["advancedEventSelectors"] == [
        {
            "fieldSelectors": [{"equals": ["Management"], "field": "eventCategory"}],
            "name": "Management events",
        },
        {
            "fieldSelectors": [
                {"equals": ["Data"], "field": "eventCategory"},
                {"equals": ["AWS::S3::Object"], "field": "resources.type"},
                {"field": "resources.ARN", "startsWiths": [f"{PRIMARY}/", f"{REPLICA}/"]},
            ],
            "name": "Artifact and data bucket objects",
        },
    ]
    dev_trail = by_name(synth("dev"), "observability-trail-trail")["inputs"]
    assert dev_trail["eventSelectors"] == [{"includeManagementEvents": True, "readWriteType": "All"}]


def test_team_grants_attachment_and_no_per_prefix_statements(previews):
    for team, regions in (("fraud", ["us-east-1", "us-west-2"]), ("recsys", ["us-east-1"])):
        doc = previews[f"team-{team}-prod"]
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-team-{team}-models"
        grants = [s for s in states(doc) if s["type"] == "aws:s3control/accessGrant:AccessGrant"]
        assert sorted(g["urn"].rsplit("::", 1)[-1] for g in grants) == [
            f"team-{team}-data-{r}-grant-shared-features" for r in regions
        ]
        for grant in grants:
            assert grant["inputs"]["grantee"] == {"granteeIdentifier": role_arn, "granteeType": "IAM"}
            assert grant["inputs"]["permission"] == "READ"
            assert "accessGrantsLocationConfiguration" not in grant["inputs"]
        attach = by_name(doc, f"team-{team}-data-own-prefix")["inputs"]
        assert attach == {
            "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/mlops-prod-data-read-write",
            "role": f"mlops-prod-team-{team}-models",
        }
        inline = json.loads(by_name(doc, f"team-{team}-models-policy")["inputs"]["policy"])
        assert not [
            a for s in inline["Statement"] for a in _list(s["Action"]) if a.startswith(("s3:", "kms:"))
        ]
        ask = json.loads(by_name(doc, f"team-{team}-data-access-grants")["inputs"]["policy"])
        assert ask["Statement"][0]["Resource"] == [
            f"arn:aws:s3:{r}:{ACCOUNT}:access-grants/default" for r in regions
        ]
        # The boto3 S3 Access Grants plugin calls GetAccessGrantsInstanceForPrefix before GetDataAccess ("You must
        # have the s3:GetAccessGrantsInstanceForPrefix permission", S3 API Reference,
        # API_control_GetAccessGrantsInstanceForPrefix); parliament's IAM definitions give all three actions the
        # accessgrantsinstance resource type.
        assert ask["Statement"][0]["Action"] == [
            "s3:GetDataAccess",
            "s3:ListCallerAccessGrants",
            "s3:GetAccessGrantsInstanceForPrefix",
        ]


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def effective_scope(previews: dict[str, dict], team: str) -> dict[str, Any]:
    """What team ``team``'s workload role reaches, from the previews: its inline policies and the platform's
    policies it is attached to, evaluated for its pods' session (role tag team, namespace team-<team>), and
    its S3 Access Grants (location scope + sub-prefix, permission)."""
    doc, prod = previews[f"team-{team}-prod"], previews["prod"]
    role = by_name(doc, f"team-{team}-models-role")["inputs"]
    tags = session(role["tags"]["team"], f"team-{team}")
    statements: list[dict[str, Any]] = []
    for state in states(doc):
        if state["type"] == "aws:iam/rolePolicy:RolePolicy":
            statements += json.loads(state["inputs"]["policy"])["Statement"]
        if state["type"] == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            name = state["inputs"]["policyArn"].rsplit("/", 1)[-1]
            managed = next(
                s
                for s in states(prod)
                if s["type"] == "aws:iam/policy:Policy" and s["inputs"].get("name") == name
            )
            statements += json.loads(managed["inputs"]["policy"])["Statement"]
    # The id the offline platform hands its team stacks (mlops.mocks: derived from the location's type and name).
    locations = {
        _uuid(s["type"] + s["urn"].rsplit("::", 1)[-1]): s["inputs"]["locationScope"]
        for s in states(prod)
        if s["type"] == "aws:s3control/accessGrantsLocation:AccessGrantsLocation"
    }
    grants = [
        (locations[g["inputs"]["accessGrantsLocationId"]], g["inputs"]["permission"])
        for g in states(doc)
        if g["type"] == "aws:s3control/accessGrant:AccessGrant"
    ]
    return {"statements": resolve_all(statements, tags), "tags": tags, "grants": grants}


KEYS = ["teams/fraud/model.bin", "teams/recsys/model.bin", "shared/features/day.parquet", "other/x"]


def reach(scope: dict[str, Any], action: str) -> set[str]:
    """Object keys of the primary bucket ``action`` is allowed on by IAM alone."""
    return {k for k in KEYS if can(scope["statements"], scope["tags"], action, f"{PRIMARY}/{k}")}


def test_the_example_teams_scopes_overlap_only_through_grants(previews):
    fraud, recsys = effective_scope(previews, "fraud"), effective_scope(previews, "recsys")
    assert reach(fraud, "s3:GetObject") == {"teams/fraud/model.bin"}
    assert reach(fraud, "s3:PutObject") == {"teams/fraud/model.bin"}
    assert reach(recsys, "s3:GetObject") == {"teams/recsys/model.bin"}
    assert reach(recsys, "s3:PutObject") == {"teams/recsys/model.bin"}
    assert reach(fraud, "s3:GetObject") & reach(recsys, "s3:GetObject") == set()
    bucket = PRIMARY.rsplit(":", 1)[-1]
    assert (f"s3://{bucket}/shared/features/", "READ") in fraud["grants"]
    assert (f"s3://{bucket}/shared/features/", "READ") in recsys["grants"]
    # What the shared grant reaches, the teams share; nothing else is shared.
    assert {scope for scope, _ in fraud["grants"]} & {scope for scope, _ in recsys["grants"]} == {
        f"s3://{bucket}/shared/features/"
    }


def test_before_and_after_the_fraud_team_reaches_the_same_objects(previews):
    """Before: the per-prefix policy (components.serving.team.team_access_policy) gave teams/fraud/ read-write
    and shared/features/ read directly; after: the first by the platform's data policy, the second by a grant."""
    before = team_access_policy(
        [PRIMARY, REPLICA], PRIMARY, [KEY], [("teams/fraud/", "read-write"), ("shared/features/", "read")], []
    )["Statement"]
    tags = session("fraud", "team-fraud")
    before_reads = {k for k in KEYS if can(before, tags, "s3:GetObject", f"{PRIMARY}/{k}")}
    assert before_reads == {"teams/fraud/model.bin", "shared/features/day.parquet"}
    after = effective_scope(previews, "fraud")
    granted = {
        k
        for k in KEYS
        for scope, _ in after["grants"]
        if f"s3://{PRIMARY.rsplit(':', 1)[-1]}/{k}".startswith(scope)
    }
    assert reach(after, "s3:GetObject") | granted == before_reads


# -- the namespace guard --------------------------------------------------------------------------------


def admitted(spec: dict[str, Any], namespace: str, username: str) -> bool:
    env = celpy.Environment()
    base = {
        "object": celpy.json_to_cel({"metadata": {"name": namespace}}),
        "request": celpy.json_to_cel({"userInfo": {"username": username}}),
    }
    variables = {}
    for variable in spec["variables"]:
        variables[variable["name"]] = env.program(env.compile(variable["expression"])).evaluate(
            {**base, "variables": celpy.celtypes.MapType(variables)}
        )
    activation = {**base, "variables": celpy.celtypes.MapType(variables)}
    return all(
        bool(env.program(env.compile(v["expression"])).evaluate(activation)) for v in spec["validations"]
    )


def test_eks_access_entry_user_name_of_a_role_drops_its_path():
    assert (
        session_user_prefix("arn:aws:iam::1:role/ops/platform-deployer")
        == "arn:aws:sts::1:assumed-role/platform-deployer/"
    )
    assert session_user_prefix("arn:aws-us-gov:iam::1:role/d") == "arn:aws-us-gov:sts::1:assumed-role/d/"


def test_namespace_guard_admits_team_namespaces_from_the_deployer_only(previews):
    prod = previews["prod"]
    guards = [m for m in manifests(prod) if m["metadata"]["name"] == "mlops-team-namespaces"]
    assert (
        sorted(m["kind"] for m in guards)
        == ["ValidatingAdmissionPolicy"] * 2 + ["ValidatingAdmissionPolicyBinding"] * 2
    )
    for manifest in guards:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    spec = by_name(prod, "namespace-guard-us-east-1-policy")["inputs"]["spec"]
    assert spec == namespace_policy_spec([DEPLOYER])
    binding = by_name(prod, "namespace-guard-us-east-1-binding")
    assert binding["inputs"]["spec"] == {"policyName": "mlops-team-namespaces", "validationActions": ["Deny"]}
    assert by_name(prod, "namespace-guard-us-east-1-policy")["urn"] in binding["dependencies"]
    deployer = f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-deployer/pulumi-1700000000"
    admin = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_platform-admin_1f9ff11932198c00/alice"
    assert admitted(spec, "team-fraud", deployer)
    assert not admitted(spec, "team-recsys", admin)
    assert not admitted(spec, "team-fraud", f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-deployer-x/s")
    assert admitted(spec, "notebooks", admin)
    assert own_prefix("fraud") == "teams/fraud/"


def test_lake_formation_behind_the_switch(tmp_path):
    """With `data.lake-formation` the platform sets the data lake administrators and a team's `lake-formation`
    entries become Lake Formation permissions for its workload role (a database, or each table listed)."""
    for name in ("prod", "team-fraud-prod"):
        shutil.copy(STACKS / f"Pulumi.{name}.yaml", tmp_path)
    platform = load_yaml(tmp_path / "Pulumi.prod.yaml")
    platform["config"]["mlops:platform"]["data"]["lake-formation"] = {"admins": [DEPLOYER]}
    (tmp_path / "Pulumi.prod.yaml").write_text(json.dumps(platform))
    _edit_fraud(
        tmp_path,
        load_yaml(STACKS / "Pulumi.team-fraud-prod.yaml")["config"]["mlops:team"]["data-access"],
        **{
            "lake-formation": [
                {"database": "features"},
                {"database": "labels", "tables": ["daily"], "permissions": ["SELECT"]},
            ]
        },
    )
    prod = json.loads(run_mlops("preview", "prod", "--json", "--stacks-dir", str(tmp_path)).stdout)
    assert by_name(prod, "data-lake-formation")["inputs"]["admins"] == [DEPLOYER]
    assert prod["outputs"]["data"]["lakeFormation"] is True
    result = run_mlops("preview", "team-fraud-prod", "--json", "--stacks-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    team = json.loads(result.stdout)
    role = f"arn:aws:iam::{ACCOUNT}:role/mlops-prod-team-fraud-models"
    database = by_name(team, "team-fraud-data-lf-features-db")["inputs"]
    assert database == {
        "database": {"name": "features"},
        "permissions": ["SELECT", "DESCRIBE"],
        "principal": role,
    }
    table = by_name(team, "team-fraud-data-lf-labels-daily")["inputs"]
    assert table == {
        "permissions": ["SELECT"],
        "principal": role,
        "table": {"databaseName": "labels", "name": "daily"},
    }
