"""`mlops cost`: an offline monthly estimate of a stack from its synthesised preview, per resource, per component
and in total, priced from the dated table in mlops/data/prices.json.

Every resource ends up in one of four kinds, none of them silently zero:

- ``priced``: a fixed monthly rate from the table (a range where the count varies, e.g. node group min..max);
- ``usage``: billed by use (storage, requests, data processed); listed with the assumption, not added;
- ``free``: the resource itself carries no charge (IAM, subnets, Kubernetes objects...), said so;
- ``unpriced``: a type this estimator does not know, or a rate the table lacks for the region.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.quantity import cpu_millis, memory_bytes
from mlops.base import CostError

PRICES_PATH = Path(__file__).parent / "data" / "prices.json"
FORMATS = ("text", "json", "markdown")
PRICED, USAGE, FREE, UNPRICED = "priced", "usage", "free", "unpriced"
_REGION_RE = re.compile(r"([a-z]{2}(?:-gov)?-[a-z]+-\d)")
_TEAM_SPACE = "mlops:team:TeamSpace"
_GIB = 1024**3


@dataclass(frozen=True)
class PriceTable:
    date: str
    source: str
    hours: float
    prices: Mapping[str, Mapping[str, Any]]
    reference: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, path: Path = PRICES_PATH) -> PriceTable:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                raw["date"],
                raw["source"],
                float(raw["hours-per-month"]),
                raw["prices"],
                raw["reference-instances"],
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CostError(f"{path}: not a price table ({exc})") from None

    def rate(self, key: str, region: str | None) -> tuple[float | None, str]:
        """The rate of ``key`` in ``region`` and why it is missing when it is (None, reason)."""
        entry = self.prices.get(key)
        if entry is None:
            return None, f"no {key!r} entry in the price table"
        if "all-regions" in entry:
            return float(entry["all-regions"]), ""
        value = entry.get("regions", {}).get(region or "")
        if value is None:
            why = entry.get("unconfirmed") or f"no rate for region {region}"
            return None, f"{key}: {why}"
        return float(value), ""


@dataclass
class Line:
    """One resource's estimate (or one part of it): a monthly range, its kind and what it rests on."""

    urn: str
    type: str
    name: str
    component: str
    region: str | None
    kind: str
    low: float = 0.0
    high: float = 0.0
    detail: str = ""


@dataclass
class Estimate:
    stack: str
    lines: list[Line] = field(default_factory=list)

    @property
    def low(self) -> float:
        return round(sum(line.low for line in self.lines if line.kind == PRICED), 2)

    @property
    def high(self) -> float:
        return round(sum(line.high for line in self.lines if line.kind == PRICED), 2)

    def by_component(self) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        for line in self.lines:
            if line.kind == PRICED:
                low, high = out.get(line.component, (0.0, 0.0))
                out[line.component] = (round(low + line.low, 2), round(high + line.high, 2))
        return dict(sorted(out.items()))

    def count(self, kind: str) -> int:
        return sum(1 for line in self.lines if line.kind == kind)


# Types whose resource itself has no charge (what they make may: a NodePool's capacity is listed as usage).
FREE_PREFIXES = (
    "pulumi:",
    "mlops:",
    "random:",
    "aws:iam/",
    "aws:ssoadmin/",
    "aws:eks/accessEntry",
    "aws:eks/accessPolicyAssociation",
    "aws:eks/podIdentityAssociation",
    "aws:eks/addon",
    "aws:ec2/subnet",
    "aws:ec2/vpc:",
    "aws:ec2/route",
    "aws:ec2/securityGroup",
    "aws:ec2/defaultSecurityGroup",
    "aws:ec2/internetGateway",
    "aws:ec2/launchTemplate",
    "aws:ec2/tag",
    "aws:vpc/securityGroup",
    "aws:ec2transitgateway/route",
    "aws:ec2transitgateway/transitGateway",
    "aws:kms/alias",
    "aws:s3/bucket",  # config sub-resources; aws:s3/bucket:Bucket itself is usage (below, checked first)
    "aws:ecr/replicationConfiguration",
    "aws:ecr/repositoryCreationTemplate",
    "aws:ecr/lifecyclePolicy",
    "aws:sns/topicPolicy",
    "aws:sns/topicSubscription",
    "aws:sqs/queuePolicy",
    "aws:cloudwatch/eventRule",
    "aws:cloudwatch/eventTarget",
    "aws:cloudwatch/logResourcePolicy",
    "aws:rds/parameterGroup",
    "aws:rds/subnetGroup",
    "aws:route53/record",
    "aws:route53/hostedZoneDnsSec",
    "aws:route53/keySigningKey",
    "aws:route53/queryLog",
    "aws:grafana/roleAssociation",
    "aws:guardduty/detectorFeature",
    "aws:lb/targetGroup",
    # Activating a cost allocation tag has no charge; an export itself has none either, its objects are the
    # bucket's S3 storage ("Setting up an Amazon S3 bucket for data exports": "billed at standard Amazon S3 rates").
    "aws:costexplorer/costAllocationTag",
    "aws:bcmdata/export",
    "kubernetes:",
)

