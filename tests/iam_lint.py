"""Every IAM-language document of a preview, linted with parliament (duo-labs), with a reviewed allow-list.

A document is any resource input that holds IAM policy language. The walk is generic (every string input that
parses as a policy with a ``Statement``), and ``KINDS`` says what each one is: exactly the (resource type,
property) pairs the stacks carry today -- role trust policies, role policies, managed policies, permission-set
inline policies, KMS key and replica key policies, bucket, topic, queue and VPC endpoint policies; a test checks that each
one occurs. A resource type or property carrying a policy that ``KINDS`` does not know (an ECR repository
policy, a role's inline_policies) is still linted, and a test fails until it is classified.

Two classes of parliament findings are noise by rule and filtered here, not allow-listed: MALFORMED on trust
policies (parliament wants a ``Resource`` element, which trust policies never have) and RESOURCE_STAR in key
policies (a key policy's ``Resource`` is always ``"*"``, meaning the key itself). Everything else must be fixed
or appear in ``tests/iam_allowlist.yaml``.

Run ``python -m tests.iam_lint [STACK ...]`` from the repository root for the per-stack counts (it
synthesises the stacks itself; no test session needed).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

with warnings.catch_warnings():
    # parliament 1.6 still imports pkg_resources, which warns about its own deprecation.
    warnings.simplefilter("ignore")
    import parliament
    from parliament import analyze_policy_string
    from parliament.statement import GLOBAL_CONDITION_KEYS

REPO = Path(__file__).resolve().parent.parent
STACKS = REPO / "stacks"
FIXTURES = REPO / "tests" / "fixtures" / "stacks"
ALLOWLIST = REPO / "tests" / "iam_allowlist.yaml"

SHIPPED = tuple(sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml")))


@dataclass(frozen=True)
class Case:
    """One preview to lint: a stack file and the program that runs it (None: stacks/__main__.py)."""

    label: str
    stack: str
    stacks_dir: Path
    program: Path | None = None


def _program(name: str) -> Path:
    return REPO / "tests" / "fixtures" / name / "__main__.py"


# Every shipped stack, and every fixture stack with the program its tests run it under.
CASES: tuple[Case, ...] = (
    *(Case(stack, stack, STACKS) for stack in SHIPPED),
    Case("airgapped", "airgapped", FIXTURES),
    Case("platform-byo", "platform-byo", FIXTURES),
    Case("private-network", "private-network", FIXTURES),
    Case("team-ledger-prod", "team-ledger-prod", FIXTURES),
    *(
        Case(s, s, FIXTURES, _program("cluster_program"))
        for s in ("cluster-dev", "cluster-prod", "cluster-byo")
    ),
    *(Case(s, s, FIXTURES, _program("observe_program")) for s in ("observe-prod", "observe-latency")),
    Case("insecure", "insecure", FIXTURES, _program("insecure")),
    Case("team-program", "team-fraud-prod", STACKS, _program("team_program")),
)

# (resource type, input property) -> kind of document. Properties are paths: `inlinePolicies[].policy`.
KINDS: dict[tuple[str, str], str] = {
    ("aws:iam/role:Role", "assumeRolePolicy"): "trust",
    ("aws:iam/rolePolicy:RolePolicy", "policy"): "identity",
    ("aws:iam/policy:Policy", "policy"): "identity",
    ("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy", "inlinePolicy"): "identity",
    ("aws:kms/key:Key", "policy"): "key",
    ("aws:kms/replicaKey:ReplicaKey", "policy"): "key",
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"): "resource",
    ("aws:sns/topicPolicy:TopicPolicy", "policy"): "resource",
    ("aws:sqs/queuePolicy:QueuePolicy", "policy"): "resource",
    ("aws:cloudwatch/logResourcePolicy:LogResourcePolicy", "policyDocument"): "resource",
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "policy"): "resource",
}


@dataclass(frozen=True)
class Document:
    resource: str  # the resource's name (last URN segment)
    type: str
    property: str
    kind: str | None  # None: a policy in a property KINDS does not know yet
    policy: dict[str, Any]


def _policy(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str) or '"Statement"' not in value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and "Statement" in parsed else None


def _walk(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    policy = _policy(value)
    if policy is not None:
        yield path, policy
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[]")


def documents(preview: dict[str, Any]) -> list[Document]:
    """Every IAM-language document among the inputs of every resource in a preview document."""
    found = []
    for step in preview["steps"]:
        state = step["newState"]
        name = state["urn"].rsplit("::", 1)[-1]
        for path, policy in _walk(state.get("inputs") or {}, ""):
            found.append(Document(name, state["type"], path, KINDS.get((state["type"], path)), policy))
    return found


# -- parliament -----------------------------------------------------------------------------------------

NOISE = {("trust", "MALFORMED"), ("key", "RESOURCE_STAR")}


@dataclass(frozen=True, order=True)
class Finding:
    resource: str
    issue: str
    detail: str


LONG_DETAIL = 12


def _detail(detail: Any) -> str:
    """A finding's detail as one stable, exact line: RESOURCE_MISMATCH lists become `action needs type, ...`;
    other lists are every item, sorted (an allow-list entry covers exactly the finding it was reviewed for)."""
    if isinstance(detail, list) and all(isinstance(item, dict) and "action" in item for item in detail):
        needs: dict[str, set[str]] = {}
        for item in detail:
            kind = item["required_format"].rsplit(":", 1)[-1].split("/", 1)[0] or "*"
            needs.setdefault(item["action"], set()).add(kind)
        return "; ".join(
            f"{action} needs {', '.join(sorted(kinds))}" for action, kinds in sorted(needs.items())
        )
    if isinstance(detail, list) and len(detail) > LONG_DETAIL:
        # Too long to read in one line (a boundary's service:* on "*" expands to every action): the services,
        # the count and a digest of the sorted list, so the entry still matches exactly this list and no other.
        items = sorted(str(item) for item in detail)
        services = sorted({item.split(":", 1)[0] for item in items})
        digest = hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]
        return f"{len(items)} actions of {', '.join(services)}; sha256 {digest}"
    if isinstance(detail, list):
        return ", ".join(sorted(str(item) for item in detail))
    return str(detail) if detail is not None else ""


def parliament_findings(document: Document) -> list[Finding]:
    """parliament's findings on one document, without the two noise classes."""
    policy = analyze_policy_string(json.dumps(document.policy))
    return sorted(
        {
            Finding(document.resource, finding.issue, _detail(finding.detail))
            for finding in policy.findings
            if (document.kind, finding.issue) not in NOISE
        }
    )


