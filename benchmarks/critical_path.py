"""The critical path of a stack's first deployment, from the dependency graph of its preview document.

`pulumi up` creates a resource as soon as everything it waits for exists. What it waits for is in the preview
document (`mlops preview STACK --json`) of every step:
  - `dependencies` (explicit `depends_on` and every resource whose output feeds an input; a dependency on a
    component is already expanded by the SDK into the component's resources);
  - `parent`: a child registers only once its parent has registered, and a component registers once its own
    dependencies exist (so `depends_on` on a component delays all of its children);
  - `provider`: a resource waits for its provider (a Kubernetes provider waits for the cluster it talks to).
Each custom resource then takes its typical create time from the table below (minutes). The weighted longest
chain is the earliest moment the last resource can exist: the first deployment's wall time if nothing is
rate-limited. The "unavoidable" chain is what any platform with a serving cluster must wait for, one after the
other: the network (VPC, then a subnet), the EKS control plane, the pod network add-on (vpc-cni, without which
nodes never become Ready), the first node group, a managed add-on that runs on those nodes (CoreDNS), and the
first in-cluster controller (a Helm release). The target is a longest
chain of at most 1.2x the unavoidable chain.

Usage:
  .venv/bin/python benchmarks/critical_path.py prod                 # synthesise, then report
  .venv/bin/python benchmarks/critical_path.py --from prod.json     # a saved `mlops preview --json`
  .venv/bin/python benchmarks/critical_path.py prod --json          # the figures as JSON
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.2

EKS_TIMES = "https://easontechtalk.com/unofficial-eks-cluster-creation-performance-across-aws-regions"
SCRAPER_TIMES = "https://alchemy.run/providers/aws/amp/scraper"
ESTIMATE = "estimate"

# type token -> (typical create minutes, source). "estimate" marks a figure without a published measurement.
# A type not listed is an API call that returns at once (IAM, tags, policies, Kubernetes objects without a
# readiness wait): DEFAULT_MINUTES.
CREATE_MINUTES: dict[str, tuple[float, str]] = {
    "aws:eks/cluster:Cluster": (15.0, EKS_TIMES),  # measured 13-16 min in 21 regions (us-east-2 15:05)
    "aws:eks/nodeGroup:NodeGroup": (4.0, ESTIMATE),  # instances launch, join and report Ready
    "aws:eks/addon:Addon": (1.5, ESTIMATE),  # ACTIVE once its pods are ready
    "aws:rds/instance:Instance": (14.0, ESTIMATE),  # Multi-AZ; single-AZ below
    "aws:ec2/natGateway:NatGateway": (2.0, ESTIMATE),
    "aws:ec2/vpcEndpoint:VpcEndpoint": (2.0, ESTIMATE),  # interface endpoints; gateway endpoints below
    "aws:ec2transitgateway/transitGateway:TransitGateway": (4.0, ESTIMATE),
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": (3.0, ESTIMATE),
    "aws:ec2transitgateway/peeringAttachment:PeeringAttachment": (3.0, ESTIMATE),
    "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter": (1.0, ESTIMATE),
    "aws:amp/scraper:Scraper": (8.0, SCRAPER_TIMES),  # "expect several minutes to reach ACTIVE"
    "aws:amp/workspace:Workspace": (1.0, ESTIMATE),
    "aws:grafana/workspace:Workspace": (6.0, ESTIMATE),
    "aws:route53/zone:Zone": (1.0, ESTIMATE),  # waits for INSYNC
    "aws:route53/record:Record": (1.0, ESTIMATE),  # waits for INSYNC
    "aws:cloudtrail/trail:Trail": (0.5, ESTIMATE),
    "aws:kms/replicaKey:ReplicaKey": (0.5, ESTIMATE),
    "aws:ec2/vpc:Vpc": (0.25, ESTIMATE),
    "aws:ec2/subnet:Subnet": (0.1, ESTIMATE),
    "kubernetes:helm.sh/v3:Release": (2.0, ESTIMATE),  # atomic: waits until the release's pods are ready
    "kubernetes:apps/v1:Deployment": (3.0, ESTIMATE),  # Karpenter launches a node, the image is pulled
    "kubernetes:networking.k8s.io/v1:Ingress": (1.0, ESTIMATE),  # until the controller reports the ALB
}
DEFAULT_MINUTES = 0.05
SINGLE_AZ_DATABASE_MINUTES = 8.0
GATEWAY_ENDPOINT_MINUTES = 0.3

UNAVOIDABLE_STAGES = (
    ("network: VPC", "aws:ec2/vpc:Vpc"),
    ("network: subnet", "aws:ec2/subnet:Subnet"),
    ("EKS control plane", "aws:eks/cluster:Cluster"),
    ("pod network add-on (vpc-cni): nodes are not Ready without it", "aws:eks/addon:Addon"),
    ("nodes", "aws:eks/nodeGroup:NodeGroup"),
    ("managed add-on on the nodes (CoreDNS)", "aws:eks/addon:Addon"),
    ("first in-cluster controller", "kubernetes:helm.sh/v3:Release"),
)


def create_minutes(state: Mapping[str, Any]) -> float:
    """Typical create time of one resource (components and providers take none of their own)."""
    kind = state["type"]
    if not state.get("custom", True) or kind.startswith("pulumi:providers:"):
        return 0.0
    inputs = state.get("inputs") or {}
    if kind == "aws:rds/instance:Instance" and not inputs.get("multiAz"):
        return SINGLE_AZ_DATABASE_MINUTES
    if kind == "aws:ec2/vpcEndpoint:VpcEndpoint" and inputs.get("vpcEndpointType") == "Gateway":
        return GATEWAY_ENDPOINT_MINUTES
    return CREATE_MINUTES.get(kind, (DEFAULT_MINUTES, ""))[0]


@dataclass(frozen=True)
class Timing:
    urn: str
    type: str
    start: float
    finish: float
    after: str | None  # the URN whose completion this resource waited for last (None: nothing)


def _provider_urn(reference: str) -> str:
    # A provider reference is "<urn>::<id>".
    return reference.rsplit("::", 1)[0] if reference else ""


def schedule(
    document: Mapping[str, Any], minutes: Callable[[Mapping[str, Any]], float] = create_minutes
) -> dict[str, Timing]:
    """Earliest start and finish (minutes from `pulumi up`) of every resource of a preview document."""
    states = {step["newState"]["urn"]: step["newState"] for step in document["steps"]}
    timings: dict[str, Timing] = {}

    def waits_for(state: Mapping[str, Any]) -> list[tuple[float, str]]:
        # A component's children wait for its registration (its start); other resources for completion.
        found = [(timing(dep).finish, dep) for dep in state.get("dependencies", []) if dep in states]
        provider = _provider_urn(state.get("provider") or "")
        if provider in states:
            found.append((timing(provider).finish, provider))
        parent = state.get("parent") or ""
        if parent in states:
            found.append(
                (
                    timing(parent).start if not states[parent].get("custom", True) else timing(parent).finish,
                    parent,
                )
            )
        return found

    def timing(urn: str) -> Timing:
        if urn in timings:
            return timings[urn]
        state = states[urn]
        before = waits_for(state)
        start, after = max(before) if before else (0.0, None)
        timings[urn] = Timing(urn, state["type"], start, start + minutes(state), after)
        return timings[urn]

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(states) + 1000))
    for urn in states:
        timing(urn)
    return timings


def critical_path(timings: Mapping[str, Timing]) -> list[Timing]:
    """The chain of resources ending at the latest finish, first resource first (only resources that take time)."""
    if not timings:
        return []
    current: Timing | None = max(timings.values(), key=lambda t: (t.finish, t.urn))
    chain: list[Timing] = []
    while current is not None:
        if current.finish > current.start:
            chain.append(current)
        current = timings.get(current.after) if current.after else None
    return list(reversed(chain))


def unavoidable_minutes(document: Mapping[str, Any]) -> float | None:
    """The unavoidable chain of a stack with an EKS cluster (None without one): the stages' create times in a row."""
    present = {step["newState"]["type"] for step in document["steps"]}
    if "aws:eks/cluster:Cluster" not in present:
        return None
    return sum(CREATE_MINUTES[kind][0] for _, kind in UNAVOIDABLE_STAGES if kind in present)