# Billed by use: the assumption each is listed with.
USAGE_TYPES = {
    "aws:s3/bucket:Bucket": "S3 storage per GB-month, requests and replication transfer: by use, not estimated",
    "aws:s3/bucketV2:BucketV2": "S3 storage per GB-month, requests and replication transfer: by use, not estimated",
    "aws:cloudwatch/logGroup:LogGroup": "CloudWatch Logs ingestion and storage per GB: by use",
    "aws:ec2/flowLog:FlowLog": "flow log delivery to CloudWatch Logs per GB: by use",
    "aws:cloudtrail/trail:Trail": "the first copy of management events is free; data events and further copies by use",
    "aws:amp/workspace:Workspace": "managed Prometheus ingestion (samples), storage and query samples: by use",
    "aws:amp/scraper:Scraper": "managed collector: hourly collector charge and samples ingested, by use (no confirmed rate)",
    "aws:sns/topic:Topic": "SNS publishes and deliveries: by use",
    "aws:sqs/queue:Queue": "SQS requests: by use",
    "aws:guardduty/detector:Detector": "GuardDuty events, logs and runtime monitoring analysed: by use",
    "aws:cloudwatch/dashboard:Dashboard": "CloudWatch dashboards beyond the free three: monthly charge, no confirmed rate",
    "aws:ecr/repository:Repository": "ECR storage per GB-month and transfer: by use",
    "aws:glue/catalogDatabase:CatalogDatabase": "Glue Data Catalog objects and requests (a free tier first): by use",
    "aws:glue/catalogTable:CatalogTable": "Glue Data Catalog objects and requests; Athena per data scanned: by use",
    "aws:s3control/accessGrantsInstance:AccessGrantsInstance": "S3 Access Grants requests (GetDataAccess and "
    "the grant API calls): by use",
    "aws:s3control/accessGrantsLocation:AccessGrantsLocation": "S3 Access Grants requests: by use",
    "aws:s3control/accessGrant:AccessGrant": "S3 Access Grants requests: by use",
    "aws:budgets/budget:Budget": "AWS Budgets: the account's first budgets free, then a daily charge per budget "
    "(Billing User Guide, Managing your costs with AWS Budgets): not estimated",
}


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


class _Context:
    """What pricing needs from the whole document: regions by provider, components by URN, scalers."""

    def __init__(self, document: Mapping[str, Any]):
        self.states = [step["newState"] for step in document.get("steps", []) if step.get("newState")]
        self.by_urn = {state["urn"]: state for state in self.states}
        self.provider_region: dict[str, str | None] = {}
        for state in self.states:
            if state["type"].startswith("pulumi:providers:"):
                region = (state.get("inputs") or {}).get("region")
                match = _REGION_RE.search(_short(state["urn"]))
                self.provider_region[f"{state['urn']}::{state.get('id', '')}"] = (
                    region if isinstance(region, str) else (match.group(1) if match else None)
                )
        self.team_stack = any(state["type"] == _TEAM_SPACE for state in self.states)
        self.scalers: dict[tuple[str, str, str], tuple[int, int]] = {}
        for state in self.states:
            spec = (state.get("inputs") or {}).get("spec") or {}
            target = spec.get("scaleTargetRef") or {}
            namespace = ((state.get("inputs") or {}).get("metadata") or {}).get("namespace", "")
            if state["type"].endswith(":HorizontalPodAutoscaler"):
                bounds = (int(spec.get("minReplicas", 1)), int(spec.get("maxReplicas", 1)))
            elif state["type"].endswith(":ScaledObject"):
                bounds = (int(spec.get("minReplicaCount", 0)), int(spec.get("maxReplicaCount", 100)))
            else:
                continue
            self.scalers[(state.get("provider", ""), namespace, target.get("name", ""))] = bounds

    def region(self, state: Mapping[str, Any]) -> str | None:
        return self.provider_region.get(state.get("provider", ""))

    def component(self, state: Mapping[str, Any]) -> str:
        parent = state.get("parent")
        while parent and parent in self.by_urn:
            if self.by_urn[parent]["type"].startswith("mlops:"):
                return _short(parent)
            parent = self.by_urn[parent].get("parent")
        return "(stack)"


