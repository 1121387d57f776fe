"""The building blocks every component composes: the platform context and its ARN builder, IAM statement
builders, SecureBucket (the S3 baseline) and the service and Pod Identity roles; and, imported by name, the
hardened workload specs (``workload``: the Kubernetes part of the baseline) and the internal HTTPS load balancer
settings (``ingress``).

A security baseline is written here once; components pass names and what differs.
"""

from components.blocks.bucket import (
    AccessLogTarget,
    ReplicaDestination,
    SecureBucket,
    SecureBucketArgs,
    bucket_policy_document,
    replication_policy,
)
from components.blocks.context import Arns, PlatformContext, service_principal
from components.blocks.iam import (
    POD_IDENTITY_PRINCIPAL,
    allow,
    bucket_and_objects,
    deny_insecure_transport,
    document,
    key_root_statement,
    key_service_statement,
    pod_identity_trust,
    service_trust,
    to_json,
)
from components.blocks.roles import Association, PodIdentityRole, ServiceRole, attachment_name

__all__ = [
    "POD_IDENTITY_PRINCIPAL",
    "AccessLogTarget",
    "Arns",
    "Association",
    "PlatformContext",
    "PodIdentityRole",
    "ReplicaDestination",
    "SecureBucket",
    "SecureBucketArgs",
    "ServiceRole",
    "allow",
    "attachment_name",
    "bucket_and_objects",
    "bucket_policy_document",
    "deny_insecure_transport",
    "document",
    "key_root_statement",
    "key_service_statement",
    "pod_identity_trust",
    "replication_policy",
    "service_principal",
    "service_trust",
    "to_json",
]
