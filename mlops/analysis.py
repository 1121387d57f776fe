"""One stack's document through the policy pack: the pack config the live job uses for the stack, and the
violations the pack reports. `mlops check` and its forked children (mlops/forked.py) both run it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from components.loader import stack_file
from mlops.analyzer import Violation


def document_environment(document: dict[str, Any]) -> str:
    environment = (document.get("outputs") or {}).get("environment")
    return environment if environment in ("dev", "staging", "prod") else "prod"


def analyze_document(
    stack: str,
    document: dict[str, Any],
    stacks_dir: Path,
    pack: Any = None,
    progress: Any = None,
    boundaries: dict[str, str | None] | None = None,
) -> tuple[list[Violation], float]:
    """The pack's violations for ``document`` under the stack's config, and the seconds spent in policies;
    ``pack`` serves it (mlops/analyzer.py), by default the pack's analyzer in this process."""
    from mlops.analyzer import PackInProcess

    serving = pack or PackInProcess().start()
    serving.configure(policy_config(stack, document, stacks_dir, {} if boundaries is None else boundaries))
    started = time.perf_counter()
    violations = serving.analyze(document, progress=progress)
    return violations, time.perf_counter() - started


def pack_config(environment: str) -> dict[str, dict[str, Any]]:
    """The pack's config for ``environment``, from the cache when the policies are unchanged (importing the
    pack here would pay the policy SDK's start-up a second time, beside the pack's process)."""
    from mlops import cache

    def compute() -> dict[str, dict[str, Any]]:
        from policies.pack import environment_config

        return environment_config(environment)

    return cache.policy_config(environment, compute)


def is_team_document(document: dict[str, Any]) -> bool:
    """A model-team stack's preview (stacks/team.py exports `team`; a platform stack never does)."""
    return "team" in (document.get("outputs") or {})


def policy_config(
    stack: str, document: dict[str, Any], stacks_dir: Path, boundaries: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """The pack config the live job uses for this stack: policies/config/<environment>.json for a platform
    stack; for a team stack team-<environment>.json with its platform stack's permissions boundary filled in
    (read from the platform's outputs, synthesised offline as deployed; `boundaries` caches them per platform).
    A team document whose stack file is not in ``stacks_dir`` keeps the placeholder, which the policy reports."""
    environment = document_environment(document)
    if not is_team_document(document):
        return pack_config(environment)
    config = pack_config(f"team-{environment}")
    if not stack_file(stacks_dir, stack).is_file():
        return config
    from mlops.synth import load_source, platform_outputs

    platform = load_source(stack, stacks_dir).platform_stack
    if platform is None:
        return config
    if platform not in boundaries:
        identity = platform_outputs(platform, stacks_dir).get("identity") or {}
        boundaries[platform] = identity.get("permissionsBoundaryArn")
    from policies.team_config import with_permissions_boundary

    return with_permissions_boundary(config, boundaries[platform])