Pricer = Callable[[Mapping[str, Any], str | None, PriceTable, _Context], list[tuple[str, float, float, str]]]


def _hourly(key: str, count_low: float = 1, count_high: float | None = None, what: str = "") -> Pricer:
    def price(inputs, region, table, ctx):
        rate, why = table.rate(key, region)
        if rate is None:
            return [(UNPRICED, 0.0, 0.0, why)]
        high = count_low if count_high is None else count_high
        unit = f"{count_low:g}" if high == count_low else f"{count_low:g}-{high:g}"
        return [
            (
                PRICED,
                rate * table.hours * count_low,
                rate * table.hours * high,
                f"{unit} x {key} ${rate:g}/h x {table.hours:g} h{what}",
            )
        ]

    return price


def _monthly(key: str, what: str = "") -> Pricer:
    def price(inputs, region, table, ctx):
        rate, why = table.rate(key, region)
        if rate is None:
            return [(UNPRICED, 0.0, 0.0, why)]
        return [(PRICED, rate, rate, f"{key} ${rate:g}/month{what}")]

    return price


def _nat(inputs, region, table, ctx):
    return _hourly("nat-gateway", what="; data processed per GB is usage")(inputs, region, table, ctx)


def _endpoint(inputs, region, table, ctx):
    if inputs.get("vpcEndpointType", "Gateway") != "Interface":
        return [(FREE, 0.0, 0.0, "gateway endpoint: no hourly or data charge")]
    azs = len(inputs.get("subnetIds") or []) or 1
    service = str(inputs.get("serviceName", "")).rsplit(".", 1)[-1]
    return _hourly("interface-endpoint-az", azs, what=f" ({service}, one per AZ); data processed is usage")(
        inputs, region, table, ctx
    )


def _alarm(inputs, region, table, ctx):
    period = inputs.get("period")
    key = "alarm-high-resolution" if isinstance(period, int) and period < 60 else "alarm-standard"
    queries = inputs.get("metricQueries") or []
    metrics = max(1, sum(1 for query in queries if query.get("metric"))) if queries else 1
    rate, why = table.rate(key, region)
    if rate is None:
        return [(UNPRICED, 0.0, 0.0, why)]
    return [(PRICED, rate * metrics, rate * metrics, f"{metrics} alarm metric(s) x {key} ${rate:g}/month")]


def _rds(inputs, region, table, ctx):
    engine = str(inputs.get("engine", "postgres"))
    klass = str(inputs.get("instanceClass", ""))
    copies = 2 if inputs.get("multiAz") else 1
    where = "Multi-AZ: primary and standby" if copies == 2 else "Single-AZ"
    lines = []
    rate, why = table.rate(f"rds:{engine}:{klass}", region)
    if rate is None:
        lines.append((UNPRICED, 0.0, 0.0, why))
    else:
        cost = rate * table.hours * copies
        lines.append((PRICED, cost, cost, f"{copies} x {klass} ${rate:g}/h x {table.hours:g} h ({where})"))
    storage = inputs.get("allocatedStorage")
    kind = str(inputs.get("storageType", "gp3"))
    gb_rate, why = table.rate(f"rds-{kind}-gb", region)
    if gb_rate is None or not isinstance(storage, (int, float)):
        lines.append((UNPRICED, 0.0, 0.0, why or "allocatedStorage unknown"))
    else:
        cost = gb_rate * storage * copies
        lines.append((PRICED, cost, cost, f"{copies} x {storage} GB {kind} ${gb_rate:g}/GB-month"))
    lines.append((USAGE, 0.0, 0.0, "backup storage beyond the allocated size, I/O: by use"))
    return lines


def _node_group(inputs, region, table, ctx):
    scaling = inputs.get("scalingConfig") or {}
    types = inputs.get("instanceTypes") or []
    if not types:
        return [(UNPRICED, 0.0, 0.0, "no instanceTypes")]
    first = types[0]
    rate, why = table.rate(f"ec2:{first}", region)
    if rate is None:
        return [(UNPRICED, 0.0, 0.0, why)]
    low, high = int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0))
    return [
        (
            PRICED,
            rate * table.hours * low,
            rate * table.hours * high,
            f"min-max {low}-{high} x {first} ${rate:g}/h (desired {scaling.get('desiredSize')}); EBS volumes are usage",
        )
    ]


