"""Rules a real account holds the platform to: enforced network policies, reachable private endpoints, a database
that upgrades and destroys cleanly, stateful resources that are not replaced, and the order things are created in.
"""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
import yaml

from components.config import parse_platform
from components.loader import ConfigError
from tests.conftest import STACKS, by_name, states

PROD_PRIMARY = "us-east-1"
RFC5737 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]


def prod_raw() -> dict:
    return yaml.safe_load((STACKS / "Pulumi.prod.yaml").read_text())["config"]["mlops:platform"]


def closure(document, urn: str) -> set[str]:
    """Everything a resource waits for, directly or through what it waits for (dependencies, parent, provider)."""
    by_urn = {s["newState"]["urn"]: s["newState"] for s in document["steps"]}
    seen: set[str] = set()
    todo = [urn]
    while todo:
        state = by_urn.get(todo.pop())
        if state is None:
            continue
        for other in [*state["dependencies"], state["parent"], (state["provider"] or "").rsplit("::", 1)[0]]:
            if other and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


# -- network policies are enforced, and egress names S3's real addresses ---------------------------------------


def test_vpc_cni_enables_the_network_policy_agent(synth):
    """NetworkPolicies are enforced only with the VPC CNI add-on's enableNetworkPolicy set
    (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html)."""
    for stack, region in (("prod", "us-east-1"), ("prod", "us-west-2"), ("dev", "us-east-1")):
        addon = by_name(synth(stack), f"cluster-{region}-addon-vpc-cni")["inputs"]
        assert addon["addonName"] == "vpc-cni"
        assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_s3_through_the_gateway_endpoint_is_the_s3_prefix_list_not_the_vpc_or_the_internet(synth):
    """A gateway endpoint routes S3's public addresses, the region's AWS-managed prefix list
    com.amazonaws.<region>.s3, through the VPC (https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html):
    MLflow's 443 egress is those CIDRs plus the VPC (interface endpoints), never 0.0.0.0/0."""
    prod = synth("prod")
    s3_cidrs = prod["outputs"]["regions"][PROD_PRIMARY]["s3Cidrs"]
    assert s3_cidrs and all(ipaddress.ip_network(c) for c in s3_cidrs)
    egress = by_name(prod, "registry-mlflow-netpol-allow-egress")["inputs"]["spec"]["egress"]
    https = [rule for rule in egress if rule["ports"] == [{"port": 443, "protocol": "TCP"}]]
    assert [peer["ipBlock"]["cidr"] for rule in https for peer in rule["to"]] == ["10.30.0.0/16", *s3_cidrs]
    assert all(peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0" for rule in egress for peer in rule["to"])


def test_no_egress_rule_allows_every_destination(synth):
    """An egress rule whose `to` is empty or missing matches all destinations (NetworkPolicyEgressRule.to in the
    Kubernetes API reference): every rule the platform and team stacks write names its peers."""
    for stack in ("prod", "dev", "team-fraud-prod"):
        for netpol in states(synth(stack), "kubernetes:networking.k8s.io/v1:NetworkPolicy"):
            for rule in netpol["inputs"]["spec"].get("egress", []):
                assert rule.get("to"), f"{stack}: {netpol['urn']}"


def test_team_egress_without_s3_cidrs_is_an_error_not_a_dropped_rule():
    """Without the S3 rule a model cannot read its artifacts, and an egress rule without peers would open every
    destination (NetworkPolicyEgressRule.to): neither is written."""
    from components.serving.team import aws_endpoint_egress

    with pytest.raises(ValueError, match="no S3 prefix-list CIDRs"):
        aws_endpoint_egress("10.0.0.0/16", [])


def test_a_contract_without_s3_cidrs_is_a_contract_error(synth):
    """An older platform contract without s3Cidrs (or an empty list) stops the team stack with the output's name."""
    from components.config import parse_team
    from components.outputs import ContractError
    from stacks.team import validate_platform_outputs

    raw = yaml.safe_load((STACKS / "Pulumi.team-fraud-prod.yaml").read_text())["config"]["mlops:team"]
    team = parse_team(raw, "stacks/Pulumi.team-fraud-prod.yaml")
    outputs = json.loads(json.dumps(synth("prod")["outputs"]))
    outputs["regions"]["us-west-2"]["s3Cidrs"] = []
    with pytest.raises(ContractError) as error:
        validate_platform_outputs(outputs, "prod", team)
    assert str(error.value) == (
        "platform stack 'prod': output regions.us-west-2.s3Cidrs: missing or empty (the S3 prefix list models reach "
        "their artifacts at); re-deploy the platform stack"
    )
    del outputs["regions"]["us-west-2"]["s3Cidrs"]
    with pytest.raises(ContractError, match=re.escape("regions.us-west-2.s3Cidrs: missing or empty")):
        validate_platform_outputs(outputs, "prod", team)


def test_read_write_prefixes_need_the_primary_region(synth):
    """Replication copies the primary bucket one way: a replica is written only by S3 replication, so a team that
    writes must serve in the primary region."""
    from components.config import parse_team
    from components.outputs import ContractError
    from stacks.team import validate_platform_outputs

    raw = yaml.safe_load((STACKS / "Pulumi.team-fraud-prod.yaml").read_text())["config"]["mlops:team"]
    raw["regions"] = ["us-west-2"]
    team = parse_team(raw, "f.yaml")
    with pytest.raises(ContractError) as error:
        validate_platform_outputs(synth("prod")["outputs"], "prod", team)
    assert str(error.value).startswith(
        "mlops:team.data-access: read-write prefixes teams/fraud/ are written in the platform's primary region us-east-1"
    )


def test_each_region_publishes_its_own_s3_prefix_list(synth):
    regions = synth("prod")["outputs"]["regions"]
    assert regions["us-east-1"]["s3Cidrs"] != regions["us-west-2"]["s3Cidrs"]


def test_team_pods_read_their_regions_bucket_at_their_regions_s3_addresses(synth):
    """ "A gateway endpoint is available only in the Region where you created it. Be sure to create your gateway
    endpoint in the same Region as your S3 buckets" (Gateway endpoints for Amazon S3, Considerations), and an
    internet-free bucket admits only its own region's endpoint: each region's pods get their region's S3 addresses,
    read their region's bucket (the primary's or its replica) and are told its name; writes go to the primary."""
    team, platform = synth("team-fraud-prod"), synth("prod")
    registry = platform["outputs"]["registry"]
    buckets = {
        "us-east-1": registry["artifactBucketArn"],
        "us-west-2": registry["replicaBucketArns"]["us-west-2"],
    }
    assert buckets["us-east-1"] != buckets["us-west-2"]
    # The team's data policy (the platform's, components.data) names every region's bucket, writes the primary's.
    [data_policy] = [
        p
        for p in states(platform, "aws:iam/policy:Policy")
        if p["inputs"].get("name") == "mlops-prod-data-read-write"
    ]
    statements = {s["Sid"]: s for s in json.loads(data_policy["inputs"]["policy"])["Statement"]}
    assert statements["ListOwnTeamPrefix"]["Resource"] == [buckets["us-east-1"], buckets["us-west-2"]]
    assert statements["WriteOwnTeamPrefix"]["Resource"] == [
        f"{buckets['us-east-1']}/teams/${{aws:PrincipalTag/team}}/*"
    ]
    assert by_name(team, "team-fraud-data-own-prefix")["inputs"]["policyArn"].endswith(
        "/mlops-prod-data-read-write"
    )
    scopes = [
        s["inputs"]["locationScope"]
        for s in states(platform, "aws:s3control/accessGrantsLocation:AccessGrantsLocation")
    ]
    for region, bucket in buckets.items():
        egress = by_name(team, f"team-fraud-{region}-netpol-allow-aws-endpoints")["inputs"]["spec"]["egress"]
        s3 = [peer["ipBlock"]["cidr"] for peer in egress[1]["to"]]
        assert s3 == platform["outputs"]["regions"][region]["s3Cidrs"]
        assert egress[1]["ports"] == [{"port": 443, "protocol": "TCP"}]
        assert f"{bucket}/teams/${{aws:PrincipalTag/team}}/*" in statements["ReadOwnTeamPrefix"]["Resource"]
        assert f"s3://{bucket.rsplit(':', 1)[-1]}/shared/features/" in scopes  # the team's grant, per region
        deployments = [
            d
            for d in states(team, "kubernetes:apps/v1:Deployment")
            if f"-{region}-" in d["urn"]
            and "mlops:pipelines:" not in d["urn"]  # graph routers read no bucket
        ]
        assert deployments
        for deployment in deployments:
            env = {
                e["name"]: e["value"]
                for e in deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"]
            }
            assert (env["ARTIFACT_BUCKET"], env["AWS_REGION"]) == (bucket.rsplit(":", 1)[-1], region)


# -- the deployer reaches the private API endpoint -------------------------------------------------------------


def test_deployer_networks_reach_the_api_on_443_through_the_cluster_security_group(synth):
    """A private endpoint's network interfaces carry the cluster security group; callers outside it need an
    inbound rule for 443 (https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html)."""
    prod = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        rule = by_name(prod, f"cluster-{region}-deployer-0")
        eks = by_name(prod, f"cluster-{region}-eks")
        assert rule["type"] == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
        assert rule["inputs"]["cidrIpv4"] == "10.99.0.0/24"
        assert (rule["inputs"]["fromPort"], rule["inputs"]["toPort"], rule["inputs"]["ipProtocol"]) == (
            443,
            443,
            "tcp",
        )
        assert rule["propertyDependencies"]["securityGroupId"] == [eks["urn"]]
        # Kubernetes resources go out only once the deployer can reach the endpoint.
        assert rule["urn"] in by_name(prod, f"cluster-{region}-k8s")["dependencies"]


def test_a_private_endpoint_without_deployer_networks_is_a_config_error():
    raw = prod_raw()
    del raw["deployer"]
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "stacks/Pulumi.prod.yaml")
    assert str(error.value).startswith(
        "stacks/Pulumi.prod.yaml: mlops:platform.deployer: missing; a private API endpoint"
    )


