"""The training sections: the platform's (`mlops:platform.training`: pools, charts, overcommit factor, notebooks)
and a team's (`mlops:team.training`: its quota on each pool it may use, its notebook profiles).

Nothing here imports Pulumi.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.cluster.config import ChartVersion
from components.configbase import KEBAB_RE, KeyedValueError, Model
from components.quantity import CpuQuantity, MemoryQuantity

_KeyedValueError = KeyedValueError  # the name the validators below raise
_INSTANCE_FAMILY_RE = re.compile(r"^[a-z][a-z0-9-]*\d[a-z0-9-]*$")
_ZONE_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$")
_RESERVATION_RE = re.compile(r"^cr-[0-9a-z]+$")
_DIGEST_IMAGE_RE = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")

# Accelerated instance families with EFA (EC2 User Guide, "Supported instance types" of Elastic Fabric Adapter,
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa.html#efa-instance-types): the accelerated ones a
# training pool would use. An EFA pool names families from this list only.
EFA_FAMILIES = frozenset(
    {"p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "g5", "g6", "g6e", "gr6", "trn1", "trn1n", "trn2"}
)
POOL_KINDS = ("cpu", "gpu", "efa")


def _image(value: str) -> str:
    if not _IMAGE_RE.match(value):
        raise ValueError(
            f"{value!r} is not an image reference; allowed: registry/name:tag or registry/name@sha256:<64 hex>"
        )
    tail = value.rsplit("/", 1)[-1]
    if "@sha256:" not in value and (":" not in tail or tail.endswith(":latest")):
        raise ValueError(f"{value!r} has no fixed tag; allowed: a version tag, or a digest (@sha256:...)")
    return value


Image = Annotated[str, AfterValidator(_image)]


class TrainingPoolConfig(Model):
    """One Karpenter NodePool for training: tainted so only admitted training work and notebooks land there.

    kind `gpu`: NVIDIA GPU instances; `efa`: GPU instances with Elastic Fabric Adapter for distributed training,
    on-demand only and in one availability zone; `cpu`: CPU instances.
    """

    name: Annotated[str, Field(pattern=KEBAB_RE, max_length=40)]
    kind: Literal["cpu", "gpu", "efa"]
    capacity_type: Annotated[Literal["on-demand", "spot"], Field(alias="capacity-type")] = "on-demand"
    instance_families: Annotated[list[str], Field(alias="instance-families", min_length=1, max_length=10)]
    availability_zones: Annotated[list[str] | None, Field(alias="availability-zones", min_length=1)] = None
    cpu_limit: Annotated[int, Field(alias="cpu-limit", ge=1, le=100_000)]
    memory_limit_gib: Annotated[int, Field(alias="memory-limit-gib", ge=1, le=1_000_000)]
    gpu_limit: Annotated[int | None, Field(alias="gpu-limit", ge=1, le=10_000)] = None
    # On-Demand Capacity Reservations the pool launches into first (Karpenter's capacityReservationSelectorTerms,
    # alpha behind the ReservedCapacity feature gate at v1.5.0). Capacity Blocks need Karpenter 1.6 or later.
    capacity_reservation_ids: Annotated[
        list[str], Field(alias="capacity-reservation-ids", max_length=30)
    ] = []
    consolidate_after: Annotated[str, Field(alias="consolidate-after", pattern=r"^(\d+(s|m|h))+$")] = "10m"

    @model_validator(mode="after")
    def _shape(self) -> TrainingPoolConfig:
        for index, family in enumerate(self.instance_families):
            if not _INSTANCE_FAMILY_RE.match(family):
                raise _KeyedValueError(
                    ("instance-families", index), f"{family!r} is not valid; allowed: e.g. g6e, p5"
                )
        for index, zone in enumerate(self.availability_zones or []):
            if not _ZONE_RE.match(zone):
                raise _KeyedValueError(
                    ("availability-zones", index), f"{zone!r} is not an availability zone name"
                )
        for index, reservation in enumerate(self.capacity_reservation_ids):
            if not _RESERVATION_RE.match(reservation):
                raise _KeyedValueError(
                    ("capacity-reservation-ids", index),
                    f"{reservation!r} is not a capacity reservation ID; allowed: cr-<id>",
                )
        accelerated = self.kind in ("gpu", "efa")
        if accelerated and self.gpu_limit is None:
            raise _KeyedValueError(
                ("gpu-limit",), f"missing; a kind {self.kind} pool needs a gpu-limit (GPUs in total)"
            )
        if not accelerated and self.gpu_limit is not None:
            raise _KeyedValueError(("gpu-limit",), "only allowed with kind gpu or efa")
        if self.kind == "efa":
            self._efa_rules()
        return self

    def _efa_rules(self) -> None:
        # EFA traffic stays within one availability zone, in a cluster placement group where one exists (EC2
        # User Guide, "Elastic Fabric Adapter": "An EFA ... can't send OS-bypass traffic ... across
        # Availability Zones"); spot interruptions would break a collective job as a whole.
        if self.availability_zones is None or len(self.availability_zones) != 1:
            zones = ", ".join(self.availability_zones or []) or "none"
            raise _KeyedValueError(
                ("availability-zones",),
                f"{zones} for an efa pool; allowed: exactly one availability zone (EFA traffic does not cross zones)",
            )
        if self.capacity_type != "on-demand":
            raise _KeyedValueError(
                ("capacity-type",), f"{self.capacity_type!r} for an efa pool; allowed: on-demand"
            )
        for index, family in enumerate(self.instance_families):
            if family not in EFA_FAMILIES:
                raise _KeyedValueError(
                    ("instance-families", index),
                    f"{family!r} has no EFA; allowed: {', '.join(sorted(EFA_FAMILIES))}",
                )

    @property
    def gpus(self) -> int:
        return self.gpu_limit or 0


class TrainingCharts(Model):
    """Pinned Helm chart versions of the training side."""

    kueue: ChartVersion
    jupyterhub: ChartVersion
    efa_device_plugin: Annotated[ChartVersion | None, Field(alias="aws-efa-k8s-device-plugin")] = None


class NotebooksConfig(Model):
    """JupyterHub: where people reach it (an internal ALB behind the platform's OIDC sign-in), the single-user
    image, idle culling and home volume size."""

    host: Annotated[str, Field(pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$")]
    certificate_arn: Annotated[str, Field(alias="certificate-arn", pattern=r"^arn:aws(-cn|-us-gov)?:acm:.+$")]
    image: Image
    cull_timeout_seconds: Annotated[int, Field(alias="cull-timeout-seconds", ge=300, le=604800)] = 3600
    home_size_gib: Annotated[int, Field(alias="home-size-gib", ge=1, le=1000)] = 20


class TrainingConfig(Model):
    """The platform's training side (`mlops:platform.training`), on the cluster of one region (the primary's by
    default): training pools, Kueue and JupyterHub."""

    region: str | None = None
    charts: TrainingCharts
    cohort: Annotated[str, Field(pattern=KEBAB_RE, max_length=63)] = "training"
    # How far the teams' nominal quotas together may exceed a pool's limit (idle quota is lent through the
    # cohort, so a little overcommit keeps pools busy); beyond it a team file is refused.
    overcommit_factor: Annotated[float, Field(alias="overcommit-factor", ge=1.0, le=10.0)] = 1.0
    dataset_volume_gib: Annotated[int, Field(alias="dataset-volume-gib", ge=100, le=16384)] = 500
    pools: Annotated[list[TrainingPoolConfig], Field(min_length=1, max_length=10)]
    notebooks: NotebooksConfig

    @model_validator(mode="after")
    def _pools(self) -> TrainingConfig:
        names = [pool.name for pool in self.pools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("pools", index, "name"), f"training pool {name!r} is listed twice")
        if any(pool.kind == "efa" for pool in self.pools) and self.charts.efa_device_plugin is None:
            raise _KeyedValueError(
                ("charts", "aws-efa-k8s-device-plugin"), "missing; required when a training pool has kind efa"
            )
        return self

    def pool(self, name: str) -> TrainingPoolConfig | None:
        return next((pool for pool in self.pools if pool.name == name), None)


def check_training_on_platform(cfg) -> None:
    """The training section against the rest of the platform: an EKS cluster, a region it has, pool zones of that
    region, OIDC sign-in for the notebooks, and not internet-free (the charts' images are not mirrored)."""
    training = cfg.training
    if training is None:
        return
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        raise _KeyedValueError(
            ("training",), "needs cluster mode eks (training pools are Karpenter NodePools)"
        )
    if cfg.internet_free:
        raise _KeyedValueError(
            ("training",),
            "not available with internet-free: true (Kueue's and JupyterHub's images are not mirrored)",
        )
    regions = {region.name: region for region in cfg.regions}
    name = training.region or cfg.regions[0].name
    if name not in regions:
        raise _KeyedValueError(
            ("training", "region"), f"{name!r} is not a region of the stack; allowed: {', '.join(regions)}"
        )
    zones = list(regions[name].availability_zones)
    for p_index, pool in enumerate(training.pools):
        for z_index, zone in enumerate(pool.availability_zones or []):
            if zone not in zones:
                raise _KeyedValueError(
                    ("training", "pools", p_index, "availability-zones", z_index),
                    f"{zone!r} is not a zone of region {name}; allowed: {', '.join(zones)}",
                )
    if cfg.identity is None or cfg.identity.oidc is None:
        raise _KeyedValueError(
            ("training", "notebooks"),
            "needs identity.oidc (JupyterHub signs people in through the platform's OIDC)",
        )


# ---------------------------------------------------------------------------------------------------------
# A team's training section


class TeamPoolQuota(Model):
    """A team's nominal quota on one training pool: its ClusterQueue's share there, lent out when idle."""

    name: Annotated[str, Field(pattern=KEBAB_RE, max_length=40)]
    cpu: CpuQuantity
    memory: MemoryQuantity
    gpus: Annotated[int, Field(ge=0, le=10_000)] = 0


class NotebookProfile(Model):
    """A size a team member may start a notebook server with, on one of the team's pools."""

    name: Annotated[str, Field(pattern=KEBAB_RE, max_length=40)]
    description: Annotated[str, Field(max_length=200)] = ""
    pool: Annotated[str, Field(pattern=KEBAB_RE, max_length=40)]
    cpu: CpuQuantity = "1"
    memory: MemoryQuantity = "4Gi"
    gpus: Annotated[int, Field(ge=0, le=8)] = 0


class TeamTraining(Model):
    """A team's training section (`mlops:team.training`): its quota on each training pool it may use (the allowed
    pools) and the notebook profiles its members choose from."""

    pools: Annotated[list[TeamPoolQuota], Field(min_length=1, max_length=10)]
    notebook_profiles: Annotated[list[NotebookProfile], Field(alias="notebook-profiles", max_length=10)] = []

    @model_validator(mode="after")
    def _rules(self) -> TeamTraining:
        names = [pool.name for pool in self.pools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise _KeyedValueError(("pools", index, "name"), f"pool {name!r} is listed twice")
        gpus = sum(pool.gpus for pool in self.pools)
        profiles = [profile.name for profile in self.notebook_profiles]
        for index, profile in enumerate(self.notebook_profiles):
            if profile.name in profiles[:index]:
                raise _KeyedValueError(
                    ("notebook-profiles", index, "name"), f"profile {profile.name!r} is listed twice"
                )
            if profile.pool not in names:
                raise _KeyedValueError(
                    ("notebook-profiles", index, "pool"),
                    f"{profile.pool!r} is not one of the team's training pools; allowed: {', '.join(names)}",
                )
            if profile.gpus and gpus == 0:
                raise _KeyedValueError(
                    ("notebook-profiles", index, "gpus"),
                    f"{profile.gpus} for a team without GPU quota (training.pools gpus sum to 0); allowed: 0",
                )
            pool_gpus = next(pool.gpus for pool in self.pools if pool.name == profile.pool)
            if profile.gpus > pool_gpus:
                raise _KeyedValueError(
                    ("notebook-profiles", index, "gpus"),
                    f"{profile.gpus} is above the team's {pool_gpus} GPUs on pool {profile.pool!r}",
                )
        return self

    @property
    def gpus(self) -> int:
        return sum(pool.gpus for pool in self.pools)
