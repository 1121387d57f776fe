"""Post-deployment verification: what is actually running in the account, checked with boto3.

Policy checks prove what a stack declares; this proves what exists after `pulumi up`, where drift, manual
changes and half-failed deployments show. The stack's outputs (what `pulumi stack output --json` prints, or the
`outputs` of an offline preview, which have the same shape) say which resources to look at and what to expect;
every check reports pass, fail or error with the resource and the expected and actual values.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.outputs import PlatformOutputs

PASS, FAIL, ERROR = "pass", "fail", "error"
CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
STALE_INSUFFICIENT_DATA = dt.timedelta(hours=1)


class VerifyError(Exception):
    """A user-facing failure before any check could run (no outputs, no credentials, no endpoint)."""


@dataclass(frozen=True)
class Result:
    check: str
    resource: str
    status: str
    expected: Any = None
    actual: Any = None
    message: str = ""


@dataclass
class Expectations:
    """What the deployed stack must look like: its outputs, read through the outputs contract."""

    outputs: PlatformOutputs
    stale_after: dt.timedelta = STALE_INSUFFICIENT_DATA

    @property
    def environment(self) -> str:
        return self.outputs.environment

    @property
    def primary_region(self) -> str:
        return self.outputs.primary_region

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"


# ---------------------------------------------------------------------------------------------------------
# Outputs


def load_outputs(stack: str, outputs_file: Path | None, stacks_dir: Path | None = None) -> PlatformOutputs:
    """Outputs from a file (`pulumi stack output --json`, or an `mlops preview --json` document), or the CLI,
    checked to be the outputs of platform stack ``stack`` before any check reads them."""
    from components.loader import UnknownStackError, list_stacks, load_json, stack_file

    if stacks_dir is not None and not stack_file(stacks_dir, stack).is_file():
        raise UnknownStackError(stack, Path(stacks_dir), list_stacks(stacks_dir))
    if outputs_file is not None:
        return check_outputs(stack, load_json(outputs_file), str(outputs_file), stacks_dir)
    if shutil.which("pulumi") is None:
        raise VerifyError(
            "no --outputs FILE given and no Pulumi CLI on PATH to read the stack's outputs; "
            "run `pulumi stack output --json --show-secrets > outputs.json` where the CLI is, then pass --outputs"
        )
    command = f"pulumi stack output --json --stack {stack}"
    result = subprocess.run(command.split(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise VerifyError(f"{command} failed: {last}")
    from components.loader import parse_json, refusal

    with refusal(f"`{command}`"):
        data = parse_json(result.stdout)
    return check_outputs(stack, data, f"`{command}`", stacks_dir)


def check_outputs(stack: str, data: Any, source: str, stacks_dir: Path | None) -> PlatformOutputs:
    """The outputs of platform stack ``stack`` as the outputs contract, or one error naming ``source``: not
    outputs, a team stack's, another stack's (its environment or regions differ from the stack file), or not
    the outputs contract."""
    from components.config import parse_platform
    from components.loader import ConfigError, json_kind, stack_file
    from components.outputs import PlatformOutputs
    from components.stackfile import read_stack_config
    from components.validation import validate_model

    if isinstance(data, dict) and "steps" in data:  # an `mlops preview --json` document
        previewed = data.get("stack")
        if previewed not in (None, stack):
            raise VerifyError(f"{source}: the preview of stack {previewed!r}, not of {stack!r}")
        data = data.get("outputs")
    if not isinstance(data, dict):
        raise VerifyError(f"{source}: expected a JSON object of stack outputs, got a JSON {json_kind(data)}")
    if "namespace" in data and "team" in data:
        raise VerifyError(
            f"{source}: the outputs of team stack {data['team']!r}; mlops verify checks platform stacks"
        )
    missing = [key for key in ("environment", "primaryRegion", "regions") if key not in data]
    if missing:
        raise VerifyError(
            f"{source}: the outputs lack {', '.join(missing)}: not the outputs of a platform stack"
        )
    contract: PlatformOutputs = validate_model(PlatformOutputs, data, source, "outputs")
    if stacks_dir is not None and stack_file(stacks_dir, stack).is_file():
        path, raw = read_stack_config(stacks_dir, stack)
        if "mlops:platform" not in raw:
            raise ConfigError(path, "mlops:platform", "missing: mlops verify checks platform stacks")
        cfg = parse_platform(raw["mlops:platform"], path)
        found = (contract.environment, contract.primary_region, sorted(contract.regions))
        declared = (cfg.environment, cfg.primary_region.name, sorted(region.name for region in cfg.regions))
        if found != declared:
            raise VerifyError(
                f"{source}: the outputs of a {found[0]} stack in {', '.join(found[2])}, but {path} declares "
                f"{declared[0]} in {', '.join(declared[2])}; pass the outputs of stack {stack!r}"
            )
    return contract


def expectations(
    outputs: PlatformOutputs, stale_after: dt.timedelta = STALE_INSUFFICIENT_DATA
) -> Expectations:
    return Expectations(outputs=outputs, stale_after=stale_after)


# ---------------------------------------------------------------------------------------------------------
# Checks: each takes a client factory and explicit expectations, and yields results.

Clients = Callable[[str, str], Any]  # (service, region) -> boto3 client


def compare(check: str, resource: str, expected: Any, actual: Any, what: str) -> Result:
    if expected == actual:
        return Result(check, resource, PASS, expected, actual)
    return Result(check, resource, FAIL, expected, actual, f"{what}: expected {expected!r}, found {actual!r}")


def check_kms_key(clients: Clients, region: str, key_arn: str, purpose: str) -> Iterator[Result]:
    kms = clients("kms", region)
    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    yield compare("kms.enabled", key_arn, "Enabled", metadata.get("KeyState"), f"{purpose} key state")
    rotation = kms.get_key_rotation_status(KeyId=key_arn).get("KeyRotationEnabled")
    yield compare("kms.rotation", key_arn, True, rotation, f"{purpose} key rotation")


def check_flow_logs(clients: Clients, region: str, vpc_id: str) -> Iterator[Result]:
    ec2 = clients("ec2", region)
    logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    active = sorted(log["FlowLogId"] for log in logs if log.get("FlowLogStatus") == "ACTIVE")
    if active:
        yield Result("vpc.flow-logs", vpc_id, PASS, "an ACTIVE flow log", active)
    else:
        yield Result(
            "vpc.flow-logs", vpc_id, FAIL, "an ACTIVE flow log", [], f"VPC {vpc_id} has no active flow log"
        )


def check_s3_prefix_list(
    clients: Clients, region: str, published: list[str], partition: str
) -> Iterator[Result]:
    """The region's S3 prefix list now, against the CIDRs the stack published (`s3Cidrs`) and the NetworkPolicies
    copy: AWS adds S3 addresses over time, and pods are blocked from new ones until the stacks run again."""
    from components.network.endpoints import endpoint_service

    name = endpoint_service(region, "s3", partition)
    ec2 = clients("ec2", region)
    lists = ec2.describe_managed_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [name]}])[
        "PrefixLists"
    ]
    if not lists:
        yield Result(
            "vpc.s3-prefix-list", name, FAIL, sorted(published), None, f"no prefix list named {name}"
        )
        return
    pages = ec2.get_paginator("get_managed_prefix_list_entries").paginate(
        PrefixListId=lists[0]["PrefixListId"]
    )
    live = sorted(entry["Cidr"] for page in pages for entry in page["Entries"])
    added, removed = sorted(set(live) - set(published)), sorted(set(published) - set(live))
    if not added and not removed:
        yield Result("vpc.s3-prefix-list", name, PASS, sorted(published), live)
        return
    yield Result(
        "vpc.s3-prefix-list",
        name,
        FAIL,
        sorted(published),
        live,
        f"S3 addresses changed since the stack ran (new: {', '.join(added) or 'none'}; gone: "
        f"{', '.join(removed) or 'none'}): run `pulumi up` on the platform stack, then on every team stack",
    )


def check_bucket(
    clients: Clients, region: str, bucket: str, key_arn: str | None, replicas: Iterable[str] = ()
) -> Iterator[Result]:
    from botocore.exceptions import ClientError

    s3 = clients("s3", region)
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchPublicAccessBlockConfiguration":
            raise
        block = {}
    wanted = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    yield compare(
        "s3.public-access-block",
        bucket,
        wanted,
        {key: block.get(key, False) for key in wanted},
        f"bucket {bucket} public access block",
    )
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = rules[0]["ApplyServerSideEncryptionByDefault"]
        actual = {"algorithm": default.get("SSEAlgorithm"), "key": default.get("KMSMasterKeyID")}
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        actual = {"algorithm": None, "key": None}
    yield compare(
        "s3.encryption",
        bucket,
        {"algorithm": "aws:kms", "key": key_arn},
        actual,
        f"bucket {bucket} default encryption",
    )
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    yield compare("s3.versioning", bucket, "Enabled", status, f"bucket {bucket} versioning")
    replicas = sorted(replicas)
    if replicas:
        try:
            config = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
            destinations = sorted(
                rule["Destination"]["Bucket"].rsplit(":", 1)[-1]
                for rule in config
                if rule.get("Status") == "Enabled"
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ReplicationConfigurationNotFoundError":
                raise
            destinations = []
        yield compare(
            "s3.replication", bucket, replicas, destinations, f"bucket {bucket} replication destinations"
        )


def check_registry_replication(
    clients: Clients, region: str, account_id: str, targets: Iterable[str]
) -> Iterator[Result]:
    ecr = clients("ecr", region)
    rules = ecr.describe_registry().get("replicationConfiguration", {}).get("rules", [])
    actual = sorted(
        {
            d["region"]
            for rule in rules
            for d in rule.get("destinations", [])
            if d.get("registryId") == account_id
        }
    )
    yield compare(
        "ecr.replication",
        f"registry {account_id} ({region})",
        sorted(targets),
        actual,
        "registry replication regions",
    )


def check_cluster(
    clients: Clients, region: str, name: str, secrets_key_arn: str | None, private: bool
) -> Iterator[Result]:
    eks = clients("eks", region)
    cluster = eks.describe_cluster(name=name)["cluster"]
    vpc = cluster.get("resourcesVpcConfig", {})
    if private:
        yield compare(
            "eks.private-endpoint",
            name,
            False,
            vpc.get("endpointPublicAccess"),
            f"cluster {name} public endpoint",
        )
    keys = [
        cfg.get("provider", {}).get("keyArn")
        for cfg in cluster.get("encryptionConfig", [])
        if "secrets" in cfg.get("resources", [])
    ]
    yield compare(
        "eks.secrets-encryption",
        name,
        secrets_key_arn,
        keys[0] if keys else None,
        f"cluster {name} secrets key",
    )
    enabled = sorted(
        kind
        for entry in cluster.get("logging", {}).get("clusterLogging", [])
        if entry.get("enabled")
        for kind in entry.get("types", [])
    )
    yield compare(
        "eks.logging", name, sorted(CONTROL_PLANE_LOGS), enabled, f"cluster {name} control-plane logs"
    )
    mode = cluster.get("accessConfig", {}).get("authenticationMode")
    yield compare("eks.access-entries", name, "API", mode, f"cluster {name} authentication mode")


def check_trail(clients: Clients, region: str, trail_arn: str, key_arn: str | None) -> Iterator[Result]:
    trails = clients("cloudtrail", region)
    described = trails.describe_trails(trailNameList=[trail_arn])["trailList"]
    if not described:
        yield Result(
            "cloudtrail.present", trail_arn, FAIL, "the trail", None, f"trail {trail_arn} does not exist"
        )
        return
    trail = described[0]
    yield compare(
        "cloudtrail.logging",
        trail_arn,
        True,
        trails.get_trail_status(Name=trail_arn).get("IsLogging"),
        "trail logging",
    )
    yield compare(
        "cloudtrail.validation", trail_arn, True, trail.get("LogFileValidationEnabled"), "log file validation"
    )
    yield compare(
        "cloudtrail.multi-region", trail_arn, True, trail.get("IsMultiRegionTrail"), "multi-region trail"
    )
    if key_arn:
        yield compare("cloudtrail.kms", trail_arn, key_arn, trail.get("KmsKeyId"), "trail KMS key")


def check_database(
    clients: Clients, region: str, identifier: str, key_arn: str | None, prod: bool, keeps_data: bool = True
) -> Iterator[Result]:
    """Encryption, key, multi-AZ (prod), deletion protection (not dev, whose database destroys cleanly), privacy."""
    rds = clients("rds", region)
    db = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    yield compare(
        "rds.encrypted", identifier, True, db.get("StorageEncrypted"), f"database {identifier} encryption"
    )
    if key_arn:
        yield compare("rds.kms", identifier, key_arn, db.get("KmsKeyId"), f"database {identifier} key")
    if prod:
        yield compare("rds.multi-az", identifier, True, db.get("MultiAZ"), f"database {identifier} multi-AZ")
    yield compare(
        "rds.deletion-protection",
        identifier,
        keeps_data,
        db.get("DeletionProtection"),
        f"database {identifier} deletion protection",
    )
    yield compare(
        "rds.private", identifier, False, db.get("PubliclyAccessible"), f"database {identifier} public access"
    )


def check_alarms(
    clients: Clients,
    region: str,
    names: Iterable[str],
    stale_after: dt.timedelta = STALE_INSUFFICIENT_DATA,
    now: dt.datetime | None = None,
) -> Iterator[Result]:
    cloudwatch = clients("cloudwatch", region)
    names = sorted(names)
    if not names:
        return
    found = {
        alarm["AlarmName"]: alarm for alarm in cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    }
    now = now or dt.datetime.now(dt.UTC)
    for name in names:
        alarm = found.get(name)
        if alarm is None:
            yield Result("alarm.present", name, FAIL, "present", "missing", f"alarm {name} does not exist")
            continue
        state = alarm.get("StateValue")
        since = alarm.get("StateUpdatedTimestamp")
        if state == "INSUFFICIENT_DATA" and since is not None and now - since >= stale_after:
            yield Result(
                "alarm.data",
                name,
                FAIL,
                "OK or ALARM",
                state,
                f"alarm {name} has had INSUFFICIENT_DATA since {since.isoformat()}: its metric is not reported",
            )
        else:
            yield Result("alarm.data", name, PASS, "OK or ALARM", state)


# ---------------------------------------------------------------------------------------------------------
# Planning: which checks the outputs call for


def plan(expect: Expectations) -> list[tuple[str, str, Callable[[Clients], Iterator[Result]]]]:
    """(check group, resource, run) for everything the outputs name."""
    steps: list[tuple[str, str, Callable[[Clients], Iterator[Result]]]] = []
    outputs, primary = expect.outputs, expect.primary_region
    keys = {region: dict(values.key_arns) for region, values in outputs.regions.items()}
    for region, values in sorted(outputs.regions.items()):
        for purpose, arn in sorted(keys[region].items()):
            steps.append(("kms", arn, lambda c, r=region, a=arn, p=purpose: check_kms_key(c, r, a, p)))
        if values.vpc_id:
            steps.append(
                ("vpc", values.vpc_id, lambda c, r=region, v=values.vpc_id: check_flow_logs(c, r, v))
            )
        if "s3_cidrs" in values.model_fields_set:
            steps.append(
                (
                    "vpc",
                    f"{region} S3 prefix list",
                    lambda c, r=region, cidrs=list(values.s3_cidrs): check_s3_prefix_list(
                        c, r, cidrs, outputs.partition
                    ),
                )
            )
        cluster = values.cluster
        if cluster is not None and cluster.mode == "eks" and cluster.name:
            steps.append(
                (
                    "eks",
                    cluster.name,
                    lambda c, r=region, n=cluster.name: check_cluster(
                        c, r, n, keys[r].get("cluster-secrets"), expect.is_prod
                    ),
                )
            )
    steps += registry_steps(expect, keys)
    observability = outputs.observability
    if observability is not None and observability.trail_arn:
        steps.append(
            (
                "cloudtrail",
                observability.trail_arn,
                lambda c: check_trail(c, primary, observability.trail_arn, keys[primary].get("logs")),
            )
        )
    for region, names in sorted((observability.alarm_names if observability is not None else {}).items()):
        steps.append(
            ("alarm", region, lambda c, r=region, n=tuple(names): check_alarms(c, r, n, expect.stale_after))
        )
    return steps


def registry_steps(
    expect: Expectations, keys: dict[str, dict[str, str]]
) -> list[tuple[str, str, Callable[[Clients], Iterator[Result]]]]:
    """The artifact buckets and their replicas, the image registry's replication, the database."""
    registry, primary = expect.outputs.registry, expect.primary_region
    if registry is None:
        return []
    steps: list[tuple[str, str, Callable[[Clients], Iterator[Result]]]] = []
    if registry.artifact_bucket_name:
        replicas = {region: arn.rsplit(":", 1)[-1] for region, arn in registry.replica_bucket_arns.items()}
        steps.append(
            (
                "s3",
                registry.artifact_bucket_name,
                lambda c: check_bucket(
                    c,
                    primary,
                    registry.artifact_bucket_name,
                    keys[primary].get("artifacts"),
                    replicas.values(),
                ),
            )
        )
        for region, bucket in sorted(replicas.items()):
            steps.append(
                ("s3", bucket, lambda c, r=region, b=bucket: check_bucket(c, r, b, keys[r].get("artifacts")))
            )
        others = sorted(region for region in expect.outputs.regions if region != primary)
        if others:
            account = expect.outputs.account_id
            steps.append(
                (
                    "ecr",
                    f"registry {account}",
                    lambda c: check_registry_replication(c, primary, account, others),
                )
            )
    if registry.database_endpoint:
        identifier = registry.database_endpoint.split(".", 1)[0]
        steps.append(
            (
                "rds",
                identifier,
                lambda c: check_database(
                    c,
                    primary,
                    identifier,
                    keys[primary].get("database"),
                    expect.is_prod,
                    expect.environment != "dev",
                ),
            )
        )
    return steps