@dataclass(frozen=True)
class Allowed:
    resource: str
    issue: str
    detail: str
    reason: str

    @property
    def finding(self) -> Finding:
        return Finding(self.resource, self.issue, self.detail)


def load_allowlist(path: Path = ALLOWLIST) -> list[Allowed]:
    """The reviewed allow-list: one entry per (resource, finding, detail), each with a one-line reason."""
    entries = yaml.safe_load(path.read_text()) or []
    allowed = []
    for index, entry in enumerate(entries):
        missing = {"resource", "issue", "detail", "reason"} - set(entry)
        if missing or not str(entry.get("reason", "")).strip():
            raise ValueError(
                f"{path.name}[{index}]: needs resource, issue, detail and a reason ({sorted(missing)})"
            )
        allowed.append(
            Allowed(entry["resource"], entry["issue"], str(entry["detail"]), entry["reason"].strip())
        )
    return allowed


# -- the project's own checks over every document, from parliament's service definitions ------------------

ARN_OPERATORS = ("arnequals", "arnlike", "arnnotequals", "arnnotlike")


def _service_condition_types() -> dict[str, str]:
    """Condition key -> type over every service definition. parliament ships several definitions of some
    services (two of IAM, three of Elastic Load Balancing) that can disagree on a key's type (iam:PermissionsBoundary
    is ARN in one, String in the other): ARN wins, so an ARN key never passes with a String operator."""
    types: dict[str, str] = {}
    for service in parliament.iam_definition:
        for condition in service["conditions"]:
            key = condition["condition"].lower()
            if types.get(key, "").lower() != "arn":
                types[key] = condition["type"]
    return types


