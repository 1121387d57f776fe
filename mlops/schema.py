"""JSON Schema of stack files, generated from the pydantic config models (for editors' YAML support)."""

from __future__ import annotations

from typing import Any

from components.config import PlatformConfig
from components.serving.config import TeamConfig
from components.stackfile import OIDC_SECRET_KEY, PLATFORM_KEY, TEAM_KEY


def stack_file_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for model in (PlatformConfig, TeamConfig):
        schema = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mlops-platform.dev/schemas/stack-file.json",
        "title": "mlops-platform stack file (stacks/Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {
                    PLATFORM_KEY: {"$ref": "#/$defs/PlatformConfig"},
                    TEAM_KEY: {"$ref": "#/$defs/TeamConfig"},
                    # Set with `pulumi config set --secret`: only the encrypted form belongs in a stack file.
                    OIDC_SECRET_KEY: {
                        "type": "object",
                        "properties": {"secure": {"type": "string"}},
                        "required": ["secure"],
                        "additionalProperties": False,
                    },
                },
                "patternProperties": {"^(?!mlops:)[A-Za-z0-9_.-]+:.+$": {}},
                "additionalProperties": False,
            },
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "additionalProperties": False,
        "$defs": defs,
    }