def test_the_deployer_must_be_a_cluster_admin():
    raw = prod_raw()
    raw["deployer"]["role-arn"] = "arn:aws:iam::333333333333:role/someone-else"
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert (
        "mlops:platform.deployer.role-arn: arn:aws:iam::333333333333:role/someone-else is not in cluster.admin-role-arns"
        in str(error.value)
    )


def test_deployer_networks_are_never_everything():
    raw = prod_raw()
    raw["deployer"]["networks"] = ["0.0.0.0/0"]
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert str(error.value).startswith(
        "f.yaml: mlops:platform.deployer.networks[0]: 0.0.0.0/0 opens the API endpoint"
    )


@pytest.mark.parametrize("path", sorted(STACKS.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_documentation_ranges_in_shipped_stacks_say_to_replace_them(path):
    """RFC 5737 reserves 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 for documentation; no real client sits
    there, so a shipped stack may carry one only with a comment saying to replace it."""
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        for cidr in re.findall(r"\b\d+\.\d+\.\d+\.\d+/\d+\b", line.split("#", 1)[0]):
            if any(ipaddress.ip_network(cidr, strict=False).subnet_of(doc) for doc in RFC5737):
                said = line + (lines[number - 1] if number else "")
                assert "replace" in said.lower(), (
                    f"{path.name}:{number + 1}: {cidr} without a comment to replace it"
                )


# -- the database -----------------------------------------------------------------------------------------------


def test_postgres_major_version_lets_rds_apply_minor_upgrades(synth):
    """With auto minor version upgrade on, engine_version may be a major; the running minor is engine_version_actual
    (pulumi-aws rds.Instance engine_version), so AWS's upgrade is no diff and never a downgrade."""
    db = by_name(synth("prod"), "registry-db")["inputs"]
    assert db["engineVersion"] == "16" and db["autoMinorVersionUpgrade"] is True
    assert db["allowMajorVersionUpgrade"] is True
    assert by_name(synth("prod"), "registry-db-parameters")["inputs"]["family"] == "postgres16"


def test_a_major_upgrade_gets_the_new_family_s_parameter_group_before_the_old_one_goes(synth):
    """A major upgrade needs a parameter group of the new family (RDS User Guide, "Upgrading the PostgreSQL DB
    engine", major version upgrades); the family is ForceNew, so the group is replaced. Pulumi creates a
    replacement before deleting the old one unless deleteBeforeReplace is set, and an explicit name would make
    the two collide: auto-named, create-before-delete. RDS defers the upgrade without applyImmediately, which
    is off unless set for the upgrade (mlops preview --against refuses a deferred major upgrade)."""
    prod = synth("prod")
    group = by_name(prod, "registry-db-parameters")
    assert "name" not in group["inputs"] and group["deleteBeforeReplace"] is False
    db = by_name(prod, "registry-db")
    assert db["inputs"]["applyImmediately"] is False
    assert db["propertyDependencies"]["parameterGroupName"] == [group["urn"]]
    raw = prod_raw()
    raw["registry"]["db-apply-immediately"] = True
    assert parse_platform(raw, "f.yaml").registry.db_apply_immediately is True


def test_a_pinned_minor_turns_auto_minor_upgrade_off():
    from components.registry.config import RegistryConfig

    pinned = RegistryConfig.model_validate({"mlflow-image": "x/y:1", "postgres-version": "16.4"})
    assert pinned.postgres_minor_pinned and pinned.postgres_major == "16"
    assert not RegistryConfig.model_validate(
        {"mlflow-image": "x/y:1", "postgres-version": "16"}
    ).postgres_minor_pinned


def test_rds_log_groups_exist_first_encrypted_with_retention(synth):
    """RDS exports to /aws/rds/instance/<id>/<log> and creates the group itself (no KMS, kept forever) unless it
    exists (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html)."""
    prod = synth("prod")
    db = by_name(prod, "registry-db")
    logs_key = prod["outputs"]["regions"][PROD_PRIMARY]["keyArns"]["logs"]
    for export in db["inputs"]["enabledCloudwatchLogsExports"]:
        group = by_name(prod, f"registry-db-logs-{export}")
        assert group["inputs"]["name"] == f"/aws/rds/instance/mlops-prod-mlflow/{export}"
        assert group["inputs"]["kmsKeyId"] == logs_key and group["inputs"]["retentionInDays"] == 365
        assert group["urn"] in db["dependencies"]


def test_dev_database_destroys_cleanly_prod_keeps_a_uniquely_named_final_snapshot(synth):
    """DeleteDBInstance fails while deletion protection is on, and a final snapshot name must not exist yet
    (DBSnapshotAlreadyExists): dev skips both; prod names its snapshot with a suffix drawn once per database."""
    dev = by_name(synth("dev"), "registry-db")["inputs"]
    assert dev["deletionProtection"] is False and dev["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in dev
    prod = synth("prod")
    db = by_name(prod, "registry-db")
    suffix = by_name(prod, "registry-db-final-snapshot-suffix")
    assert db["inputs"]["deletionProtection"] is True and db["inputs"]["skipFinalSnapshot"] is False
    assert db["inputs"]["finalSnapshotIdentifier"] == f"mlops-prod-mlflow-final-{_hex(suffix)}"
    assert suffix["inputs"]["keepers"] == {"identifier": "mlops-prod-mlflow"}
    assert db["propertyDependencies"]["finalSnapshotIdentifier"] == [suffix["urn"]]


def _hex(state) -> str:
    import base64

    return base64.urlsafe_b64decode(state["id"] + "=" * (-len(state["id"]) % 4)).hex()


def test_dev_buckets_are_emptied_on_destroy_prod_buckets_are_not(synth):
    """DeleteBucket fails on a bucket with objects; force_destroy empties it first (pulumi-aws s3.Bucket)."""
    for bucket in states(synth("dev"), "aws:s3/bucket:Bucket"):
        assert bucket["inputs"]["forceDestroy"] is True
    for bucket in states(synth("prod"), "aws:s3/bucket:Bucket"):
        if bucket["urn"].rsplit("::", 1)[-1].startswith("registry-"):
            assert "forceDestroy" not in bucket["inputs"]


def test_repositories_outside_prod_are_deleted_with_their_images(synth):
    """DeleteRepository fails with RepositoryNotEmptyException unless `force` is set (Amazon ECR API Reference,
    DeleteRepository); pulumi-aws sets it from force_delete. Dev team repositories and the copies of public
    images go with their images; prod team repositories keep theirs."""
    for stack, forced in (("team-fraud-dev", True), ("team-fraud-prod", False)):
        repositories = states(synth(stack), "aws:ecr/repository:Repository")
        assert repositories
        assert {bool(repo["inputs"].get("forceDelete")) for repo in repositories} == {forced}, stack
    from tests.conftest import FIXTURES

    copies = [
        r
        for r in states(synth("airgapped-cluster", FIXTURES), "aws:ecr/repository:Repository")
        if r["inputs"]["name"].startswith("copies/")
    ]
    assert len(copies) == 2 and all(r["inputs"]["forceDelete"] is True for r in copies)


def test_object_lock_is_enabled_by_its_configuration_not_the_bucket(synth):
    """S3 enables object lock on an existing versioned bucket through PutObjectLockConfiguration
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html#object-lock-configure-existing-bucket),
    while the bucket's own object_lock_enabled forces a new bucket: turning it on must not replace the bucket."""
    prod = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        assert "objectLockEnabled" not in by_name(prod, f"registry-artifacts-{region}")["inputs"]
        lock = by_name(prod, f"registry-artifacts-{region}-object-lock")
        assert lock["inputs"]["objectLockEnabled"] == "Enabled"
        assert by_name(prod, f"registry-artifacts-{region}-versioning")["urn"] in lock["dependencies"]


def key_ring_keys(document) -> list[dict]:
    """The primary keys of the stack's key rings (components/encryption.py), one per purpose."""
    rings = {s["urn"] for s in states(document, "mlops:encryption:KeyRing")}
    return [k for k in states(document, "aws:kms/key:Key") if k["parent"] in rings]


def test_kms_keys_are_multi_region_in_every_stack(synth):
    """KMS cannot convert a single-Region key to a multi-Region key
    (https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-create.html)."""
    for stack in ("dev", "staging", "prod"):
        # Key-ring keys only: the DNSSEC signing key (Route 53 uses it in us-east-1 only) and the IP range
        # notification queue's key (one queue, in one region) are never replicated.
        keys = key_ring_keys(synth(stack))
        assert keys and {k["inputs"]["multiRegion"] for k in keys} == {True}


def test_single_region_keys_can_be_kept_but_never_replicated():
    """A stack deployed with single-Region keys keeps them with kms-multi-region: false (no replacement); a
    single-Region key cannot become a multi-Region primary or get replicas
    (https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-create.html), so adding a region is
    refused with that key named."""
    import yaml as _yaml

    raw = _yaml.safe_load((STACKS / "Pulumi.dev.yaml").read_text())["config"]["mlops:platform"]
    raw["kms-multi-region"] = False
    assert parse_platform(raw, "f.yaml").kms_multi_region is False
    raw["regions"].append(
        {"name": "us-west-2", "availability-zones": ["us-west-2a", "us-west-2b"], "vpc-cidr": "10.99.0.0/16"}
    )
    with pytest.raises(ConfigError) as error:
        parse_platform(raw, "f.yaml")
    assert str(error.value).startswith(
        "f.yaml: mlops:platform.kms-multi-region: false keeps single-Region keys, which cannot be replicated to us-west-2"
    )


def test_kept_single_region_keys_reach_the_program(synth, tmp_path):
    text = (
        (STACKS / "Pulumi.dev.yaml")
        .read_text()
        .replace("    environment: dev\n", "    environment: dev\n    kms-multi-region: false\n", 1)
    )
    assert "kms-multi-region: false" in text
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    doc = synth("dev", tmp_path)
    assert {k["inputs"]["multiRegion"] for k in key_ring_keys(doc)} == {False}


# -- ordering: create in the order AWS and Kubernetes need, destroy in reverse ---------------------------------


def test_database_and_its_security_group_do_not_wait_for_the_cluster(synth):
    """The database's only link to the cluster is one ingress rule naming the cluster security group."""
    prod = synth("prod")
    eks = by_name(prod, "cluster-us-east-1-eks")["urn"]
    for name in ("registry-db", "registry-db-sg"):
        assert eks not in closure(prod, by_name(prod, name)["urn"])
    assert "ingress" not in by_name(prod, "registry-db-sg")["inputs"]
    rule = by_name(prod, "registry-db-from-cluster")
    assert (rule["inputs"]["fromPort"], rule["inputs"]["toPort"], rule["inputs"]["ipProtocol"]) == (
        5432,
        5432,
        "tcp",
    )
    assert rule["propertyDependencies"]["referencedSecurityGroupId"] == [eks]
    assert rule["propertyDependencies"]["securityGroupId"] == [by_name(prod, "registry-db-sg")["urn"]]


def test_control_plane_waits_for_subnets_only_nodes_for_their_route_out(synth):
    """EKS needs the subnets; nodes need their way to AWS (NAT or endpoints) to join."""
    prod = synth("prod")
    eks = closure(prod, by_name(prod, "cluster-us-east-1-eks")["urn"])
    assert not any("natGateway" in urn for urn in eks)
    nodes = by_name(prod, "cluster-us-east-1-system-nodes")["dependencies"]
    for zone in ("a", "b", "c"):
        assert by_name(prod, f"net-us-east-1-private-us-east-1{zone}-default")["urn"] in nodes
    assert by_name(prod, "net-us-east-1-ecr-dkr-endpoint")["urn"] in nodes


def test_mlflow_waits_for_node_pools_the_load_balancer_controller_and_its_pod_identity(synth):
    """Pods started before their Pod Identity association get no credentials
    (https://docs.aws.amazon.com/eks/latest/userguide/pod-id-association.html: existing pods must be restarted)."""
    prod = synth("prod")
    deployment = by_name(prod, "registry-mlflow")["dependencies"]
    for name in (
        "registry-mlflow-pod-identity",
        "cluster-us-east-1-lbc",
        "cluster-us-east-1-node-class",
        "cluster-us-east-1-pool-cpu-on-demand",
        "cluster-us-east-1-pool-gpu",
    ):
        assert by_name(prod, name)["urn"] in deployment


def test_ingresses_depend_on_the_load_balancer_controller(synth):
    """The controller's finalizer on an Ingress is removed by the controller after it deletes the ALB: destroy must
    delete the Ingress while the controller still runs, i.e. the Ingress depends on the controller's release."""
    prod = synth("prod")
    assert (
        by_name(prod, "cluster-us-east-1-lbc")["urn"]
        in by_name(prod, "registry-mlflow-ingress")["dependencies"]
    )


def test_team_workloads_wait_for_their_pod_identity_association(synth):
    team = synth("team-fraud-prod")
    for region in ("us-east-1", "us-west-2"):
        association = by_name(team, f"team-fraud-{region}-pod-identity")["urn"]
        for deployment in states(team, "kubernetes:apps/v1:Deployment"):
            if f"-{region}-" in deployment["urn"]:
                assert association in closure(team, deployment["urn"])


def test_container_insights_waits_for_nodes_not_the_whole_cluster(synth):
    observe = synth("prod")
    for region in ("us-east-1", "us-west-2"):
        addon = by_name(observe, f"observability-{region}-container-insights")
        assert by_name(observe, f"cluster-{region}-system-nodes")["urn"] in addon["dependencies"]
        assert by_name(observe, f"cluster-{region}-karpenter")["urn"] not in closure(observe, addon["urn"])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_keys_of_data_a_destroy_leaves_behind_are_left_too(synth, stack):
    """A KMS key scheduled for deletion makes what it encrypted unreadable once deleted ("Deleting AWS KMS keys",
    AWS KMS Developer Guide): outside dev the final database snapshot, the buckets destroy does not empty and the
    governance logs outlive a destroy, so their keys are retained on delete; dev's data goes with its keys."""
    document = synth(stack)
    for state in states(document):
        if state["type"] in ("aws:kms/key:Key", "aws:kms/replicaKey:ReplicaKey"):
            purpose = state["inputs"]["tags"]["purpose"]
            # cost-exports: the billing data the CUR export bucket keeps for years (components/cost/reporting.py)
            kept = stack != "dev" and purpose in ("artifacts", "logs", "database", "cost-exports")
            assert state["retainOnDelete"] is kept, (state["urn"], purpose)
