"""JSON Schema of stack files, generated from the pydantic config models (for editors' YAML support)."""

from __future__ import annotations

from typing import Any

from components.config import OIDC_SECRET_KEY, PLATFORM_KEY, PlatformConfig


def stack_file_schema() -> dict[str, Any]:
    platform = PlatformConfig.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = platform.pop("$defs", {})
    defs["PlatformConfig"] = platform
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