def run_checks(expect: Expectations, clients: Clients) -> list[Result]:
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    results: list[Result] = []
    for group, resource, step in plan(expect):
        try:
            results.extend(step(clients))
        except (NoCredentialsError, EndpointConnectionError) as exc:
            raise VerifyError(str(exc)) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in (
                "InvalidClientTokenId",
                "UnrecognizedClientException",
                "AuthFailure",
                "ExpiredToken",
            ):
                raise VerifyError(
                    f"AWS rejected the credentials: {error.get('Message', error.get('Code'))}"
                ) from None
            results.append(
                Result(
                    f"{group}.read",
                    resource,
                    ERROR,
                    None,
                    None,
                    f"{error.get('Code')}: {error.get('Message')}",
                )
            )
        except BotoCoreError as exc:
            results.append(Result(f"{group}.read", resource, ERROR, None, None, str(exc)))
    return results


def check_endpoint_url(endpoint_url: str | None) -> None:
    """The test botocore applies when it creates a client (endpoint.py: utils.is_valid_endpoint_url or
    is_valid_ipv6_endpoint_url, a scheme and a host), plus a numeric port, run before any client exists."""
    from urllib.parse import urlsplit

    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    if endpoint_url is None:
        return
    try:
        parts = urlsplit(endpoint_url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        valid = parts.scheme in ("http", "https") and bool(
            is_valid_endpoint_url(endpoint_url) or is_valid_ipv6_endpoint_url(endpoint_url)
        )
    except ValueError:
        valid = False
    if not valid:
        raise VerifyError(
            f"--endpoint-url: {endpoint_url!r} is not a URL; allowed: http(s)://host[:port][/path]"
        )


def client_factory(profile: str | None, region: str | None, endpoint_url: str | None) -> Clients:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    check_endpoint_url(endpoint_url)
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise VerifyError(
            f"--profile: no profile {profile!r} in the AWS config files; allowed: a profile of ~/.aws/config or "
            "~/.aws/credentials (or AWS_CONFIG_FILE), or no --profile for the AWS_* environment variables"
        ) from None
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=20)
    cache: dict[tuple[str, str], Any] = {}

    def get(service: str, service_region: str) -> Any:
        key = (service, region or service_region)
        if key not in cache:
            cache[key] = session.client(service, region_name=key[1], endpoint_url=endpoint_url, config=config)
        return cache[key]

    return get


