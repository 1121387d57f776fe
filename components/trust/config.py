"""The private-network sections of a platform stack file: `egress-proxy`, `custom-ca-bundle` and `private-ca`.

Nothing here imports Pulumi. A PEM given as a file is read and parsed where the stack file is known
(``read_ca_bundle``), so its error names the file and the key like every other config error.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from components.configbase import KeyedValueError, Model
from components.loader import ConfigError

_KeyedValueError = KeyedValueError  # the name the validators below raise

# Addresses a node or pod must reach directly, never through a proxy: the instance metadata service and the EKS
# Pod Identity agent (IPv4 and IPv6), which answer only on the instance's own link.
METADATA_SERVICE = "169.254.169.254"
POD_IDENTITY_AGENT = "169.254.170.23"
POD_IDENTITY_AGENT_V6 = "fd00:ec2::23"
LINK_LOCAL_TARGETS = {
    METADATA_SERVICE: "the instance metadata service",
    POD_IDENTITY_AGENT: "the EKS Pod Identity agent",
    POD_IDENTITY_AGENT_V6: "the EKS Pod Identity agent (IPv6)",
}
_PROXY_URL_RE = re.compile(
    r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<host>\[[0-9a-fA-F:]+\]|[^\s/:@\[\]]+)(:(?P<port>\d{1,5}))?/?$"
)
_NO_PROXY_ENTRY_RE = re.compile(r"^[A-Za-z0-9.*:/\[\]_-]+$")
_PCA_ARN_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:acm-pca:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate-authority/[0-9a-f-]{36}$"
)
_TEMPLATE_ARN_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:acm-pca:::template/(?P<name>[A-Za-z0-9_]+/V\d+)$")
# The one config key a secret-backed bundle is read from (a stack file's known secret keys: components.stackfile).
CUSTOM_CA_BUNDLE_SECRET = "mlops:custom-ca-bundle"
# End-entity templates a TLS certificate for servers and clients may be issued with (ACM Private CA User Guide,
# "Understanding certificate templates": https://docs.aws.amazon.com/privateca/latest/userguide/UsingTemplates.html).
END_ENTITY_TEMPLATES = (
    "EndEntityCertificate/V1",
    "EndEntityServerAuthCertificate/V1",
    "EndEntityClientAuthCertificate/V1",
)
DEFAULT_TEMPLATE = "EndEntityCertificate/V1"
TRUST_CHARTS = ("cert-manager", "trust-manager")
PCA_CHART = "aws-privateca-issuer"


def proxy_url(value: str) -> str:
    """``value`` if it is an http:// or https:// proxy URL (scheme, host, optional port, nothing else)."""
    match = _PROXY_URL_RE.match(value)
    if match is None or match.group("scheme").lower() not in ("http", "https"):
        raise ValueError(
            f"{value!r} is not an http(s) proxy URL; allowed: http://host:port or https://host:port"
        )
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} has port {port}; allowed: 1 to 65535")
    return value


def covers(entry: str, address: str) -> bool:
    """Whether a NO_PROXY entry exempts ``address`` (an IP) from the proxy: the address itself or a CIDR
    containing it (Go's golang.org/x/net/http/httpproxy, which containerd, the kubelet and AWS SDK for Go
    read, matches both; so do Python's requests and curl 7.86+). A lone ``*`` exempts everything."""
    if entry == "*":
        return True
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return False