def _peering(inputs, region, table, ctx):
    return _hourly("tgw-attachment", what=" (this side of the peering)")(inputs, region, table, ctx)


def _node_pool(inputs, region, table, ctx):
    limits = (inputs.get("spec") or {}).get("limits") or {}
    return [
        (
            USAGE,
            0.0,
            0.0,
            f"Karpenter capacity launched for pending pods, up to {limits.get('cpu', '?')} vCPU / "
            f"{limits.get('memory', '?')}: by use (a team stack's estimate prices its pods)",
        )
    ]


def _ingress(inputs, region, table, ctx, seen: set[tuple[str, str]]):
    annotations = (inputs.get("metadata") or {}).get("annotations") or {}
    group = annotations.get("alb.ingress.kubernetes.io/group.name")
    if (inputs.get("spec") or {}).get("ingressClassName") != "alb" and not group:
        return [(FREE, 0.0, 0.0, "not an ALB Ingress")]
    if group and ctx.team_stack:
        return [
            (FREE, 0.0, 0.0, f"joins IngressGroup {group}: its ALB is the platform stack's (priced there)")
        ]
    key = (region or "", group or _short(inputs.get("metadata", {}).get("name", "")))
    if group and key in seen:
        return [(FREE, 0.0, 0.0, f"joins IngressGroup {group} (its ALB is counted once)")]
    seen.add(key)
    lines = _hourly("alb", what=f" (ALB of {'IngressGroup ' + group if group else 'this Ingress'})")(
        inputs, region, table, ctx
    )
    return [*lines, (USAGE, 0.0, 0.0, "LCU-hours (connections, bytes, rule evaluations): by use")]