def preflight(clients: Clients, region: str) -> str:
    """Fail fast, with one line, when the endpoint is unreachable or there are no usable credentials."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    try:
        return clients("sts", region).get_caller_identity()["Account"]
    except NoCredentialsError:
        raise VerifyError(
            "no AWS credentials found (set a profile with --profile, or AWS_* environment variables)"
        ) from None
    except EndpointConnectionError as exc:
        raise VerifyError(f"cannot reach the AWS endpoint: {exc}") from None
    except ClientError as exc:
        raise VerifyError(
            f"AWS rejected the credentials: {exc.response.get('Error', {}).get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise VerifyError(f"cannot talk to AWS: {exc}") from None


def render_text(results: list[Result]) -> str:
    lines = []
    for result in results:
        line = f"{result.status.upper():5} {result.check:28} {result.resource}"
        if result.status != PASS:
            line += f"  -- {result.message}"
        lines.append(line)
    counts = {status: sum(r.status == status for r in results) for status in (PASS, FAIL, ERROR)}
    lines.append(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[ERROR]} errors")
    return "\n".join(lines)


def render_json(results: list[Result], stack: str) -> str:
    return json.dumps(
        {
            "stack": stack,
            "results": [asdict(result) for result in results],
            "summary": {status: sum(r.status == status for r in results) for status in (PASS, FAIL, ERROR)},
        },
        indent=2,
        default=str,
    )