class EgressProxyConfig(Model):
    """Where nodes and pods reach the internet: an HTTP(S) proxy, and what never goes through it.

    The no-proxy list is computed (``components.trust.proxy.no_proxy``): the VPC CIDRs, the cluster's service
    CIDR, in-cluster names, the metadata service and Pod Identity agent, the VPC endpoints' service names; and
    `no-proxy` entries are added to it. `computed-no-proxy: false` hands the whole list to `no-proxy`, which must
    then still exempt the metadata service and the Pod Identity agent.
    """

    http: Annotated[str, Field(max_length=2048)]
    https: Annotated[str, Field(max_length=2048)]
    no_proxy: Annotated[list[str], Field(alias="no-proxy", max_length=100)] = []
    computed_no_proxy: Annotated[bool, Field(alias="computed-no-proxy")] = True

    @field_validator("http", "https")
    @classmethod
    def _url(cls, value: str) -> str:
        return proxy_url(value)

    @field_validator("no_proxy")
    @classmethod
    def _entries(cls, value: list[str]) -> list[str]:
        for index, entry in enumerate(value):
            if not _NO_PROXY_ENTRY_RE.match(entry):
                raise _KeyedValueError(
                    (index,),
                    f"{entry!r} is not a no-proxy entry; allowed: a host, a .domain suffix, an IP or a CIDR",
                )
        return value

    @model_validator(mode="after")
    def _link_local_exempt(self) -> EgressProxyConfig:
        if self.computed_no_proxy:
            return self
        for address, what in LINK_LOCAL_TARGETS.items():
            if not any(covers(entry, address) for entry in self.no_proxy):
                raise _KeyedValueError(
                    ("no-proxy",),
                    f"sends {address} ({what}) through the proxy; allowed: a list that covers "
                    f"{', '.join(LINK_LOCAL_TARGETS)} (or computed-no-proxy: true)",
                )
        return self


class CustomCaBundleConfig(Model):
    """PEM certificates of the organisation's CAs (a TLS-inspecting proxy's, internal services'), trusted on
    every node and in every platform and team pod: from a file (a path in the project, e.g.
    stacks/certs/corp-ca.pem), or from a secret config
    value (`pulumi config set --secret mlops:<name> "$(cat bundle.pem)"`)."""

    file: Annotated[str | None, Field(min_length=1, max_length=1024)] = None
    secret: Annotated[str | None, Field(max_length=128)] = None

    @model_validator(mode="after")
    def _one_source(self) -> CustomCaBundleConfig:
        if (self.file is None) == (self.secret is None):
            raise _KeyedValueError(
                ("file",),
                "set exactly one of file (a PEM file in the project, e.g. stacks/certs/ca.pem) or secret (a secure config key, "
                "e.g. mlops:custom-ca-bundle)",
            )
        if self.secret is not None and self.secret != CUSTOM_CA_BUNDLE_SECRET:
            raise _KeyedValueError(
                ("secret",),
                f"{self.secret!r} is not the bundle's secret key; allowed: {CUSTOM_CA_BUNDLE_SECRET}",
            )
        return self