_SERVICE_TYPES = _service_condition_types()


def condition_key_type(key: str) -> str | None:
    """A condition key's documented type (``ARN``, ``String``, ...) from parliament's IAM definitions."""
    lowered = key.lower()
    if lowered in _SERVICE_TYPES:
        return _SERVICE_TYPES[lowered]
    for pattern, kind in _SERVICE_TYPES.items():
        # Templated keys: kms:EncryptionContext:${EncryptionContextKey}, aws:ResourceTag/${TagKey}.
        if "${" in pattern and lowered.startswith(pattern.split("${", 1)[0]):
            return kind
    for pattern, kind in GLOBAL_CONDITION_KEYS.items():
        if lowered == pattern.lower() or (
            "*" in pattern and lowered.startswith(pattern.split("*")[0].lower())
        ):
            return kind
    return None


def base_operator(operator: str) -> str:
    """``ForAnyValue:StringLikeIfExists`` -> ``stringlike``."""
    lowered = operator.lower().split(":", 1)[-1]
    return lowered.removesuffix("ifexists")


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy.get("Statement", [])
    return found if isinstance(found, list) else [found]


def conditions(statement: dict[str, Any]) -> Iterator[tuple[str, str, list[Any]]]:
    """(operator, key, values) of every condition of a statement."""
    for operator, block in (statement.get("Condition") or {}).items():
        for key, values in block.items():
            yield operator, key, values if isinstance(values, list) else [values]


def actions(statement: dict[str, Any]) -> list[str]:
    found = statement.get("Action", [])
    return found if isinstance(found, list) else [found]


def check_documents(docs: list[Document], rule: Callable[[dict[str, Any]], list[str]]) -> list[str]:
    """``resource property Sid: problem`` for every statement of every document that breaks ``rule``."""
    problems = []
    for document in docs:
        for index, statement in enumerate(statements(document.policy)):
            for problem in rule(statement):
                sid = statement.get("Sid", f"#{index}")
                problems.append(f"{document.resource} {document.property} {sid}: {problem}")
    return problems


WILDCARD = re.compile(r"[*?]")


# -- counting, for the record -----------------------------------------------------------------------------


def count(preview: dict[str, Any], allowed: list[Allowed] | None = None) -> tuple[int, Counter, int]:
    """(documents, findings by issue, findings not allow-listed) of one preview."""
    allowed_findings = {entry.finding for entry in (allowed or [])}
    docs = documents(preview)
    by_issue: Counter = Counter()
    open_findings = 0
    for document in docs:
        for finding in parliament_findings(document):
            by_issue[finding.issue] += 1
            open_findings += finding not in allowed_findings
    return len(docs), by_issue, open_findings


def synthesize(case: Case) -> dict[str, Any]:
    import subprocess

    if case.program is None:
        command = [
            sys.executable,
            "-m",
            "mlops",
            "preview",
            case.stack,
            "--json",
            "--stacks-dir",
            str(case.stacks_dir),
        ]
    else:
        command = [sys.executable, "-m", "mlops.synth", case.stack, str(case.stacks_dir), str(case.program)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(result.stdout)


def main(argv: list[str]) -> int:
    """Print documents and parliament findings (by issue; open = not allow-listed) per stack."""
    wanted = argv or list(SHIPPED)
    allowed = load_allowlist() if ALLOWLIST.exists() else []
    cases = [case for case in CASES if case.label in wanted]
    for case in cases:
        docs, by_issue, open_findings = count(synthesize(case), allowed)
        issues = ", ".join(f"{issue} {n}" for issue, n in sorted(by_issue.items())) or "none"
        print(
            f"{case.label}: {docs} documents, {sum(by_issue.values())} findings ({issues}), {open_findings} open"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
