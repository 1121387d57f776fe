"""AWS Private CA: the issuer's IAM policy and the subordinate CA the platform may create under a root CA.

The platform never creates a root CA in the workload account: a root belongs in the organisation's PKI account,
and the policy pack refuses `type: ROOT` (policies `acmpca-no-root-ca`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext, document
from components.trust.config import SubordinateCaConfig

# The template a CA certificate for a subordinate that signs only end-entity certificates is issued with
# (ACM Private CA User Guide, "Understanding certificate templates", SubordinateCACertificate_PathLen0/V1:
# https://docs.aws.amazon.com/privateca/latest/userguide/UsingTemplates.html).
SUBORDINATE_TEMPLATE = "SubordinateCACertificate_PathLen0/V1"
SIGNING_ALGORITHMS = {
    "RSA_2048": "SHA256WITHRSA",
    "EC_prime256v1": "SHA256WITHECDSA",
    "EC_secp384r1": "SHA384WITHECDSA",
}


def issuer_policy(ca_arn: str, template_arn: str) -> dict[str, Any]:
    """What the AWS Private CA issuer needs: IssueCertificate on the CA, only with the configured template, and
    GetCertificate and DescribeCertificateAuthority on the CA (the issuer's README, "minimal policy",
    cert-manager/aws-privateca-issuer v1.9.0; the `acm-pca:TemplateArn` condition key, Service Authorization
    Reference, "Actions, resources, and condition keys for AWS Private Certificate Authority")."""
    return document(
        {
            "Sid": "IssueWithTheTemplate",
            "Effect": "Allow",
            "Action": "acm-pca:IssueCertificate",
            "Resource": ca_arn,
            "Condition": {"ArnEquals": {"acm-pca:TemplateArn": template_arn}},
        },
        {
            "Sid": "ReadTheCa",
            "Effect": "Allow",
            "Action": ["acm-pca:DescribeCertificateAuthority", "acm-pca:GetCertificate"],
            "Resource": ca_arn,
        },
        policy_id="AwsPrivateCaIssuer",
    )


@dataclass(frozen=True)
class SubordinateCa:
    authority: aws.acmpca.CertificateAuthority
    certificate: aws.acmpca.Certificate
    installation: aws.acmpca.CertificateAuthorityCertificate


def build_subordinate_ca(
    parent: pulumi.Resource,
    name: str,
    ctx: PlatformContext,
    config: SubordinateCaConfig,
    provider: pulumi.ProviderResource,
    protect: bool,
) -> SubordinateCa:
    """A SUBORDINATE CA in the workload account, its CA certificate signed by the root CA named in config (with the
    PathLen0 template), and that certificate installed (`<name>-ca`, `<name>-ca-certificate`, `<name>-ca-install`).

    Cross-account roots: the root's owner shares it through AWS RAM with the subordinate-issuance permission, so
    this account may call IssueCertificate on it (ACM Private CA User Guide, "Using AWS RAM to share your CA")."""
    subject = aws.acmpca.CertificateAuthorityCertificateAuthorityConfigurationSubjectArgs(
        common_name=config.common_name, organization=config.organization
    )
    authority = aws.acmpca.CertificateAuthority(
        f"{name}-ca",
        aws.acmpca.CertificateAuthorityArgs(
            type="SUBORDINATE",
            usage_mode="GENERAL_PURPOSE",
            certificate_authority_configuration=aws.acmpca.CertificateAuthorityCertificateAuthorityConfigurationArgs(
                key_algorithm=config.key_algorithm,
                signing_algorithm=SIGNING_ALGORITHMS[config.key_algorithm],
                subject=subject,
            ),
            key_storage_security_standard="FIPS_140_2_LEVEL_3_OR_HIGHER",
            permanent_deletion_time_in_days=30,
            tags=ctx.tagged(Name=config.common_name),
        ),
        opts=child_opts(parent, provider=provider, protect=protect),
    )
    certificate = aws.acmpca.Certificate(
        f"{name}-ca-certificate",
        aws.acmpca.CertificateArgs(
            certificate_authority_arn=config.root_ca_arn,
            certificate_signing_request=authority.certificate_signing_request,
            # Signed with the root's key: the root's algorithm family (IssueCertificate, SigningAlgorithm).
            signing_algorithm=config.root_signing_algorithm,
            template_arn=f"arn:{ctx.partition}:acm-pca:::template/{SUBORDINATE_TEMPLATE}",
            validity=aws.acmpca.CertificateValidityArgs(type="DAYS", value=str(config.validity_days)),
        ),
        # Destroying it would revoke the subordinate's certificate at the root (the provider calls
        # RevokeCertificate on the root CA): revocation is the PKI owner's decision, and a root shared through AWS
        # RAM from another account does not grant it. Destroy leaves the certificate to expire.
        opts=child_opts(parent, provider=provider, retain_on_delete=True),
    )
    installation = aws.acmpca.CertificateAuthorityCertificate(
        f"{name}-ca-install",
        aws.acmpca.CertificateAuthorityCertificateArgs(
            certificate_authority_arn=authority.arn,
            certificate=certificate.certificate,
            certificate_chain=certificate.certificate_chain,
        ),
        opts=child_opts(parent, provider=provider),
    )
    return SubordinateCa(authority, certificate, installation)
