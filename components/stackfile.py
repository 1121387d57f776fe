"""A stack file's ``config:`` mapping and its keys, read before any model: the file's top-level keys, Pulumi's
config key form, the platform's known and secret keys, and structured values given as JSON text.

Nothing here knows a concern's model (components.config assembles them), so commands that only read keys, such
as selecting stacks, load no model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.loader import (
    ConfigError,
    UnknownStackError,
    _Refused,
    key_text,
    list_stacks,
    load_yaml,
    parse_json,
    stack_file,
)
from components.validation import describe_value

CONFIG_NAMESPACE = "mlops"
PLATFORM_KEY = "mlops:platform"
TEAM_KEY = "mlops:team"
OIDC_SECRET_KEY = "mlops:oidc-client-secret"
# The organisation's CA bundle (PEM) when `custom-ca-bundle` names a secret (components.trust.config).
CUSTOM_CA_BUNDLE_KEY = "mlops:custom-ca-bundle"
KNOWN_KEYS = (PLATFORM_KEY, TEAM_KEY, OIDC_SECRET_KEY, CUSTOM_CA_BUNDLE_KEY)
# Keys whose value must be a Pulumi secret (`pulumi config set --secret`), never plaintext in a stack file.
SECRET_KEYS = (OIDC_SECRET_KEY, CUSTOM_CA_BUNDLE_KEY)


def read_stack_config(stacks_dir: Path, stack: str) -> tuple[Path, dict[str, Any]]:
    """Read the raw ``config:`` mapping of a stack file; unknown stacks list the stacks that exist."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise UnknownStackError(stack, Path(stacks_dir), list_stacks(stacks_dir))
    return path, read_config_file(path)


def check_config_key(path: Path, key: str) -> None:
    """Refuse a key Pulumi's config.ParseKey (sdk/go/common/resource/config/key.go) would not read as this one:
    the form is `<namespace>:<name>`; ParseKey also takes the old `<namespace>:config:<name>` as the same key,
    which would make two spellings of one key, so that form is refused with the one to write."""
    parts = key.split(":")
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        raise ConfigError(
            path, key_text(key), f"the old form of a config key; write {key_text(parts[0] + ':' + parts[2])}"
        )
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            path,
            key_text(key),
            "is not a Pulumi config key; allowed: <namespace>:<name> (e.g. mlops:platform)",
        )


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file, read by the one YAML loader (components/loader.py)."""
    document = load_yaml(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(
            path, "(top level)", f"must be a mapping with a 'config' key, got {describe_value(document)}"
        )
    unknown_top = sorted(set(document) - {"config", "secretsprovider", "encryptedkey", "encryptionsalt"})
    if unknown_top:
        raise ConfigError(
            path,
            unknown_top[0],
            "unknown top-level key; allowed: config, secretsprovider, encryptedkey, encryptionsalt",
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(path, "config", "must be a mapping of namespaced keys (e.g. mlops:platform)")
    for key in config:
        check_config_key(path, key)
        if str(key).startswith(f"{CONFIG_NAMESPACE}:") and key not in KNOWN_KEYS:
            raise ConfigError(path, str(key), f"unknown key; allowed: {', '.join(KNOWN_KEYS)}")
        if key in SECRET_KEYS and not (isinstance(config[key], dict) and set(config[key]) == {"secure"}):
            raise ConfigError(
                path, str(key), f"must be a secret (a `secure:` value: pulumi config set --secret {key} ...)"
            )
    return config


def structured_value(raw: Any, file: str | Path | None, key: str) -> Any:
    """A structured config value, which Pulumi hands programs as JSON text (`pulumi config set --path` or a
    value written as a JSON string), read with the same strict JSON reader as every document."""
    if not isinstance(raw, str):
        return raw
    try:
        return parse_json(raw)
    except _Refused as exc:
        raise ConfigError(
            file, key, f"must be a mapping, or a JSON object in a string ({exc.message})"
        ) from None
