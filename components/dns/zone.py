"""The public hosted zone of the model endpoints, DNSSEC-signed and query-logged (by default in prod).

Signing: an ECC_NIST_P256 SIGN_VERIFY KMS key in us-east-1 (Route 53 uses no other) whose policy lets Route 53
DNSSEC sign for this zone, a key-signing key on it (ACTIVE) and signing enabled once the key-signing key exists.
The DS record the parent zone must carry is published as ``dns.dsRecord``: until the parent has it, resolvers
treat the zone as unsigned (it still resolves); once it has it, the chain of trust is complete. Once the stack's
alert topics exist, ``alarm_signing`` adds the DNSSECInternalFailure and DNSSECKeySigningKeysNeedingAction alarms
(components/dns/alarms.py), in us-east-1 where Route 53 publishes them.

Query logging: a log group ``/aws/route53/<zone>`` in us-east-1 encrypted with the us-east-1 logs key, a CloudWatch
Logs resource policy letting Route 53 write there for this zone only, and the query log once that policy exists.

Destroy (and turning signing off outside prod): Pulumi deletes in reverse dependency order, so signing is disabled
(the provider's HostedZoneDnsSec delete calls DisableHostedZoneDNSSEC) before the key-signing key is deleted (its
delete deactivates an ACTIVE key first, then deletes it), before the KMS key is scheduled for deletion, before the
zone. Route 53 refuses to deactivate the only key of a signing zone (KeySigningKeyInUse), hence that order, and
refuses to disable signing or deactivate a key a parent DS record names (KeySigningKeyInParentDSRecord): remove
the DS record at the parent and wait out its TTL first. In prod the key, the key-signing key and signing are
protected like the zone, so unsigning a prod zone is always a deliberate `pulumi state unprotect`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.base import child_opts
from components.blocks import PlatformContext
from components.dns.alarms import DnssecAlarms, DnssecAlarmsArgs, logs_key_args
from components.dns.config import DnsConfig
from components.dns.protection import (
    ROUTE53_KEY_REGION,
    dnssec_key_policy,
    ksk_name,
    query_log_group_name,
    query_log_key_policy,
    query_log_resource_policy,
)
from components.observability.config import Subscription


@dataclass(frozen=True)
class ServingDnsArgs:
    context: PlatformContext  # the platform's, in its primary region
    dns: DnsConfig
    regions: Sequence[str]  # the first is the primary region
    protect: bool = False
    # The stack's us-east-1 provider: needed when the zone is signed or logged (Route 53 takes keys and log groups
    # from us-east-1 only).
    us_east_1: pulumi.ProviderResource | None = None
    # The us-east-1 logs key of the stack's key ring; None (no key ring there): the query log gets a key of its own.
    query_log_key_arn: pulumi.Input[str] | None = None
    log_retention_days: int = 30


class ServingDns(pulumi.ComponentResource):
    """The public hosted zone of the model endpoints (Route 53 is global; pass any AWS provider in ``opts``).

    The zone's records are created by the platform (each region's ``*.<region>.<zone>``, components.serving.ingress)
    and by team stacks (each model's routed name, ``ModelEndpointDns``). Attributes: ``zone``; when signed
    ``signing_key``, ``key_signing_key``, ``dnssec``; when logged ``query_log_group``, ``query_log_policy``,
    ``query_log`` (and ``query_log_key`` when the stack has no logs key in us-east-1); ``dnssec_alarms`` once
    ``alarm_signing`` gave the signing alarms their topic.
    """

    signing_key: aws.kms.Key | None = None
    key_signing_key: aws.route53.KeySigningKey | None = None
    dnssec: aws.route53.HostedZoneDnsSec | None = None
    query_log_key: aws.kms.Key | None = None
    query_log_group: aws.cloudwatch.LogGroup | None = None
    query_log_policy: aws.cloudwatch.LogResourcePolicy | None = None
    query_log: aws.route53.QueryLog | None = None
    dnssec_alarms: DnssecAlarms | None = None

    def __init__(self, name: str, args: ServingDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:dns:ServingDns", name, None, opts)
        self.resource_name = name
        ctx, dns = args.context, args.dns
        self.args = args
        self.zone = aws.route53.Zone(
            f"{name}-zone",
            aws.route53.ZoneArgs(
                name=dns.zone,
                comment=f"Model endpoints of the mlops {ctx.environment} platform",
                force_destroy=False,
                tags=ctx.tagged(Name=dns.zone),
            ),
            opts=child_opts(self, protect=args.protect),
        )
        self.dns = dns
        if dns.signs(ctx.environment):
            self._sign(name, args)
        if dns.logs_queries(ctx.environment):
            self._log_queries(name, args)
        self.register_outputs(
            {
                "zoneId": self.zone.zone_id,
                "nameServers": self.zone.name_servers,
                "dsRecord": self.ds_record,
            }
        )

    def _us_east_1(self, args: ServingDnsArgs, **extra) -> pulumi.ResourceOptions:
        if args.us_east_1 is None:
            raise ValueError("a signed or query-logged zone needs the stack's us-east-1 provider (us_east_1)")
        return child_opts(self, provider=args.us_east_1, **extra)

    def _sign(self, name: str, args: ServingDnsArgs) -> None:
        """The signing key (us-east-1), the key-signing key on it and signing enabled, in that order."""
        ctx = args.context.in_region(ROUTE53_KEY_REGION)
        self.signing_key = aws.kms.Key(
            f"{name}-dnssec-key",
            aws.kms.KeyArgs(
                description=f"mlops {ctx.environment} DNSSEC key-signing key of {args.dns.zone}",
                customer_master_key_spec="ECC_NIST_P256",
                key_usage="SIGN_VERIFY",
                # KMS rotates symmetric encryption keys only; a key-signing key is rolled by adding a new one and
                # changing the parent's DS record.
                enable_key_rotation=False,
                deletion_window_in_days=30 if ctx.is_prod else 7,
                policy=self.zone.zone_id.apply(lambda zone_id: json.dumps(dnssec_key_policy(ctx, zone_id))),
                tags=ctx.tagged(purpose="dnssec", Name=f"{name}-dnssec-key"),
            ),
            opts=self._us_east_1(args, protect=args.protect),
        )
        aws.kms.Alias(
            f"{name}-dnssec-key-alias",
            aws.kms.AliasArgs(name=f"alias/{ctx.prefix}-dnssec", target_key_id=self.signing_key.key_id),
            opts=self._us_east_1(args),
        )
        self.key_signing_key = aws.route53.KeySigningKey(
            f"{name}-ksk",
            aws.route53.KeySigningKeyArgs(
                hosted_zone_id=self.zone.zone_id,
                key_management_service_arn=self.signing_key.arn,
                name=ksk_name(ctx.environment),
                status="ACTIVE",
            ),
            opts=child_opts(self, protect=args.protect),
        )
        # Signing needs an ACTIVE key-signing key (KeySigningKeyWithActiveStatusNotFound otherwise); the
        # dependency also makes destroy disable signing before it deletes the key-signing key.
        self.dnssec = aws.route53.HostedZoneDnsSec(
            f"{name}-dnssec",
            aws.route53.HostedZoneDnsSecArgs(hosted_zone_id=self.zone.zone_id, signing_status="SIGNING"),
            opts=child_opts(self, protect=args.protect, depends_on=[self.key_signing_key]),
        )

    def _log_queries(self, name: str, args: ServingDnsArgs) -> None:
        """The encrypted us-east-1 log group, the resource policy Route 53 writes through, then the query log."""
        ctx = args.context.in_region(ROUTE53_KEY_REGION)
        key_arn = args.query_log_key_arn
        if key_arn is None:
            self.query_log_key = aws.kms.Key(
                f"{name}-query-log-key",
                logs_key_args(
                    ctx,
                    f"mlops {ctx.environment} DNS query logs of {args.dns.zone} ({ctx.region})",
                    query_log_key_policy(ctx),
                    f"{name}-query-log-key",
                ),
                # Like the key rings' logs keys: kept outside dev, where the logs outlive a destroy.
                opts=self._us_east_1(args, protect=args.protect, retain_on_delete=ctx.keeps_data),
            )
            key_arn = self.query_log_key.arn
        group_name = query_log_group_name(args.dns.zone)
        self.query_log_group = aws.cloudwatch.LogGroup(
            f"{name}-query-logs",
            aws.cloudwatch.LogGroupArgs(
                name=group_name,
                kms_key_id=key_arn,
                retention_in_days=args.log_retention_days,
                tags=ctx.tagged(Name=group_name),
            ),
            opts=self._us_east_1(args),
        )
        self.query_log_policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-query-log-policy",
            aws.cloudwatch.LogResourcePolicyArgs(
                policy_name=f"{ctx.prefix}-route53-query-logs",
                policy_document=self.zone.zone_id.apply(
                    lambda zone_id: json.dumps(query_log_resource_policy(ctx, group_name, zone_id))
                ),
            ),
            opts=self._us_east_1(args),
        )
        # Route 53 checks at creation that it may write to the log group (InsufficientCloudWatchLogsResourcePolicy).
        self.query_log = aws.route53.QueryLog(
            f"{name}-query-log",
            aws.route53.QueryLogArgs(
                zone_id=self.zone.zone_id, cloudwatch_log_group_arn=self.query_log_group.arn
            ),
            opts=child_opts(self, depends_on=[self.query_log_policy]),
        )

    def alarm_signing(
        self,
        topic_arn: pulumi.Input[str] | None,
        topic_ready: Sequence[pulumi.Resource] = (),
        subscriptions: Sequence[Subscription] = (),
    ) -> DnssecAlarms | None:
        """The DNSSEC alarms of a signed zone (``dnssec_alarms``), in us-east-1: to ``topic_arn``, the stack's
        us-east-1 alert topic (``topic_ready``: its policy), or, when None, to a topic of their own there with
        ``subscriptions``. An unsigned zone gets none."""
        if self.dnssec is None:
            return None
        self.dnssec_alarms = DnssecAlarms(
            f"{self.resource_name}-dnssec-alarms",
            DnssecAlarmsArgs(
                context=self.args.context,
                zone_id=self.zone.zone_id,
                topic_arn=topic_arn,
                topic_ready=topic_ready,
                subscriptions=subscriptions,
            ),
            opts=self._us_east_1(self.args),
        )
        return self.dnssec_alarms

    @property
    def ds_record(self) -> pulumi.Output[str] | None:
        """The DS record the parent zone must carry (``<key tag> 13 2 <digest>``), or None when unsigned."""
        return self.key_signing_key.ds_record if self.key_signing_key is not None else None

    def contract_values(self) -> dict[str, object]:
        """The values of ``DnsOutputs`` (components/outputs.py)."""
        return {
            "hosted_zone_id": self.zone.zone_id,
            "name_servers": self.zone.name_servers,
            "zone_name": self.dns.zone,
            "routing": self.dns.routing,
            "certificate_arns": dict(self.dns.certificate_arns),
            "ds_record": self.ds_record,
        }
