"""The `dns` section of `mlops:platform` (the public zone of model endpoints, its routing, the serving
certificates) and the checks of ACM certificate ARNs that serving load balancers use. Built by components/dns.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from components.configbase import KeyedValueError, Model

HOSTNAME_RE = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.){1,126}[a-z]{2,63}$"
_ACM_ARN = r"^arn:aws(-cn|-us-gov)?:acm:[a-z0-9-]+:\d{12}:certificate/.+$"
CertificateArns = Annotated[
    dict[str, Annotated[str, Field(pattern=_ACM_ARN)]], Field(alias="certificate-arns")
]


class DnsConfig(Model):
    """The public hosted zone model endpoints are named in, its routing, and the serving certificates.

    Every serving region needs an ACM certificate (in that region) for ``*.<zone>`` and ``*.<region>.<zone>``:
    models answer on ``<model>-<team>.<zone>`` (routed) and ``<model>-<team>.<region>.<zone>``.

    ``dnssec`` (sign the zone with a key-signing key in us-east-1) and ``query-logging`` (the zone's DNS query
    log in a KMS-encrypted us-east-1 log group) are on by default in prod and off elsewhere. Prod cannot turn
    them off: a prod stack saying ``false`` is a config error (``components.config.check_sections``), so a
    prod zone is always signed and logged; the policy pack checks the same of every public zone it sees.
    """

    zone: Annotated[str, Field(pattern=HOSTNAME_RE)]
    routing: Literal["failover", "latency"] = "failover"
    certificate_arns: CertificateArns = {}
    dnssec: bool | None = None  # None: the environment's default (on in prod)
    query_logging: Annotated[bool | None, Field(alias="query-logging")] = None

    def signs(self, environment: str) -> bool:
        """Whether the zone is DNSSEC-signed in ``environment`` (unset: only in prod)."""
        return self.dnssec if self.dnssec is not None else environment == "prod"

    def logs_queries(self, environment: str) -> bool:
        """Whether the zone's DNS queries are logged in ``environment`` (unset: only in prod)."""
        return self.query_logging if self.query_logging is not None else environment == "prod"


def prod_protection_error(dns: DnsConfig, environment: str) -> tuple[str, str] | None:
    """The first of ``dnssec`` / ``query-logging`` a prod stack turns off, with the message (None: fine)."""
    if environment != "prod":
        return None
    for key, value in (("dnssec", dns.dnssec), ("query-logging", dns.query_logging)):
        if value is False:
            return key, "false is below the prod baseline; allowed in prod: true (or leave it unset)"
    return None


def certificate_region_errors(
    arns: dict[str, str], regions: list[str], account_id: str | None = None
) -> tuple[tuple[str, ...], str] | None:
    """The first certificate keyed by a region it is not in, keyed by a region not allowed here, or (with
    ``account_id``) of another account."""
    for region, arn in arns.items():
        if region not in regions:
            return (region,), f"not a region of this stack; allowed: {', '.join(regions)}"
        if arn.split(":")[3] != region:
            return (region,), (
                f"{arn!r} is in another region; allowed: a certificate in {region} "
                "(a load balancer can only use certificates of its own region)"
            )
        problem = certificate_account_error(arn, account_id)
        if problem:
            return (region,), problem
    return None


def certificate_account_error(arn: str, account_id: str | None) -> str | None:
    """A load balancer's listener takes ACM certificates of its own account (ELB User Guide, "SSL
    certificates for your Application Load Balancer": certificates provided by ACM or imported into it)."""
    if account_id is not None and arn.split(":")[4] != account_id:
        return f"{arn!r} is in account {arn.split(':')[4]}; allowed: a certificate of account {account_id}"
    return None


def check_dns(dns: DnsConfig, names: list[str], account_id: str, environment: str, eks: bool) -> None:
    """The DNS section against the rest of the platform: its regions, account, environment and cluster."""
    if dns.routing == "failover" and len(names) != 2:
        raise KeyedValueError(
            ("dns", "routing"),
            f"'failover' needs exactly two regions (a primary and a secondary), this stack has {len(names)}; "
            "allowed: latency, or two regions",
        )
    problem = certificate_region_errors(dns.certificate_arns, names, account_id)
    if problem is not None:
        raise KeyedValueError(("dns", "certificate-arns", *problem[0]), problem[1])
    switched_off = prod_protection_error(dns, environment)
    if switched_off is not None:
        raise KeyedValueError(("dns", switched_off[0]), switched_off[1])
    if eks:
        for region in names:
            if region not in dns.certificate_arns:
                raise KeyedValueError(
                    ("dns", "certificate-arns", region),
                    f"missing; the serving load balancer of {region} listens on HTTPS only and needs an ACM "
                    f"certificate there for *.{dns.zone} and *.{region}.{dns.zone}",
                )