class SubordinateCaConfig(Model):
    """A subordinate CA the platform creates in the workload account, signed by a root CA named here (the root
    is never created by the platform: it stays in the organisation's PKI account)."""

    root_ca_arn: Annotated[str, Field(alias="root-ca-arn")]
    common_name: Annotated[str, Field(alias="common-name", min_length=1, max_length=64)]
    organization: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    key_algorithm: Annotated[
        Literal["RSA_2048", "EC_prime256v1", "EC_secp384r1"], Field(alias="key-algorithm")
    ] = "EC_prime256v1"
    validity_days: Annotated[int, Field(alias="validity-days", ge=30, le=3650)] = 1825
    # The algorithm the ROOT signs the subordinate's certificate with: IssueCertificate's SigningAlgorithm "must
    # match the algorithm family of the private key of the CA" that issues (the root's, not the subordinate's).
    root_signing_algorithm: Annotated[
        Literal[
            "SHA256WITHRSA",
            "SHA384WITHRSA",
            "SHA512WITHRSA",
            "SHA256WITHECDSA",
            "SHA384WITHECDSA",
            "SHA512WITHECDSA",
        ],
        Field(alias="root-signing-algorithm"),
    ] = "SHA256WITHRSA"

    @field_validator("root_ca_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        return pca_arn(value)


def pca_arn(value: str) -> str:
    if not _PCA_ARN_RE.match(value):
        raise ValueError(
            f"{value!r} is not a Private CA ARN; allowed: "
            "arn:aws:acm-pca:<region>:<account>:certificate-authority/<uuid>"
        )
    return value


class PrivateCaConfig(Model):
    """The CA every cluster's issuer (cert-manager with the AWS Private CA issuer) signs certificates with.

    `ca-arn`: an existing CA, possibly of another account shared through AWS RAM; `subordinate`: a subordinate
    CA the platform creates under a root named in config. `template-arn` is the only template the issuer's role
    may issue with. `service-certificates` (default on): MLflow's and every model version's Service get a
    certificate from the issuer, and MLflow serves HTTPS with its own. `client-certificates`: each serving load
    balancer gets an HTTPS listener on port 8443 that verifies client certificates against the CA (mutual TLS),
    on which teams that set `client-certificates: true` serve their models.
    """

    missing_messages: ClassVar[dict[str, str]] = {}

    ca_arn: Annotated[str | None, Field(alias="ca-arn")] = None
    # The existing CA's certificate chain, PEM (`aws acm-pca get-certificate-authority-certificate`): what pods
    # trust; the platform makes no lookups where config can say it.
    certificate_file: Annotated[
        str | None, Field(alias="certificate-file", min_length=1, max_length=1024)
    ] = None
    subordinate: SubordinateCaConfig | None = None
    template_arn: Annotated[str | None, Field(alias="template-arn")] = None
    certificate_days: Annotated[int, Field(alias="certificate-days", ge=1, le=397)] = 90
    service_certificates: Annotated[bool, Field(alias="service-certificates")] = True
    client_certificates: Annotated[bool, Field(alias="client-certificates")] = False

    @field_validator("ca_arn")
    @classmethod
    def _ca_arn(cls, value: str | None) -> str | None:
        return pca_arn(value) if value is not None else None

    @field_validator("template_arn")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _TEMPLATE_ARN_RE.match(value)
        if match is None or match.group("name") not in END_ENTITY_TEMPLATES:
            raise ValueError(
                f"{value!r} is not an end-entity certificate template; allowed: arn:aws:acm-pca:::template/ "
                f"followed by one of {', '.join(END_ENTITY_TEMPLATES)}"
            )
        return value

    @model_validator(mode="after")
    def _one_ca(self) -> PrivateCaConfig:
        if (self.ca_arn is None) == (self.subordinate is None):
            raise _KeyedValueError(
                ("ca-arn",),
                "set exactly one of ca-arn (an existing, possibly shared, CA) or subordinate (a subordinate CA "
                "the platform creates under a root CA)",
            )
        if (self.ca_arn is None) != (self.certificate_file is None):
            raise _KeyedValueError(
                ("certificate-file",),
                "missing; ca-arn needs the CA's certificate chain (a PEM file in the project)"
                if self.certificate_file is None
                else "only allowed with ca-arn (a subordinate CA's chain comes from its own certificate)",
            )
        return self

    @property
    def template_name(self) -> str:
        """The template's name as the issuer takes it (the ARN after `:::template/`)."""
        if self.template_arn is None:
            return DEFAULT_TEMPLATE
        return self.template_arn.split(":::template/", 1)[1]

    def template_arn_in(self, partition: str) -> str:
        return self.template_arn or f"arn:{partition}:acm-pca:::template/{DEFAULT_TEMPLATE}"

    @property
    def ca_region(self) -> str | None:
        match = _PCA_ARN_RE.match(self.ca_arn or "")
        return match.group("region") if match else None

    @property
    def ca_account(self) -> str | None:
        match = _PCA_ARN_RE.match(self.ca_arn or "")
        return match.group("account") if match else None


def check_trust(cfg: Any) -> None:
    """The private-network sections against the rest of the platform: they need an EKS cluster (they configure its
    nodes and charts), whose chart versions they pin, and an existing CA in a region of the platform (the issuer
    calls Private CA in the CA's region, through the platform's VPC endpoint)."""
    sections = [
        key
        for key, value in (
            ("egress-proxy", cfg.egress_proxy),
            ("custom-ca-bundle", cfg.custom_ca_bundle),
            ("private-ca", cfg.private_ca),
        )
        if value is not None
    ]
    if not sections:
        return
    if cfg.cluster is None or cfg.cluster.mode != "eks":
        raise _KeyedValueError(
            (sections[0],), "needs cluster mode eks (it configures the platform's own nodes and charts)"
        )
    if cfg.egress_proxy is not None and cfg.internet_free:
        raise _KeyedValueError(
            ("egress-proxy",),
            "contradicts internet-free: true (nothing leaves the VPCs); allowed: one of them",
        )
    needed = [
        *(TRUST_CHARTS if (cfg.private_ca or cfg.custom_ca_bundle) else ()),
        *((PCA_CHART,) if cfg.private_ca else ()),
    ]
    charts = cfg.cluster.charts
    for chart in needed:
        if getattr(charts, chart.replace("-", "_")) is None:
            raise _KeyedValueError(
                ("cluster", "charts", chart),
                f"missing; required with {'private-ca' if chart == PCA_CHART or cfg.private_ca else 'custom-ca-bundle'} "
                "(an exact X.Y.Z)",
            )
    ca = cfg.private_ca
    if ca is not None and ca.client_certificates and (cfg.dns is None or cfg.registry is None):
        raise _KeyedValueError(
            ("private-ca", "client-certificates"),
            "needs the dns and registry sections (the serving load balancers whose listener verifies client "
            "certificates, the artifact buckets holding its CA bundle); allowed: false without them",
        )
    if ca is not None and ca.ca_arn is not None:
        regions = [region.name for region in cfg.regions]
        if ca.ca_region not in regions:
            raise _KeyedValueError(
                ("private-ca", "ca-arn"),
                f"is in {ca.ca_region}; allowed: a CA in one of the platform's regions ({', '.join(regions)}), "
                "shared to this account through AWS RAM when another account owns it",
            )
    if (
        ca is not None
        and ca.subordinate is not None
        and ca.subordinate.root_ca_arn.split(":")[3] not in [region.name for region in cfg.regions]
    ):
        raise _KeyedValueError(
            ("private-ca", "subordinate", "root-ca-arn"),
            "is in a region the platform does not run in; allowed: a root CA in the primary region's partition "
            "and one of the platform's regions",
        )


def parse_pem_bundle(data: bytes) -> list[Any]:
    """The X.509 certificates of a PEM bundle (``cryptography``'s parser); ValueError when there are none or a
    block does not parse."""
    from cryptography import x509

    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise ValueError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"is not a PEM certificate bundle that parses ({exc})") from None
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            subject = certificate.subject.rfc4514_string()
            raise ValueError(f"holds {subject!r}, which is not a CA certificate (basicConstraints CA:TRUE)")
    return certificates


# Where a bundle's `file` is read from: the project folder (the one holding Pulumi.yaml), as Pulumi runs the program
# there and the same file is found offline.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def read_ca_bundle(bundle: CustomCaBundleConfig, stack_file: str | Path | None, key: str) -> str | None:
    """The PEM text of a file-backed bundle, checked; None for a secret-backed one (read by the program)."""
    if bundle.file is None:
        return None
    return read_pem_file(bundle.file, stack_file, f"{key}.file")


def read_pem_file(file: str, stack_file: str | Path | None, key: str) -> str:
    """The PEM text of a CA certificate file in the project, parsed; else a ConfigError naming ``key``."""
    path = PROJECT_ROOT / file
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(stack_file, key, f"cannot read {file} ({exc.strerror})") from None
    try:
        parse_pem_bundle(data)
    except ValueError as exc:
        raise ConfigError(stack_file, key, f"{file} {exc}") from None
    return data.decode("ascii", errors="strict")
