"""The platform context of a stack, built from its config: the blocks' PlatformContext takes plain values (an
environment, partition, account, region and tags) and knows no config model, so the programs build it here."""

from __future__ import annotations

from components.blocks.context import PlatformContext
from components.config import PlatformConfig
from components.configbase import tags_for
from components.serving.config import TeamConfig, team_tags


def platform_context(cfg: PlatformConfig, region: str | None = None) -> PlatformContext:
    """A platform stack's context, in its primary region unless ``region`` says otherwise."""
    return PlatformContext(
        environment=cfg.environment,
        partition=cfg.partition,
        account_id=cfg.account_id,
        region=region or cfg.regions[0].name,
        tags=tags_for(cfg.tags, cfg.environment),
    )


def team_context(team: TeamConfig, account_id: str, partition: str, region: str) -> PlatformContext:
    """A team stack's context: the team's own tags (it owns and pays for what its stack creates)."""
    return PlatformContext(
        environment=team.environment,
        partition=partition,
        account_id=account_id,
        region=region,
        tags=team_tags(team),
    )
