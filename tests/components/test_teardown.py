"""A prod destroy that finishes: every resource AWS refuses to delete (or deletes only by leaving data behind) is
Pulumi-`protect`ed or retained, and the teardown guide says what to do with it.

The resources are found in the prod preview by their properties, not by a list kept here: whatever a future
change adds with deletion protection, Object Lock, a required final snapshot or a bucket destroy does not empty
is held to the same rule.
"""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import REPO, by_name, states

GUIDE = REPO / "docs" / "first-deployment.md"
BUCKET = "aws:s3/bucket:Bucket"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
DATABASES = ("aws:rds/instance:Instance", "aws:rds/cluster:Cluster")


def name_of(state: dict[str, Any]) -> str:
    return state["urn"].rsplit("::", 1)[-1]


def locked_buckets(document: dict[str, Any]) -> set[str]:
    """The buckets (resource names) with Object Lock on: by the bucket's own `objectLockEnabled`, or by an
    object lock configuration naming the bucket (its `bucket` input is the bucket's name or, auto-named, its id)."""
    buckets = states(document, BUCKET)
    by_bucket_name = {b["inputs"].get("bucket") or b.get("id"): name_of(b) for b in buckets}
    locked = {name_of(b) for b in buckets if b["inputs"].get("objectLockEnabled") is True}
    for config in states(document, OBJECT_LOCK):
        if config["inputs"].get("objectLockEnabled") == "Enabled":
            locked.add(by_bucket_name[config["inputs"]["bucket"]])
    return locked


def refusals(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Resource name -> (type, why AWS refuses its deletion or keeps data past it), from the properties."""
    found: dict[str, tuple[str, str]] = {}
    locked = locked_buckets(document)
    for state in states(document):
        inputs, type_, name = state["inputs"], state["type"], name_of(state)
        if inputs.get("deletionProtection") is True or inputs.get("enableDeletionProtection") is True:
            found[name] = (type_, "deletion protection")
        elif type_ in DATABASES and inputs.get("skipFinalSnapshot") is not True:
            found[name] = (type_, "final snapshot")
        elif type_ == BUCKET and name in locked:
            found[name] = (type_, "object lock")
        elif type_ == BUCKET and inputs.get("forceDestroy") is not True:
            found[name] = (type_, "not emptied by destroy")
    return found


def teardown_section() -> str:
    text = GUIDE.read_text()
    start = text.index("## 7. Tear down")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_refusals_are_found_by_their_properties(synth):
    """The detection above finds what the prod stack is known to hold (so a renamed property cannot make the
    next test pass on nothing): both clusters' and the database's deletion protection, and Object Lock on the
    artifact buckets and the trail's."""
    found = refusals(synth("prod"))
    assert found["cluster-us-east-1-eks"] == ("aws:eks/cluster:Cluster", "deletion protection")
    assert found["cluster-us-west-2-eks"] == ("aws:eks/cluster:Cluster", "deletion protection")
    assert found["registry-db"] == ("aws:rds/instance:Instance", "deletion protection")
    for bucket in (
        "registry-artifacts-us-east-1",
        "registry-artifacts-us-west-2",
        "observability-trail-bucket",
        "observability-trail-replica",
    ):
        assert found[bucket] == (BUCKET, "object lock"), bucket
    assert found["registry-access-logs-us-east-1"] == (BUCKET, "not emptied by destroy")


def test_eks_deletion_protection_makes_the_prod_cluster_protected(synth):
    """EKS refuses DeleteCluster on an active cluster with deletion protection (InvalidRequestException) until
    `update-cluster-config --no-deletion-protection`
    (https://docs.aws.amazon.com/eks/latest/userguide/deletion-protection.html): prod's clusters are also
    Pulumi-protected, so a destroy stops on Pulumi's own refusal (https://www.pulumi.com/docs/iac/concepts/options/protect/)
    that says how to lift it; dev's are neither."""
    prod, dev = synth("prod"), synth("dev")
    for region in ("us-east-1", "us-west-2"):
        cluster = by_name(prod, f"cluster-{region}-eks")
        assert cluster["inputs"]["deletionProtection"] is True
        assert cluster["protect"] is True
    cluster = by_name(dev, "cluster-us-east-1-eks")
    assert cluster["inputs"]["deletionProtection"] is False and cluster["protect"] is False


def test_every_prod_resource_aws_refuses_to_delete_is_protected_or_retained(synth):
    """A resource AWS refuses to delete (EKS or RDS deletion protection, S3 DeleteBucket on a bucket with objects,
    BucketNotEmpty, which Object Lock keeps non-empty until retention ends:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html) or deletes only by leaving a final
    snapshot (RDS DeleteDBInstance without SkipFinalSnapshot) would stop `pulumi destroy` half-way, after what
    depends on it is gone. Each is `protect`ed (the destroy refuses before touching it) or retained on delete."""
    document = synth("prod")
    by_resource = {name_of(s): s for s in states(document)}
    found = refusals(document)
    assert found
    unguarded = sorted(
        f"{name} ({type_}: {why})"
        for name, (type_, why) in found.items()
        if not (by_resource[name]["protect"] or by_resource[name]["retainOnDelete"])
    )
    assert unguarded == []


def test_staging_resources_with_deletion_protection_are_protected_too(synth):
    """Staging keeps its database's data (deletion protection and a final snapshot, as prod): RDS refuses
    DeleteDBInstance while deletion protection is on
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html#USER_DeleteInstance.DeletionProtection),
    so it is `protect`ed and a staging destroy stops before deleting anything, not half-way at the database."""
    document = synth("staging")
    by_resource = {name_of(s): s for s in states(document)}
    protected = {
        name: by_resource[name]["protect"]
        for name, (_type, why) in refusals(document).items()
        if why == "deletion protection"
    }
    assert protected == {"registry-db": True}


def test_the_teardown_guide_names_every_resource_aws_refuses_to_delete(synth):
    """docs/first-deployment.md's teardown section names each such resource by its type token or its name, so the
    guide says how to lift each refusal; it walks the steps in the order a destroy needs: team stacks, deletion
    protection and `protect` off, the ECR-created repositories, the clusters, GuardDuty's endpoints, the rest."""
    section = teardown_section()
    missing = sorted(
        f"{name} ({type_})"
        for name, (type_, _why) in refusals(synth("prod")).items()
        if f"`{type_}`" not in section and f"`{name}`" not in section
    )
    assert missing == []
    order = [
        "mlops team dependents prod",
        "--no-deletion-protection",
        "pulumi state unprotect",
        "mlops purge-repositories prod --delete",
        "--target-dependents",  # the clusters first: GuardDuty recreates its endpoint while one is there
        "mlops purge-guardduty-endpoints prod --delete",
        "pulumi destroy --stack prod\n",
    ]
    positions = [section.find(step) for step in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), dict(zip(order, positions, strict=True))
    assert re.search(
        r"aws eks update-cluster-config --name \S+ --region \S+ --no-deletion-protection", section
    )
