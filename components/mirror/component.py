"""The registry mirror of internet-free stacks: every image a cluster runs comes through the account's ECR.

Per region, one ECR pull-through cache rule per upstream registry the platform's charts use (ECR Public for
Karpenter and the load balancer controller, registry.k8s.io for metrics-server, GitHub's registry for KEDA,
the last with its credentials from a Secrets Manager secret named `ecr-pullthroughcache/...`), and a repository
creation template so the repositories ECR creates on the first pull are KMS-encrypted and tagged. ECR itself
reaches the upstream; the VPC stays without a route out. Images no pull-through rule can reach (the NVIDIA device
plugin on nvcr.io) get a repository under `copies/` that the operator fills before GPU nodes start, and charts are
OCI artifacts under `charts/` pushed before the first deployment (see the README's internet-free section).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.cluster.images import COPIED_IMAGE_PREFIX
from components.configbase import PULL_THROUGH_UPSTREAMS
from components.mirror.config import MirrorConfig
from components.registry import IMAGE_LIFECYCLE, ecr_template_role, model_repository

COPIED_IMAGES = ("nvidia/k8s-device-plugin",)


@dataclass(frozen=True)
class MirrorRegion:
    region: str
    provider: aws.Provider
    images_key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class RegistryMirrorArgs:
    context: PlatformContext
    config: MirrorConfig
    regions: Sequence[MirrorRegion]  # the first is the primary
    gpu: bool = False  # a GPU node pool exists: the device plugin's image needs its copy repository


class RegistryMirror(pulumi.ComponentResource):
    """Pull-through cache rules, their repository templates, and the repositories for copied images."""

    rules: dict[str, dict[str, aws.ecr.PullThroughCacheRule]]
    templates: dict[str, dict[str, aws.ecr.RepositoryCreationTemplate]]

    def __init__(self, name: str, args: RegistryMirrorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:registry:RegistryMirror", name, None, opts)
        ctx = args.context
        tags = dict(ctx.tags)
        primary = args.regions[0]
        repositories = [
            ctx.in_region(r.region).arn.repository(f"{prefix}/*")
            for r in args.regions
            for prefix in PULL_THROUGH_UPSTREAMS
        ]
        self.template_role, template_policy = ecr_template_role(
            f"{name}-template",
            "pull-through cache repositories",
            ctx,
            repositories,
            [r.images_key_arn for r in args.regions],
            parent=self,
            provider=primary.provider,
        )
        self.rules, self.templates, self.copies = {}, {}, {}
        for region in args.regions:
            on_region = child_opts(self, provider=region.provider)
            self.rules[region.region], self.templates[region.region] = {}, {}
            for prefix, upstream in PULL_THROUGH_UPSTREAMS.items():
                self.templates[region.region][prefix] = aws.ecr.RepositoryCreationTemplate(
                    f"{name}-{region.region}-{prefix}-template",
                    aws.ecr.RepositoryCreationTemplateArgs(
                        prefix=prefix,
                        applied_fors=["PULL_THROUGH_CACHE"],
                        description=f"Images pulled through from {upstream}",
                        # Pull-through cache keeps a cached tag in step with its upstream only while tags can
                        # move; workloads pin digests, which never move.
                        image_tag_mutability="MUTABLE",
                        encryption_configurations=[
                            aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                                encryption_type="KMS", kms_key=region.images_key_arn
                            )
                        ],
                        # Superseded upstream tags leave untagged layers behind, which expire like the models'.
                        lifecycle_policy=json.dumps(IMAGE_LIFECYCLE),
                        resource_tags=tags,
                        custom_role_arn=self.template_role.arn,
                    ),
                    opts=child_opts(self, provider=region.provider, depends_on=[template_policy]),
                )
                self.rules[region.region][prefix] = aws.ecr.PullThroughCacheRule(
                    f"{name}-{region.region}-{prefix}",
                    aws.ecr.PullThroughCacheRuleArgs(
                        ecr_repository_prefix=prefix,
                        upstream_registry_url=upstream,
                        credential_arn=args.config.credential_arn(upstream, region.region),
                    ),
                    opts=child_opts(
                        self, provider=region.provider, depends_on=[self.templates[region.region][prefix]]
                    ),
                )
            if args.gpu:
                for image in COPIED_IMAGES:
                    # Copies of public images: nothing in them is lost with the repository, so destroy may
                    # delete it with its images in every environment.
                    self.copies[(region.region, image)], _ = model_repository(
                        f"{name}-{region.region}-copy-{image.replace('/', '-')}",
                        f"{COPIED_IMAGE_PREFIX}/{image}",
                        region.images_key_arn,
                        tags,
                        on_region,
                        force_delete=True,
                    )
        self.register_outputs({"prefixes": sorted(PULL_THROUGH_UPSTREAMS)})