def report(document: Mapping[str, Any]) -> dict[str, Any]:
    timings = schedule(document)
    chain = critical_path(timings)
    longest = chain[-1].finish if chain else 0.0
    unavoidable = unavoidable_minutes(document)
    return {
        "stack": document.get("stack"),
        "resources": len(document["steps"]),
        "longest_minutes": round(longest, 2),
        "unavoidable_minutes": unavoidable,
        "ratio": round(longest / unavoidable, 3) if unavoidable else None,
        "target_ratio": TARGET_RATIO,
        "chain": [
            {
                "name": t.urn.rsplit("::", 1)[-1],
                "type": t.type,
                "start": round(t.start, 2),
                "finish": round(t.finish, 2),
            }
            for t in chain
        ],
    }


def render(result: Mapping[str, Any]) -> str:
    lines = [f"{'start':>6} {'finish':>6}  resource"]
    for link in result["chain"]:
        lines.append(f"{link['start']:6.2f} {link['finish']:6.2f}  {link['name']} ({link['type']})")
    lines.append(f"longest chain: {result['longest_minutes']:.2f} min over {result['resources']} resources")
    if result["unavoidable_minutes"] is not None:
        verdict = "meets" if result["ratio"] <= TARGET_RATIO else "misses"
        lines.append(
            f"unavoidable chain: {result['unavoidable_minutes']:.2f} min; ratio {result['ratio']:.2f} "
            f"({verdict} the {TARGET_RATIO}x target)"
        )
    return "\n".join(lines)


def load(stack: str | None, from_file: Path | None) -> dict[str, Any]:
    if from_file is not None:
        return json.loads(from_file.read_text(encoding="utf-8"))
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "preview", str(stack), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr.strip() or f"mlops preview {stack} failed")
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack", nargs="?", help="stack to synthesise (or give --from)")
    parser.add_argument("--from", dest="from_file", type=Path, help="a saved `mlops preview --json` document")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if (args.stack is None) == (args.from_file is None):
        parser.error("give a stack or --from FILE")
    result = report(load(args.stack, args.from_file))
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
