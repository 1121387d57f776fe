"""Helpers every component shares: child resource options and AWS providers."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def child_opts(
    parent: pulumi.Resource, opts: pulumi.ResourceOptions | None = None, **extra
) -> pulumi.ResourceOptions:
    """Options for a child: ``parent`` set (so the provider is inherited), merged with any extras."""
    base = pulumi.ResourceOptions(parent=parent, **extra)
    return pulumi.ResourceOptions.merge(base, opts) if opts is not None else base


def aws_provider(
    name: str, region: str, account_id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
) -> aws.Provider:
    """One explicit provider per region, pinned to the stack's account so a wrong profile cannot deploy."""
    return aws.Provider(
        name,
        aws.ProviderArgs(region=region, allowed_account_ids=[account_id]),
        opts=opts,
    )
