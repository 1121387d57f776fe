"""Quota arithmetic of the training pools: the teams' nominal quotas on each pool against the pool's limits.

Kueue admits a workload against its ClusterQueue's nominal quota and lends idle quota to the other queues of the
cohort (https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/#cohort). Nominal quotas that together exceed what
Karpenter may launch in a pool (the NodePool's ``spec.limits``) promise capacity that cannot exist: admitted
workloads would wait for nodes that never come. A little overcommit keeps pools busy while some teams are idle,
so the platform sets a factor; beyond it a team file is refused, below it the ratio is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from components.loader import ConfigError
from components.quantity import cpu_millis, memory_bytes
from components.stackfile import TEAM_KEY
from components.training.config import TeamTraining, TrainingConfig, TrainingPoolConfig

RESOURCES = ("cpu", "memory", "gpus")
_GIB = 2**30


@dataclass(frozen=True)
class PoolUse:
    """One resource of one pool: each team's nominal quota (in cores, GiB or GPUs) and the pool's limit."""

    pool: str
    resource: str  # cpu, memory or gpus (the team file's key)
    by_team: tuple[tuple[str, Decimal], ...]
    limit: Decimal

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.by_team), Decimal(0))

    @property
    def ratio(self) -> Decimal:
        return self.total / self.limit if self.limit else Decimal(0)

    def arithmetic(self) -> str:
        unit = {"cpu": " cores", "memory": " GiB", "gpus": " GPUs"}[self.resource]
        terms = " + ".join(f"{team} {_shown(amount)}" for team, amount in self.by_team)
        return f"{self.pool} {self.resource}: {terms} = {_shown(self.total)}{unit} of {_shown(self.limit)} ({self.ratio:.2f}x)"


def _shown(value: Decimal) -> str:
    return str(value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize())


def amount(quota, resource: str) -> Decimal:
    if resource == "cpu":
        return Decimal(cpu_millis(quota.cpu)) / 1000
    if resource == "memory":
        return Decimal(memory_bytes(quota.memory)) / _GIB
    return Decimal(quota.gpus)


def limit(pool: TrainingPoolConfig, resource: str) -> Decimal:
    return Decimal({"cpu": pool.cpu_limit, "memory": pool.memory_limit_gib, "gpus": pool.gpus}[resource])


def pool_uses(training: TrainingConfig, teams: Sequence[tuple[str, TeamTraining]]) -> list[PoolUse]:
    """Each (pool, resource) some team holds a quota on, with every team's share, teams in the given order."""
    uses = []
    for pool in training.pools:
        for resource in RESOURCES:
            shares = tuple(
                (team, amount(quota, resource))
                for team, spec in teams
                for quota in spec.pools
                if quota.name == pool.name
            )
            if shares and (resource != "gpus" or pool.gpus):
                uses.append(PoolUse(pool.name, resource, shares, limit(pool, resource)))
    return uses


def check_team_pools(
    team: TeamTraining, training: TrainingConfig, file: str | Path | None, platform: str
) -> None:
    """Every pool a team names is a training pool of its platform, and GPUs only on pools with GPUs."""
    names = [pool.name for pool in training.pools]
    for index, quota in enumerate(team.pools):
        pool = training.pool(quota.name)
        if pool is None:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.training.pools[{index}].name",
                f"{quota.name!r} is not a training pool of platform stack {platform!r}; allowed: {', '.join(names)}",
            )
        if quota.gpus and not pool.gpus:
            raise ConfigError(
                file,
                f"{TEAM_KEY}.training.pools[{index}].gpus",
                f"{quota.gpus} on pool {pool.name!r}, which has no GPUs (kind {pool.kind}); allowed: 0",
            )


def check_overcommit(
    team_name: str,
    team: TeamTraining,
    training: TrainingConfig,
    others: Sequence[tuple[str, TeamTraining]],
    file: str | Path | None,
    platform: str,
) -> list[str]:
    """The quota arithmetic of every pool the team uses, with the other teams on the same platform; refused, naming
    the team's key, where the sum exceeds the pool's limit times the platform's overcommit factor."""
    factor = Decimal(str(training.overcommit_factor))
    teams = [(team_name, team), *others]
    lines = []
    for use in pool_uses(training, teams):
        if not any(name == team_name for name, _ in use.by_team):
            continue
        lines.append(use.arithmetic())
        if use.total > use.limit * factor:
            index = next(i for i, quota in enumerate(team.pools) if quota.name == use.pool)
            raise ConfigError(
                file,
                f"{TEAM_KEY}.training.pools[{index}].{use.resource}",
                f"overcommits pool {use.pool!r}: {use.arithmetic()}; allowed: at most {factor}x its limit "
                f"(training.overcommit-factor of platform stack {platform!r})",
            )
    return lines
