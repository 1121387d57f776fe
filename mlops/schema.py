"""JSON Schema of stack files, generated from the pydantic config models (for editors' YAML support)."""

from __future__ import annotations

from typing import Any

from components.config import PLATFORM_KEY, PlatformConfig


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
                "properties": {PLATFORM_KEY: {"$ref": "#/$defs/PlatformConfig"}},
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
