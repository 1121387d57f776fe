"""A team's side of data access: its workload role gets the platform's data policy for its own prefix, the
right to ask S3 Access Grants, and one grant per shared `data-access` entry and region; Lake Formation grants.

Nothing here can widen what a team reaches: the policies are the platform's, a grant names a location the
platform registered (its id comes from the platform's outputs), and the location's role reaches only the
declared prefixes, read-only outside the primary region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks.iam import document, to_json
from components.data.config import LakeFormationGrant, own_prefix
from components.data.policies import grants_statement


@dataclass(frozen=True)
class GrantPlan:
    """One S3 Access Grant: a team's shared `data-access` entry in one region."""

    region: str
    prefix: str  # the team's entry
    location: str  # the declared location it lies within
    permission: str  # READ / READWRITE
    sub_prefix: str | None  # None: the whole location


def plan_grants(
    team: str,
    entries: Sequence[tuple[str, str]],
    locations: Sequence[str],
    regions: Sequence[str],
    primary_region: str,
) -> list[GrantPlan]:
    """The grants a team's entries ask for: every entry but the team's own prefix, in every region the team
    serves in; writes only in the primary region (replicas are read-only copies). An entry outside every
    location is an error (checked with its message before: components.data.config.check_data_access)."""
    plans = []
    for prefix, access in entries:
        if prefix == own_prefix(team):
            continue
        location = next((loc for loc in locations if prefix.startswith(loc)), None)
        if location is None:
            raise ValueError(f"data-access {prefix!r} is outside the declared locations {list(locations)}")
        for region in regions:
            write = access == "read-write" and region == primary_region
            rest = prefix[len(location) :]
            plans.append(
                GrantPlan(
                    region, prefix, location, "READWRITE" if write else "READ", f"{rest}*" if rest else None
                )
            )
    return plans


@dataclass(frozen=True)
class TeamDataArgs:
    team: str
    role_name: pulumi.Input[str]
    role_arn: pulumi.Input[str]
    own_policy_arn: pulumi.Input[str] | None  # the platform's data policy for the team's own-prefix access
    instance_arns: Sequence[pulumi.Input[str]]  # S3 Access Grants instances of the team's regions
    grants: Sequence[GrantPlan]
    location_ids: dict[tuple[str, str], pulumi.Input[str]]  # (region, location prefix) -> location id
    providers: dict[str, pulumi.ProviderResource]
    lake_formation: Sequence[LakeFormationGrant] = ()
    tags: dict[str, str] = field(default_factory=dict)


def grant_resource(name: str, plan: GrantPlan) -> str:
    return f"{name}-{plan.region}-grant-{plan.prefix.strip('/').replace('/', '-')}"


class TeamData(pulumi.ComponentResource):
    """Attributes: ``own_policy`` (RolePolicyAttachment or None), ``grants_policy`` (RolePolicy or None),
    ``grants`` ((region, prefix) -> aws.s3control.AccessGrant), ``lake_formation`` (list of Permissions)."""

    def __init__(self, name: str, args: TeamDataArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:data:TeamData", name, None, opts)
        self.own_policy = (
            aws.iam.RolePolicyAttachment(
                f"{name}-own-prefix",
                aws.iam.RolePolicyAttachmentArgs(role=args.role_name, policy_arn=args.own_policy_arn),
                opts=child_opts(self),
            )
            if args.own_policy_arn is not None
            else None
        )
        self.grants_policy = None
        self.grants: dict[tuple[str, str], aws.s3control.AccessGrant] = {}
        if args.grants:
            self.grants_policy = aws.iam.RolePolicy(
                f"{name}-access-grants",
                aws.iam.RolePolicyArgs(
                    role=args.role_name,
                    policy=pulumi.Output.all(*args.instance_arns).apply(
                        lambda arns: to_json(document(grants_statement(arns)))
                    ),
                ),
                opts=child_opts(self),
            )
        for plan in args.grants:
            self.grants[(plan.region, plan.prefix)] = aws.s3control.AccessGrant(
                grant_resource(name, plan),
                aws.s3control.AccessGrantArgs(
                    access_grants_location_id=args.location_ids[(plan.region, plan.location)],
                    grantee=aws.s3control.AccessGrantGranteeArgs(
                        grantee_type="IAM", grantee_identifier=args.role_arn
                    ),
                    permission=plan.permission,
                    access_grants_location_configuration=aws.s3control.AccessGrantAccessGrantsLocationConfigurationArgs(
                        s3_sub_prefix=plan.sub_prefix
                    )
                    if plan.sub_prefix is not None
                    else None,
                    tags=dict(args.tags),
                ),
                opts=child_opts(self, provider=args.providers[plan.region]),
            )
        self.lake_formation: list[aws.lakeformation.Permissions] = []
        first = next(iter(args.providers.values()))
        for grant in args.lake_formation:
            targets = (
                [("db", {"database": aws.lakeformation.PermissionsDatabaseArgs(name=grant.database)})]
                if not grant.tables
                else [
                    (
                        table,
                        {
                            "table": aws.lakeformation.PermissionsTableArgs(
                                database_name=grant.database, name=table
                            )
                        },
                    )
                    for table in grant.tables
                ]
            )
            for suffix, target in targets:
                self.lake_formation.append(
                    aws.lakeformation.Permissions(
                        f"{name}-lf-{grant.database}-{suffix}",
                        aws.lakeformation.PermissionsArgs(
                            principal=args.role_arn, permissions=list(grant.permissions), **target
                        ),
                        opts=child_opts(self, provider=first),
                    )
                )
        self.register_outputs({"grants": len(self.grants)})
