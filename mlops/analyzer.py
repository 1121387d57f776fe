"""Drive the policy pack over the Analyzer gRPC protocol, exactly as the Pulumi engine does.

The pack runs as its own process, started the way the engine's Python analyzer plugin starts it
(`python -m pulumi.policy <engine> <pack dir>`, which prints the port it serves on). This client then sends
GetAnalyzerInfo, Configure (the environment's enforcement levels and properties), Analyze per resource and
AnalyzeStack, built from a preview document, and collects the diagnostics. The same verdicts are available
in-process (`analyze_in_process`) for tests that compare the two paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Not imported from mlops.synth: this module stays light, so that the pack can be launched before the command
# line's own imports (mlops/__main__.py).
REPO_ROOT = Path(__file__).resolve().parent.parent
POLICY_DIR = REPO_ROOT / "policies"
LEVEL_NAMES = {0: "advisory", 1: "mandatory", 2: "remediate", 3: "disabled"}
# Requests the client keeps in flight: the engine also analyzes resources concurrently, and the pack's server
# answers on a small thread pool, so serialising the next request overlaps with analyzing the last.
IN_FLIGHT = 8
SEVERITY_NAMES = {0: "unspecified", 1: "low", 2: "medium", 3: "high", 4: "critical"}


@dataclass(frozen=True, order=True)
class Violation:
    policy: str
    enforcement: str
    urn: str
    message: str
    severity: str = "unspecified"

    @property
    def mandatory(self) -> bool:
        return self.enforcement == "mandatory"


def _struct(values: dict[str, Any]):
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update(values)
    return struct


def configure_request(config: dict[str, dict[str, Any]]):
    """The Configure request carrying each policy's enforcement level and properties (e.g. the environment)."""
    from pulumi.runtime.proto import analyzer_pb2

    levels = {name: number for number, name in LEVEL_NAMES.items()}
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for policy, entry in config.items():
        properties = {key: value for key, value in entry.items() if key != "enforcementLevel"}
        request.policyConfig[policy].CopyFrom(
            analyzer_pb2.PolicyConfig(
                enforcementLevel=levels[entry["enforcementLevel"]], properties=_struct(properties)
            )
        )
    return request


