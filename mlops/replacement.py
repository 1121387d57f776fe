"""Refuse config changes that would replace or delete stateful resources (keys, buckets, databases, clusters).

Offline there is no state, so the previous state is a file: an earlier `mlops preview STACK --json` (what CI keeps
from the last deployed commit) or `pulumi stack export` (what a deployed stack holds). For every stateful
resource in it, the new preview is compared on the properties the provider replaces the resource for
("ForceNew" in the Terraform AWS provider that pulumi-aws wraps); a changed one, or a stateful resource that is no
longer there, is one refused change. A property whose value comes from another resource's output is compared by
where it comes from (the resources it depends on): a new offline preview only has stand-ins for the values, but
switching a database's `kmsKeyId` to another key shows as another dependency. A major engine upgrade of a database
that RDS would defer to the maintenance window is refused too (see ``deferred_major_upgrade``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.loader import ConfigError

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
COMPUTED = object()  # an Optional+Computed property: left out, it keeps its value

_TF = "https://github.com/hashicorp/terraform-provider-aws/blob/main/"


@dataclass(frozen=True)
class StatefulType:
    """A stateful resource type: what replacing it loses, and its replacement-forcing properties."""

    loses: str
    source: str
    # property (a dotted path into nested inputs) -> the value it takes when left out (COMPUTED: it keeps the
    # deployed value)
    forces_new: Mapping[str, Any]
    # properties that can be added in place but whose removal replaces the resource
    removal_forces_new: tuple[str, ...] = ()


STATEFUL: dict[str, StatefulType] = {
    "aws:kms/key:Key": StatefulType(
        "a new key: whatever the old key encrypted can no longer be decrypted once it is deleted",
        _TF + "internal/service/kms/key.go (ForceNew: multi_region, key_usage, customer_master_key_spec, "
        "custom_key_store_id, xks_key_id)",
        {
            "multiRegion": COMPUTED,
            "keyUsage": "ENCRYPT_DECRYPT",
            "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
            "customKeyStoreId": None,
            "xksKeyId": None,
        },
    ),
    "aws:kms/replicaKey:ReplicaKey": StatefulType(
        "a new replica: the old replica key, and what it encrypted in its region, is scheduled for deletion",
        _TF + "internal/service/kms/replica_key.go (ForceNew: primary_key_arn)",
        {"primaryKeyArn": COMPUTED},
    ),
    "aws:s3/bucket:Bucket": StatefulType(
        "a new, empty bucket: every object and version in the old one goes with it",
        _TF + "website/docs/r/s3_bucket.html.markdown (bucket, bucket_prefix, object_lock_enabled: "
        "Optional, Forces new resource)",
        {"bucket": COMPUTED, "bucketPrefix": COMPUTED, "objectLockEnabled": COMPUTED},
    ),
    "aws:rds/instance:Instance": StatefulType(
        "a new, empty database (the old one is deleted, with a final snapshot at most)",
        _TF
        + "internal/service/rds/instance.go (ForceNew: identifier, identifier_prefix, engine, kms_key_id, "
        "storage_encrypted, username, db_name, timezone, nchar_character_set_name, snapshot_identifier)",
        {
            "identifier": COMPUTED,
            "identifierPrefix": COMPUTED,
            "engine": COMPUTED,
            "kmsKeyId": COMPUTED,
            "storageEncrypted": False,
            "username": COMPUTED,
            "dbName": COMPUTED,
            "timezone": COMPUTED,
            "ncharCharacterSetName": COMPUTED,
            "snapshotIdentifier": COMPUTED,
        },
    ),
    "aws:ecr/repository:Repository": StatefulType(
        "a new, empty repository: the old one is deleted with its images (or the delete fails while it holds any)",
        _TF + "internal/service/ecr/repository.go (ForceNew: name, encryption_configuration)",
        {"name": COMPUTED, "encryptionConfigurations": COMPUTED},
    ),
    "aws:eks/cluster:Cluster": StatefulType(
        "a new cluster: every workload, Kubernetes object, node and load balancer of the old one goes with it",
        _TF + "internal/service/eks/cluster.go (ForceNew: name, role_arn, bootstrap_self_managed_addons, "
        "access_config.bootstrap_cluster_creator_admin_permissions, kubernetes_network_config.ip_family and "
        ".service_ipv4_cidr; encryption_config when removed; vpc_config.subnet_ids updates in place)",
        {
            "name": COMPUTED,
            "roleArn": COMPUTED,
            "bootstrapSelfManagedAddons": True,
            "accessConfig.bootstrapClusterCreatorAdminPermissions": True,
            "kubernetesNetworkConfig.ipFamily": COMPUTED,
            "kubernetesNetworkConfig.serviceIpv4Cidr": COMPUTED,
        },
        removal_forces_new=("encryptionConfig",),
    ),
}


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    inputs: Mapping[str, Any]
    property_dependencies: Mapping[str, list[str]]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def read_previous(path: Path) -> dict[str, Resource]:
    """The resources of a saved preview document or a `pulumi stack export` file, by URN, read with the strict
    JSON reader and the shape checks of `mlops check --from`."""
    from components.loader import load_json
    from mlops.check import check_parents, check_state, preview_document

    document = load_json(path)
    if isinstance(document, dict) and "deployment" in document:
        resources = (
            document["deployment"].get("resources") if isinstance(document["deployment"], dict) else None
        )
        if not isinstance(resources, list):
            raise ConfigError(
                path, "deployment.resources", "missing or not an array; expected `pulumi stack export` output"
            )
        states = [
            check_state(state, path, f"deployment.resources[{index}]")
            for index, state in enumerate(resources)
        ]
        check_parents(states, path, "deployment.resources[{}]")
    elif isinstance(document, dict) and "steps" in document:
        states = [step["newState"] for step in preview_document(document, path)["steps"]]
    else:
        raise ConfigError(
            path,
            "(document)",
            "neither `mlops preview --json` output (steps) nor `pulumi stack export` (deployment.resources)",
        )
    return {state["urn"]: _resource(state) for state in states}


def current(document: Mapping[str, Any]) -> dict[str, Resource]:
    return {step["newState"]["urn"]: _resource(step["newState"]) for step in document["steps"]}


def _resource(state: Mapping[str, Any]) -> Resource:
    return Resource(
        urn=state["urn"],
        type=state.get("type", ""),
        inputs=state.get("inputs") or {},
        property_dependencies=state.get("propertyDependencies") or {},
    )


def _opaque(value: Any) -> bool:
    return value == UNKNOWN or (isinstance(value, dict) and SECRET_SIG_KEY in value)


def _get(inputs: Mapping[str, Any], path: str, default: Any) -> Any:
    value: Any = inputs
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


def _names(urns: Iterable[str]) -> str:
    return ", ".join(sorted(urn.rsplit("::", 1)[-1] for urn in urns)) or "a literal value"


def refused_changes(
    previous: Mapping[str, Resource], now: Mapping[str, Resource], allowed: Iterable[str] = ()
) -> list[str]:
    """One line per change that would replace or delete a stateful resource (names in ``allowed`` excepted)."""
    allowed = set(allowed)
    lines: list[str] = []
    for urn, old in sorted(previous.items()):
        kind = STATEFUL.get(old.type)
        if kind is None or old.name in allowed:
            continue
        new = now.get(urn)
        if new is None:
            lines.append(
                f"refused: {old.type} {old.name} would be deleted: it is no longer in the program ({kind.loses})"
            )
            continue
        for prop, default in kind.forces_new.items():
            change = _changed(old, new, prop, default)
            if change:
                lines.append(
                    f"refused: {old.type} {old.name}: {prop} {change} would replace it ({kind.loses})"
                )
        for prop in kind.removal_forces_new:
            if _get(old.inputs, prop, None) and not _get(new.inputs, prop, None):
                lines.append(
                    f"refused: {old.type} {old.name}: {prop} removed would replace it ({kind.loses})"
                )
        upgrade = deferred_major_upgrade(old, new)
        if upgrade:
            lines.append(f"refused: {old.type} {old.name}: {upgrade}")
    return lines


def _changed(old: Resource, new: Resource, prop: str, default: Any) -> str | None:
    """How ``prop`` changes ("a -> b"), or None: by value, or by the resources a value comes from."""
    head = prop.split(".", 1)[0]
    before_deps = set(old.property_dependencies.get(head) or [])
    after_deps = set(new.property_dependencies.get(head) or [])
    if after_deps:
        # Offline the value is a stand-in; where it comes from is what can change.
        return (
            None if after_deps == before_deps else f"from {_names(before_deps)} -> from {_names(after_deps)}"
        )
    before, after = _get(old.inputs, prop, default), _get(new.inputs, prop, default)
    if after is COMPUTED or before is COMPUTED or _opaque(before) or _opaque(after) or before == after:
        return None
    return f"{json.dumps(before)} -> {json.dumps(after)}"


def _major(version: Any) -> str | None:
    return str(version).split(".", 1)[0] if isinstance(version, str) and version else None


def deferred_major_upgrade(old: Resource, new: Resource) -> str | None:
    """A PostgreSQL major upgrade without ``applyImmediately``: RDS keeps the instance on the old version and
    parameter group until the maintenance window ("Modifying an Amazon RDS DB instance": changes without
    ApplyImmediately wait for the next maintenance window), while the same `pulumi up` deletes the old major's
    parameter group it still uses (InvalidDBParameterGroupState). Refused with what to set instead."""
    if old.type != "aws:rds/instance:Instance":
        return None
    before, after = _major(old.inputs.get("engineVersion")), _major(new.inputs.get("engineVersion"))
    if before is None or after is None or before == after or new.inputs.get("applyImmediately") is True:
        return None
    return (
        f"engineVersion {before} -> {after} is a major upgrade RDS would defer to the maintenance window while "
        f"the postgres{before} parameter group it still uses is deleted (InvalidDBParameterGroupState); set "
        "registry.db-apply-immediately: true for this deployment (the instance restarts during it)"
    )
