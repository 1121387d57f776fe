"""The platform context: the facts every component needs (environment, partition, account, region, tags), given once.

A component receives one ``PlatformContext`` instead of five loose Args fields, and builds every ARN through its
``arn`` builder, so an ARN's form (partition, empty region of global services, account of AWS-managed policies)
is written here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


def service_principal(service: str) -> str:
    """The service principal of an AWS service (``s3`` -> ``s3.amazonaws.com``).

    The platform's principals keep the ``amazonaws.com`` form in every partition: it is the form the code used
    before this module existed, and IAM documents it for the services the platform trusts.
    """
    return f"{service}.amazonaws.com"


@dataclass(frozen=True)
class Arns:
    """ARNs of one partition, account and region (``arn:<partition>:<service>:<region>:<account>:<resource>``)."""

    partition: str
    account_id: str
    region: str

    def of(self, service: str, resource: str, *, region: str = "", account: str | None = None) -> str:
        """Any ARN: ``region`` empty for global services, ``account`` None for this account, "" for none."""
        owner = self.account_id if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{owner}:{resource}"

    # -- IAM (global) ------------------------------------------------------------------------------------
    def root(self) -> str:
        return self.of("iam", "root")

    def role(self, name: str, path: str = "/") -> str:
        return self.of("iam", f"role{path}{name}")

    def policy(self, name: str, path: str = "/") -> str:
        return self.of("iam", f"policy{path}{name}")

    def managed_policy(self, name: str) -> str:
        """An AWS managed policy (``name`` may carry its path: ``service-role/AmazonEBSCSIDriverPolicy``)."""
        return self.of("iam", f"policy/{name}", account="aws")

    def service_linked_role(self, service: str, name: str) -> str:
        """A service-linked role: ``role/aws-service-role/<service>/<name>``."""
        return self.role(name, path=f"/aws-service-role/{service}/")

    # -- S3 (global, no account) -------------------------------------------------------------------------
    def bucket(self, name: str) -> str:
        return self.of("s3", name, account="")

    def objects(self, name: str) -> str:
        return f"{self.bucket(name)}/*"

    # -- regional ----------------------------------------------------------------------------------------
    def log_group(self, name: str) -> str:
        """A log group as IAM resources and KMS contexts name it (no ``:*`` suffix)."""
        return self.of("logs", f"log-group:{name}", region=self.region)

    def log_streams(self, name: str) -> str:
        """Every log stream of a log group (what PutLogEvents is granted on)."""
        return f"{self.log_group(name)}:log-stream:*"

    def key(self, key_id: str) -> str:
        return self.of("kms", f"key/{key_id}", region=self.region)

    def alias(self, name: str) -> str:
        """A KMS alias; ``name`` with or without its ``alias/`` prefix."""
        return self.of("kms", name if name.startswith("alias/") else f"alias/{name}", region=self.region)

    def cluster(self, name: str) -> str:
        return self.of("eks", f"cluster/{name}", region=self.region)

    def sns_topic(self, name: str) -> str:
        return self.of("sns", name, region=self.region)

    def sqs_queue(self, name: str) -> str:
        return self.of("sqs", name, region=self.region)

    def repository(self, name: str) -> str:
        return self.of("ecr", f"repository/{name}", region=self.region)


@dataclass(frozen=True)
class PlatformContext:
    """Where and for whom a component builds: one environment, partition, account and region, and its tags."""

    environment: str
    partition: str
    account_id: str
    region: str
    tags: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    # The ARN (a pulumi Input: the created policy's Output, so a role waits for it) of the permissions boundary
    # every role built in this context carries (components/blocks/roles.py), or None where the stack has none.
    permissions_boundary: Any = None

    def __post_init__(self) -> None:
        if not self.prefix:
            object.__setattr__(self, "prefix", f"mlops-{self.environment}")

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @property
    def keeps_data(self) -> bool:
        """Whether this environment's data outlives a destroy (protection, final snapshots); dev's does not."""
        return self.environment != "dev"

    @property
    def arn(self) -> Arns:
        return Arns(self.partition, self.account_id, self.region)

    def in_region(self, region: str) -> PlatformContext:
        return replace(self, region=region)

    def bounded_by(self, permissions_boundary: Any) -> PlatformContext:
        """The same context whose roles carry ``permissions_boundary`` (an ARN input, or None for none)."""
        return replace(self, permissions_boundary=permissions_boundary)

    def tagged(self, **extra: str) -> dict[str, str]:
        """The context's tags plus extras (an extra wins over a tag of the same key)."""
        return {**self.tags, **extra}

    @staticmethod
    def service_principal(service: str) -> str:
        return service_principal(service)