def analyzable(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The custom resources of a preview document (providers included, as the engine sends them)."""
    return [step["newState"] for step in document["steps"] if step["newState"]["custom"]]


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _options(state: dict[str, Any]):
    from pulumi.runtime.proto import analyzer_pb2

    timeouts = state.get("customTimeouts") or {}
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(state.get("protect")),
        ignoreChanges=list(state.get("ignoreChanges") or []),
        deleteBeforeReplace=bool(state.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined=bool(state.get("deleteBeforeReplace")),
        additionalSecretOutputs=list(state.get("additionalSecretOutputs") or []),
        aliases=[alias for alias in state.get("aliases") or [] if isinstance(alias, str)],
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts(
            create=_seconds(timeouts.get("create")),
            update=_seconds(timeouts.get("update")),
            delete=_seconds(timeouts.get("delete")),
        ),
        parent=state.get("parent") or "",
    )


def _seconds(text: str | None) -> float:
    if not text:
        return 0.0
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def _provider(state: dict[str, Any], by_urn: dict[str, dict[str, Any]]):
    from pulumi.runtime.proto import analyzer_pb2

    reference = state.get("provider") or ""
    provider = by_urn.get(reference.rsplit("::", 1)[0]) if reference else None
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider["type"],
        properties=_struct(provider["inputs"]),
        urn=provider["urn"],
        name=_name(provider["urn"]),
    )


def analyze_requests(document: dict[str, Any]):
    """(AnalyzeRequest per resource, AnalyzeStackRequest) for a preview document."""
    from pulumi.runtime.proto import analyzer_pb2

    states = analyzable(document)
    by_urn = {state["urn"]: state for state in states}
    singles, stack = [], []
    for state in states:
        common = {
            "type": state["type"],
            "properties": _struct(state["inputs"]),
            "urn": state["urn"],
            "name": _name(state["urn"]),
            "options": _options(state),
        }
        provider = _provider(state, by_urn)
        if provider is not None:
            common["provider"] = provider
        singles.append(analyzer_pb2.AnalyzeRequest(**common))
        resource = analyzer_pb2.AnalyzerResource(
            **common,
            parent=state.get("parent") or "",
            dependencies=list(state.get("dependencies") or []),
        )
        for key, urns in (state.get("propertyDependencies") or {}).items():
            resource.propertyDependencies[key].urns.extend(urns)
        stack.append(resource)
    return singles, analyzer_pb2.AnalyzeStackRequest(resources=stack)


class PolicyPackProcess:
    """The policy pack served in a subprocess, and a gRPC Analyzer client talking to it."""

    def __init__(
        self,
        policy_dir: Path = POLICY_DIR,
        stack: str = "check",
        project: str = "mlops-platform",
        env: dict[str, str] | None = None,
    ):
        self.policy_dir = policy_dir
        self.extra_env = dict(env or {})
        self.stack = stack
        self.project = project
        self.process: subprocess.Popen | None = None
        self.channel = None
        self.stub = None

    def start(self) -> PolicyPackProcess:
        """Launch the pack's process without waiting for it: its start-up (importing the policy SDK and the
        pack) then overlaps with whatever the caller does next; ``__enter__`` connects."""
        if self.process is not None:
            return self
        env = {
            **os.environ,
            "PULUMI_PROJECT": self.project,
            "PULUMI_STACK": self.stack,
            "PULUMI_DRY_RUN": "true",
            **self.extra_env,
        }
        # The engine's Python analyzer plugin runs `python -m pulumi.policy <engine address> <pack dir>` in the
        # pack's folder with the pack's virtualenv; `policies` imports from that environment (the project is
        # installed there), not from a path added here, so a pack that would fail to import live fails here too.
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(self.policy_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=self.policy_dir,
        )
        return self

    def __enter__(self) -> PolicyPackProcess:
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        self.start()
        assert self.process is not None and self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.isdigit():
            error = self.process.stderr.read().decode() if self.process.poll() is not None else ""
            self.close()
            raise RuntimeError(f"the policy pack did not start: {line or error.strip()[-500:]}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        for stream in (self.process.stdout, self.process.stderr) if self.process else ():
            if stream is not None:
                stream.close()

    def info(self):
        from google.protobuf import empty_pb2

        return self.stub.GetAnalyzerInfo(empty_pb2.Empty())

    def configure(self, config: dict[str, dict[str, Any]]) -> None:
        self.stub.Configure(configure_request(config))

    def analyze(
        self,
        document: dict[str, Any],
        in_flight: int = IN_FLIGHT,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Violation]:
        """Analyze per resource, then AnalyzeStack; like the engine, several resources are in flight at once.
        ``progress(done, total)`` follows the resources analysed (the stack's AnalyzeStack is the last one)."""
        from collections import deque

        singles, stack = analyze_requests(document)
        total = len(singles) + 1
        found: list[Violation] = []
        pending: deque = deque()
        for done, request in enumerate(singles, start=2 - in_flight):  # done: answers received
            pending.append((self.stub.Analyze.future(request), request.urn))
            if len(pending) >= in_flight:
                future, urn = pending.popleft()
                found += _violations(future.result(), urn)
                if progress is not None and done % 10 == 0:
                    progress(done, total)
        for future, urn in pending:
            found += _violations(future.result(), urn)
        found += _violations(self.stub.AnalyzeStack(stack), "")
        if progress is not None:
            progress(total, total)
        return sorted(set(found))


def _violations(response, default_urn: str) -> Iterable[Violation]:
    for diagnostic in response.diagnostics:
        yield Violation(
            policy=diagnostic.policyName,
            enforcement=LEVEL_NAMES.get(diagnostic.enforcementLevel, "advisory"),
            urn=diagnostic.urn or default_urn,
            message=diagnostic.message,
            severity=SEVERITY_NAMES.get(diagnostic.severity, "unspecified"),
        )


def analyze_in_process(document: dict[str, Any], config: dict[str, dict[str, Any]]) -> list[Violation]:
    """The same verdicts computed by calling each policy's validate function directly."""
    from pulumi_policy import (
        PolicyCustomTimeouts,
        PolicyProviderResource,
        PolicyResource,
        PolicyResourceOptions,
        ResourceValidationArgs,
        ResourceValidationPolicy,
        StackValidationArgs,
        StackValidationPolicy,
    )
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    from policies.pack import all_policies

    states = analyzable(document)
    by_urn = {state["urn"]: state for state in states}

    def props(state):
        return unknown_checking_proxy(deserialize_properties(state["inputs"]))

    def options(state):
        return PolicyResourceOptions(
            bool(state.get("protect")),
            list(state.get("ignoreChanges") or []),
            bool(state.get("deleteBeforeReplace")) if state.get("deleteBeforeReplace") else None,
            [a for a in state.get("aliases") or [] if isinstance(a, str)],
            PolicyCustomTimeouts(0, 0, 0),
            list(state.get("additionalSecretOutputs") or []),
            state.get("parent") or None,
        )

    def provider(state):
        reference = state.get("provider") or ""
        found = by_urn.get(reference.rsplit("::", 1)[0]) if reference else None
        return (
            PolicyProviderResource(found["type"], props(found), found["urn"], _name(found["urn"]))
            if found
            else None
        )

    violations: list[Violation] = []
    for policy in all_policies():
        entry = config.get(policy.name, {"enforcementLevel": "mandatory"})
        level = entry["enforcementLevel"]
        if level == "disabled":
            continue
        level = "mandatory" if level == "remediate" else level
        settings = {key: value for key, value in entry.items() if key != "enforcementLevel"}
        severity = policy.severity.value if policy.severity else "unspecified"

        def reporter(urn_default: str, policy=policy, level=level, severity=severity):
            def report(message: str, urn: str | None = None) -> None:
                text = policy.description + (f"\n{message}" if message else "")
                violations.append(Violation(policy.name, level, urn or urn_default, text, severity))

            return report

        if isinstance(policy, ResourceValidationPolicy):
            for state in states:
                args = ResourceValidationArgs(
                    state["type"],
                    props(state),
                    state["urn"],
                    _name(state["urn"]),
                    options(state),
                    provider(state),
                    settings or None,
                    {},
                )
                policy.validate(args, reporter(state["urn"]))
        elif isinstance(policy, StackValidationPolicy):
            resources = {
                state["urn"]: PolicyResource(
                    state["type"],
                    props(state),
                    state["urn"],
                    _name(state["urn"]),
                    options(state),
                    provider(state),
                    None,
                    [],
                    {},
                )
                for state in states
            }
            for state in states:
                resource = resources[state["urn"]]
                resource.parent = resources.get(state.get("parent") or "")
                resource.dependencies = [
                    resources[d] for d in state.get("dependencies") or [] if d in resources
                ]
                resource.property_dependencies = {
                    key: [resources[d] for d in urns if d in resources]
                    for key, urns in (state.get("propertyDependencies") or {}).items()
                }
            policy.validate(StackValidationArgs(list(resources.values()), settings or None, {}), reporter(""))
    return sorted(set(violations))


_early: list[PolicyPackProcess] = []


def start_early() -> None:
    """Launch the default pack's process now, before the command line's imports, for a command that will
    check (``mlops check``): its start-up then runs beside the parent's. ``pack()`` hands it over; an early
    process nobody took (the command failed first) is stopped at exit."""
    import atexit

    if not _early:
        _early.append(PolicyPackProcess().start())
        atexit.register(lambda: [process.close() for process in _early])


def pack() -> PolicyPackProcess:
    """The early-started default pack if there is one, else a new one (not started)."""
    return _early.pop() if _early else PolicyPackProcess()
