"""`mlops pack-config`: the policy pack config a stack's live `pulumi preview` / `pulumi up` runs with.

A platform stack's is policies/config/<environment>.json as it is (it holds no placeholder). A team stack's is
policies/config/team-<environment>.json with its placeholders filled (policies/team_config.py): the permissions
boundary and the allowed model licences from its platform stack's outputs (what `pulumi stack output --json`
prints), and the stack's traffic at the base revision (what was deployed, or the pull request's base) from the
stack file at that git revision. A placeholder whose source is not given stays, and the policy reports it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from components.loader import (
    ConfigError,
    decode_text,
    json_kind,
    load_json,
    parse_json,
    refusal,
)
from components.stackfile import TEAM_KEY, read_stack_config
from components.validation import validate_model
from mlops.deploy_plan import stack_environment
from policies.team_config import (
    BASE_TRAFFIC_PLACEHOLDER,
    BOUNDARY_PLACEHOLDER,
    LICENSES_PLACEHOLDER,
    with_allowed_licenses,
    with_base_traffic,
    with_permissions_boundary,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "policies" / "config"
STDIN = "-"


class _Identity(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    permissions_boundary_arn: str | None = Field(None, alias="permissionsBoundaryArn")


class PlatformOutputs(BaseModel):
    """What a team's pack config takes of its platform stack's outputs (the rest is not read here)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    identity: _Identity | None = None
    allowed_licenses: list[str] | None = Field(None, alias="allowedLicenses")


def read_outputs(source: str, stdin: bytes | None = None) -> PlatformOutputs:
    """The platform's outputs from the file ``source`` (``-``: ``stdin``'s bytes), their shape checked."""
    label = "<stdin>" if source == STDIN else source
    if source == STDIN:
        with refusal(label):
            document = parse_json(decode_text(stdin or b""))
    else:
        document = load_json(Path(source))
    if not isinstance(document, dict):
        raise ConfigError(
            label,
            "(document)",
            f"not stack outputs: a JSON {json_kind(document)}; expected what `pulumi stack output --json` prints",
        )
    return validate_model(PlatformOutputs, document, label, "")


def pack_config(
    stacks_dir: Path, stack: str, outputs: PlatformOutputs | None, base: str | None
) -> tuple[dict[str, Any], list[str]]:
    """(the stack's pack config, the placeholders left unfilled because their source was not given)."""
    from mlops.history import base_traffic, revision_in

    path, raw = read_stack_config(stacks_dir, stack)
    environment = stack_environment(stacks_dir, stack)
    team = TEAM_KEY in raw
    name = f"team-{environment}" if team else environment
    config = json.loads((CONFIG_DIR / f"{name}.json").read_text(encoding="utf-8"))
    if not team:
        if base is not None:
            revision_in(path.resolve().parent, base, "--base")  # a wrong revision is refused all the same
        return config, []
    traffic = base_traffic(stacks_dir, stack, base) if base is not None else None
    if outputs is not None:
        arn = outputs.identity.permissions_boundary_arn if outputs.identity is not None else None
        config = with_allowed_licenses(with_permissions_boundary(config, arn), outputs.allowed_licenses)
    config = with_base_traffic(config, traffic)
    text = json.dumps(config)
    left = [
        placeholder
        for placeholder in (BOUNDARY_PLACEHOLDER, LICENSES_PLACEHOLDER, BASE_TRAFFIC_PLACEHOLDER)
        if json.dumps(placeholder) in text
    ]
    return config, left