PRICERS: dict[str, Pricer] = {
    "aws:eks/cluster:Cluster": _hourly("eks-cluster", what="; standard support"),
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _hourly("public-ipv4"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": _hourly(
        "tgw-attachment", what="; data processed is usage"
    ),
    "aws:ec2transitgateway/peeringAttachment:PeeringAttachment": _peering,
    "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter": _peering,
    "aws:lb/loadBalancer:LoadBalancer": _hourly("alb", what="; LCU-hours are usage"),
    "aws:kms/key:Key": _monthly("kms-key", "; rotations add $1/month each, requests are usage"),
    "aws:kms/replicaKey:ReplicaKey": _monthly("kms-key", " (replica key)"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:route53/zone:Zone": _monthly("hosted-zone", "; queries are usage"),
    "aws:route53/healthCheck:HealthCheck": _monthly("health-check-aws"),
    "aws:grafana/workspace:Workspace": _monthly("grafana-workspace", " (one editor); more users are usage"),
    "aws:rds/instance:Instance": _rds,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "kubernetes:karpenter.sh/v1:NodePool": _node_pool,
}


def _pod_share(requests: Mapping[str, Any], reference: Mapping[str, Any]) -> float:
    cpu = cpu_millis(str(requests.get("cpu", "0"))) / 1000
    memory = memory_bytes(str(requests.get("memory", "0"))) / _GIB
    gpus = int(str(requests.get("nvidia.com/gpu", "0")))
    shares = [cpu / reference["vcpu"], memory / reference["memory-gib"]]
    if reference.get("gpus"):
        shares.append(gpus / reference["gpus"])
    return max(shares)


def _deployment(state, region, table, ctx):
    inputs = state.get("inputs") or {}
    if not ctx.team_stack:
        return [
            (FREE, 0.0, 0.0, "runs on the platform's nodes (priced as node groups and Karpenter capacity)")
        ]
    metadata = inputs.get("metadata") or {}
    spec = inputs.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    low, high = ctx.scalers.get(
        (state.get("provider", ""), metadata.get("namespace", ""), metadata.get("name", "")),
        (replicas, replicas),
    )
    pod = (spec.get("template") or {}).get("spec") or {}
    requests: dict[str, Any] = {}
    for container in pod.get("containers") or []:
        for key, value in ((container.get("resources") or {}).get("requests") or {}).items():
            requests.setdefault(key, [])
            requests[key].append(value)
    merged = {
        "cpu": f"{sum(cpu_millis(str(v)) for v in requests.get('cpu', ['0'])) / 1000:g}",
        "memory": f"{sum(memory_bytes(str(v)) for v in requests.get('memory', ['0']))}",
        "nvidia.com/gpu": str(sum(int(str(v)) for v in requests.get("nvidia.com/gpu", ["0"]))),
    }
    pool = "gpu" if merged["nvidia.com/gpu"] != "0" else "cpu"
    reference = table.reference[pool]
    rate, why = table.rate(f"ec2:{reference['instance']}", region)
    if rate is None:
        return [(UNPRICED, 0.0, 0.0, f"{why} (the {pool} node pools' reference instance)")]
    share = _pod_share(merged, reference)
    per_pod = share * rate * table.hours
    return [
        (
            PRICED,
            per_pod * low,
            per_pod * high,
            f"{low}-{high} replicas x {share:.3g} of {reference['instance']} ${rate:g}/h "
            f"(requests {merged['cpu']} CPU, {int(merged['memory']) / _GIB:g} GiB, {merged['nvidia.com/gpu']} GPU; "
            f"{pool} node pools, on-demand rate: Spot capacity bills less)",
        )
    ]


def estimate(stack: str, document: Mapping[str, Any], table: PriceTable) -> Estimate:
    """The estimate of one preview document: one or more lines per resource, in the document's order."""
    ctx = _Context(document)
    result = Estimate(stack)
    seen_groups: set[tuple[str, str]] = set()
    for state in ctx.states:
        kind = state["type"]
        region = ctx.region(state)
        inputs = state.get("inputs") or {}
        if kind == "kubernetes:apps/v1:Deployment":
            parts = _deployment(state, region, table, ctx)
        elif kind == "kubernetes:networking.k8s.io/v1:Ingress":
            parts = _ingress(inputs, region, table, ctx, seen_groups)
        elif kind in PRICERS:
            parts = PRICERS[kind](inputs, region, table, ctx)
        elif kind in USAGE_TYPES:
            parts = [(USAGE, 0.0, 0.0, USAGE_TYPES[kind])]
        elif kind.startswith(FREE_PREFIXES):
            parts = [(FREE, 0.0, 0.0, "no charge for the resource itself")]
        else:
            parts = [(UNPRICED, 0.0, 0.0, f"type {kind} is not in the estimator")]
        for part_kind, low, high, detail in parts:
            result.lines.append(
                Line(
                    state["urn"],
                    kind,
                    _short(state["urn"]),
                    ctx.component(state),
                    region,
                    part_kind,
                    round(low, 2),
                    round(high, 2),
                    detail,
                )
            )
    return result


# --- reports ------------------------------------------------------------------------------------------------


def _money(low: float, high: float) -> str:
    return f"${low:,.2f}" if round(low, 2) == round(high, 2) else f"${low:,.2f} - ${high:,.2f}"


def to_json(estimates: Iterable[Estimate], table: PriceTable) -> dict[str, Any]:
    return {
        "prices": {"date": table.date, "source": table.source},
        "stacks": [
            {
                "stack": item.stack,
                "total": {"low": item.low, "high": item.high},
                "components": {
                    name: {"low": lo, "high": hi} for name, (lo, hi) in item.by_component().items()
                },
                "counts": {kind: item.count(kind) for kind in (PRICED, USAGE, FREE, UNPRICED)},
                "lines": [asdict(line) for line in item.lines],
            }
            for item in estimates
        ],
    }


def render_text(estimates: list[Estimate], table: PriceTable) -> str:
    out = [f"prices of {table.date} (mlops/data/prices.json; each rate's source is in the table)"]
    for item in estimates:
        out.append(f"\n{item.stack}: {_money(item.low, item.high)} per month (priced resources)")
        for line in item.lines:
            if line.kind == PRICED:
                out.append(
                    f"  {_money(line.low, line.high):>24}  {line.name} [{line.region or '-'}]: {line.detail}"
                )
        for kind in (USAGE, UNPRICED):
            rows = [line for line in item.lines if line.kind == kind]
            if rows:
                out.append(f"  {kind} ({len(rows)}):")
                out.extend(f"    {line.name} [{line.type}]: {line.detail}" for line in rows)
        out.append("  per component:")
        out.extend(f"    {_money(lo, hi):>24}  {name}" for name, (lo, hi) in item.by_component().items())
        out.append(f"  free: {item.count(FREE)} resources carry no charge themselves")
    return "\n".join(out)


def render_markdown(estimates: list[Estimate], table: PriceTable) -> str:
    out = [f"### Cost estimate (prices of {table.date})", "", "| stack | monthly | usage-priced | unpriced |"]
    out.append("| --- | ---: | ---: | ---: |")
    for item in estimates:
        out.append(
            f"| `{item.stack}` | {_money(item.low, item.high)} | {item.count(USAGE)} | {item.count(UNPRICED)} |"
        )
    for item in estimates:
        out += ["", f"<details><summary>{item.stack}: per component</summary>", ""]
        out += ["| component | monthly |", "| --- | ---: |"]
        out += [f"| `{name}` | {_money(lo, hi)} |" for name, (lo, hi) in item.by_component().items()]
        unpriced = [line for line in item.lines if line.kind == UNPRICED]
        if unpriced:
            out += ["", "Unpriced:", ""] + [f"- `{line.name}`: {line.detail}" for line in unpriced]
        out += ["", "</details>"]
    return "\n".join(out)


def render(estimates: list[Estimate], table: PriceTable, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_json(estimates, table), indent=2, sort_keys=True)
    if fmt == "markdown":
        return render_markdown(estimates, table)
    return render_text(estimates, table)


# --- --compare ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    stack: str
    name: str
    before: tuple[float, float]
    after: tuple[float, float]

    @property
    def delta(self) -> tuple[float, float]:
        return (round(self.after[0] - self.before[0], 2), round(self.after[1] - self.before[1], 2))


def load_base(path: Path) -> dict[str, Any]:
    """A saved `mlops cost --format json` report."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CostError(f"--compare: cannot read {path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("stacks"), list):
        raise CostError(f"--compare: {path} is not an `mlops cost --format json` report (no 'stacks' list)")
    return raw


def compare(base: Mapping[str, Any], estimates: list[Estimate]) -> list[Change]:
    """Per stack the total, and per resource each priced line that changed, appeared or went (by URN + detail
    kind): after minus before."""
    old: dict[str, dict[str, tuple[float, float]]] = {}
    totals: dict[str, tuple[float, float]] = {}
    for stack in base["stacks"]:
        totals[stack["stack"]] = (float(stack["total"]["low"]), float(stack["total"]["high"]))
        per = old.setdefault(stack["stack"], {})
        for line in stack.get("lines", []):
            if line.get("kind") == PRICED:
                low, high = per.get(line["urn"], (0.0, 0.0))
                per[line["urn"]] = (low + float(line["low"]), high + float(line["high"]))
    changes: list[Change] = []
    for item in estimates:
        changes.append(
            Change(item.stack, "(total)", totals.get(item.stack, (0.0, 0.0)), (item.low, item.high))
        )
        new: dict[str, tuple[float, float]] = {}
        for line in item.lines:
            if line.kind == PRICED:
                low, high = new.get(line.urn, (0.0, 0.0))
                new[line.urn] = (low + line.low, high + line.high)
        before = old.get(item.stack, {})
        for urn in sorted(set(before) | set(new)):
            a, b = before.get(urn, (0.0, 0.0)), new.get(urn, (0.0, 0.0))
            if (round(a[0], 2), round(a[1], 2)) != (round(b[0], 2), round(b[1], 2)):
                changes.append(
                    Change(
                        item.stack,
                        _short(urn),
                        (round(a[0], 2), round(a[1], 2)),
                        (round(b[0], 2), round(b[1], 2)),
                    )
                )
    return changes


def _signed(low: float, high: float) -> str:
    def one(value: float) -> str:
        return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"

    return one(low) if low == high else f"{one(low)} / {one(high)}"


def render_diff_markdown(changes: list[Change], table: PriceTable) -> str:
    out = [f"### Cost difference against the base branch (prices of {table.date})", ""]
    out += ["| stack | resource | before | after | difference |", "| --- | --- | ---: | ---: | ---: |"]
    for change in changes:
        out.append(
            f"| `{change.stack}` | {change.name if change.name == '(total)' else '`' + change.name + '`'} | "
            f"{_money(*change.before)} | {_money(*change.after)} | {_signed(*change.delta)} |"
        )
    return "\n".join(out)


def render_diff_text(changes: list[Change], table: PriceTable) -> str:
    return "\n".join(
        f"{change.stack}: {change.name}: {_money(*change.before)} -> {_money(*change.after)} ({_signed(*change.delta)})"
        for change in changes
    )


def render_diff(changes: list[Change], table: PriceTable, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(
            [
                {"stack": c.stack, "resource": c.name, "before": c.before, "after": c.after, "delta": c.delta}
                for c in changes
            ],
            indent=2,
        )
    return render_diff_markdown(changes, table) if fmt == "markdown" else render_diff_text(changes, table)
