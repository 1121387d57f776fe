"""The platform's side of data access: the data policies per purpose, S3 Access Grants and Lake Formation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks.context import PlatformContext
from components.blocks.iam import to_json
from components.blocks.roles import ServiceRole
from components.data.config import ACCESS_LEVELS, DataConfig
from components.data.policies import location_policy, location_trust, own_prefix_policy


@dataclass(frozen=True)
class DataRegion:
    """One region's artifact bucket (the primary's, or its read-only replica) and the artifacts key there."""

    region: str
    provider: pulumi.ProviderResource
    bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    primary: bool = False


@dataclass(frozen=True)
class PlatformDataArgs:
    context: PlatformContext
    config: DataConfig
    regions: Sequence[DataRegion]  # the primary first

    def __post_init__(self) -> None:
        if not self.regions or not self.regions[0].primary:
            raise ValueError("PlatformDataArgs.regions: the primary region comes first")


def instance_arn(ctx: PlatformContext, region: str) -> str:
    """An account's S3 Access Grants instance in a region: one per region, always named ``default``."""
    return ctx.arn.of("s3", "access-grants/default", region=region)


def policy_name(environment: str, access: str) -> str:
    return f"mlops-{environment}-data-{access}"


class PlatformData(pulumi.ComponentResource):
    """Data access the platform owns, so that no team stack can widen it.

    - ``policies`` (access -> aws.iam.Policy): ``read`` and ``read-write`` on the team's own prefix, keyed on the
      Pod Identity namespace tag (components.data.policies.own_prefix_policy); team stacks attach the one their
      own prefix's `data-access` entry asks for.
    - Per region: an S3 Access Grants ``instances[region]``, the role it assumes (``location_roles[region]``)
      and one location per declared prefix of the region's bucket (``locations[region][prefix]``). Replicas are
      read-only copies, so a read-write location is writable in the primary region only.
    - ``lake_formation``: the data lake settings (administrators), when the config has ``lake-formation``.
    """

    def __init__(self, name: str, args: PlatformDataArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:PlatformData", name, None, opts)
        ctx, primary = args.context, args.regions[0]
        buckets = [r.bucket_arn for r in args.regions]
        keys = [r.key_arn for r in args.regions]
        self.policies: dict[str, aws.iam.Policy] = {}
        for access in ACCESS_LEVELS:
            self.policies[access] = aws.iam.Policy(
                f"{name}-{access}",
                aws.iam.PolicyArgs(
                    name=policy_name(ctx.environment, access),
                    description=f"Team workload roles: {access} on teams/<team>/ from namespace team-<team> only",
                    policy=pulumi.Output.all(
                        pulumi.Output.all(*buckets), primary.bucket_arn, pulumi.Output.all(*keys)
                    ).apply(lambda v, a=access: to_json(own_prefix_policy(a, v[0], v[1], v[2]))),
                    tags=dict(ctx.tags),
                ),
                opts=child_opts(self, provider=primary.provider),
            )
        self.instances: dict[str, aws.s3control.AccessGrantsInstance] = {}
        self.location_roles: dict[str, ServiceRole] = {}
        self.locations: dict[str, dict[str, aws.s3control.AccessGrantsLocation]] = {}
        if args.config.locations:
            for region in args.regions:
                self._grants_region(name, ctx, args.config, region)
        self.lake_formation: aws.lakeformation.DataLakeSettings | None = None
        if args.config.lake_formation is not None:
            self.lake_formation = aws.lakeformation.DataLakeSettings(
                f"{name}-lake-formation",
                aws.lakeformation.DataLakeSettingsArgs(admins=list(args.config.lake_formation.admins)),
                opts=child_opts(self, provider=primary.provider),
            )
        self.register_outputs({"policies": {a: p.arn for a, p in self.policies.items()}})

    def _grants_region(self, name: str, ctx: PlatformContext, config: DataConfig, region: DataRegion) -> None:
        suffix = f"{name}-{region.region}"
        on_region = child_opts(self, provider=region.provider)
        instance = self.instances[region.region] = aws.s3control.AccessGrantsInstance(
            f"{suffix}-grants", aws.s3control.AccessGrantsInstanceArgs(tags=dict(ctx.tags)), opts=on_region
        )
        declared = [(loc.prefix, loc.access == "read-write" and region.primary) for loc in config.locations]
        role = self.location_roles[region.region] = ServiceRole(
            f"{suffix}-locations",
            ctx,
            parent=self,
            provider=region.provider,
            trust=location_trust(ctx.account_id, instance_arn(ctx, region.region)),
            policy=pulumi.Output.all(region.bucket_arn, region.key_arn).apply(
                lambda v: to_json(location_policy(v[0], declared, [v[1]]))
            ),
            role_name=f"mlops-{ctx.environment}-data-locations-{region.region}",
            description="S3 Access Grants vends credentials for the platform's declared data locations",
        )
        bucket_name = pulumi.Output.from_input(region.bucket_arn).apply(lambda arn: arn.rsplit(":", 1)[-1])
        self.locations[region.region] = {
            location.prefix: aws.s3control.AccessGrantsLocation(
                f"{suffix}-location-{location.prefix.strip('/').replace('/', '-')}",
                aws.s3control.AccessGrantsLocationArgs(
                    iam_role_arn=role.arn,
                    location_scope=pulumi.Output.concat("s3://", bucket_name, "/", location.prefix),
                    tags=dict(ctx.tags),
                ),
                opts=child_opts(
                    self, provider=region.provider, depends_on=[instance, *filter(None, [role.policy])]
                ),
            )
            for location in config.locations
        }

    def contract_values(self, config: DataConfig) -> dict:
        """The outputs contract's `data` section (components.outputs.DataOutputs)."""
        return {
            "policy_arns": {access: policy.arn for access, policy in self.policies.items()},
            "access_grants_instance_arns": {
                region: instance.access_grants_instance_arn for region, instance in self.instances.items()
            },
            "locations": {
                location.prefix: {
                    "access": location.access,
                    "location_ids": {
                        region: by_prefix[location.prefix].access_grants_location_id
                        for region, by_prefix in self.locations.items()
                    },
                }
                for location in config.locations
            },
            "lake_formation": self.lake_formation is not None,
        }
