"""Refuse config changes that would replace or delete stateful resources (keys, buckets, databases).

Offline there is no state, so the previous state is a file: an earlier `mlops preview STACK --json` (what CI keeps
from the last deployed commit) or `pulumi stack export` (what a deployed stack holds). For every stateful
resource in it, the new preview is compared on the properties the provider replaces the resource for
("ForceNew" in the Terraform AWS provider that pulumi-aws wraps); a changed one, or a stateful resource that is no
longer there, is one refused change. Properties whose new value comes from another resource's output are not
compared: a new offline preview only has stand-ins for those, and a replaced dependency is itself refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import ConfigError

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
COMPUTED = object()  # an Optional+Computed property: left out, it keeps its value

_TF = "https://github.com/hashicorp/terraform-provider-aws/blob/main/"


@dataclass(frozen=True)
class StatefulType:
    """A stateful resource type: what replacing it loses, and its replacement-forcing properties."""

    loses: str
    source: str
    # property -> the value it takes when left out (COMPUTED: it keeps the deployed value)
    forces_new: Mapping[str, Any]


STATEFUL: dict[str, StatefulType] = {
    "aws:kms/key:Key": StatefulType(
        "a new key: whatever the old key encrypted can no longer be decrypted once it is deleted",
        _TF + "internal/service/kms/key.go (ForceNew: multi_region, key_usage, customer_master_key_spec, "
        "custom_key_store_id, xks_key_id)",
        {"multiRegion": COMPUTED, "keyUsage": "ENCRYPT_DECRYPT", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
         "customKeyStoreId": None, "xksKeyId": None},
    ),
    "aws:s3/bucket:Bucket": StatefulType(
        "a new, empty bucket: every object and version in the old one goes with it",
        _TF + "website/docs/r/s3_bucket.html.markdown (bucket, bucket_prefix, object_lock_enabled: "
        "Optional, Forces new resource)",
        {"bucket": COMPUTED, "bucketPrefix": COMPUTED, "objectLockEnabled": COMPUTED},
    ),
    "aws:rds/instance:Instance": StatefulType(
        "a new, empty database (the old one is deleted, with a final snapshot at most)",
        _TF + "internal/service/rds/instance.go (ForceNew: identifier, identifier_prefix, engine, kms_key_id, "
        "storage_encrypted, username, db_name, timezone, nchar_character_set_name, snapshot_identifier)",
        {"identifier": COMPUTED, "identifierPrefix": COMPUTED, "engine": COMPUTED, "kmsKeyId": COMPUTED,
         "storageEncrypted": None, "username": COMPUTED, "dbName": COMPUTED, "timezone": COMPUTED,
         "ncharCharacterSetName": COMPUTED, "snapshotIdentifier": COMPUTED},
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
        resources = document["deployment"].get("resources") if isinstance(document["deployment"], dict) else None
        if not isinstance(resources, list):
            raise ConfigError(path, "deployment.resources", "missing or not an array; expected `pulumi stack export` output")
        states = [check_state(state, path, f"deployment.resources[{index}]") for index, state in enumerate(resources)]
        check_parents(states, path, "deployment.resources[{}]")
    elif isinstance(document, dict) and "steps" in document:
        states = [step["newState"] for step in preview_document(document, path)["steps"]]
    else:
        raise ConfigError(
            path, "(document)", "neither `mlops preview --json` output (steps) nor `pulumi stack export` (deployment.resources)"
        )
    return {state["urn"]: _resource(state) for state in states}


def current(document: Mapping[str, Any]) -> dict[str, Resource]:
    return {step["newState"]["urn"]: _resource(step["newState"]) for step in document["steps"]}


def _resource(state: Mapping[str, Any]) -> Resource:
    return Resource(
        urn=state["urn"], type=state.get("type", ""), inputs=state.get("inputs") or {},
        property_dependencies=state.get("propertyDependencies") or {},
    )


def _opaque(value: Any) -> bool:
    return value == UNKNOWN or (isinstance(value, dict) and SECRET_SIG_KEY in value)


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
            lines.append(f"refused: {old.type} {old.name} would be deleted: it is no longer in the program ({kind.loses})")
            continue
        for prop, default in kind.forces_new.items():
            if new.property_dependencies.get(prop):
                continue
            before, after = old.inputs.get(prop, default), new.inputs.get(prop, default)
            if after is COMPUTED or before is COMPUTED or _opaque(before) or _opaque(after) or before == after:
                continue
            lines.append(
                f"refused: {old.type} {old.name}: {prop} {json.dumps(before)} -> {json.dumps(after)} "
                f"would replace it ({kind.loses})"
            )
    return lines
