"""Drive the policy pack over the Analyzer protocol, exactly as the Pulumi engine does.

`PolicyPackProcess` starts the pack the way the engine's Python analyzer plugin starts it
(`python -m pulumi.policy <engine> <pack dir>`, which runs policies/__main__.py: ``PolicyPack(...)``), reads the
port the pack prints on stdout, and talks to it over gRPC with the generated stubs of the Pulumi SDK
(``pulumi.runtime.proto.analyzer_pb2`` / ``analyzer_pb2_grpc``): GetAnalyzerInfo, Configure (the environment's
enforcement levels and properties), Analyze per resource and AnalyzeStack, built from a preview document. The
diagnostics become `Violation`s. There is no other way to run the pack: what `mlops check` reports is what the
engine would get from the same program.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.base import REPO_ROOT, end_with_parent, interrupts_deferred, unblock_interrupts

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
    """The policy pack in its own process, and a gRPC Analyzer client talking to it."""

    def __init__(self, policy_dir: Path = POLICY_DIR):
        self.policy_dir = policy_dir
        self.process: subprocess.Popen | None = None
        self.channel = self.stub = None
        self.errors = None

    def start(self) -> PolicyPackProcess:
        """Launch the pack's process without waiting for it: its start-up (importing the policy SDK and the
        pack) then overlaps with whatever the caller does next; ``__enter__`` connects."""
        if self.process is not None:
            return self
        # What the engine sets for an analyzer plugin (the SDK's servicer configures the runtime from it).
        env = {
            **os.environ,
            "PULUMI_PROJECT": "mlops-platform",
            "PULUMI_STACK": "check",
            "PULUMI_DRY_RUN": "true",
        }
        # As the engine's Python analyzer plugin: `python -m pulumi.policy <engine> <pack dir>` in the pack's folder
        # with its virtualenv (where the project is installed): a pack failing to import live fails here too.
        # Its stderr goes to a file, read only if it fails to start: a pipe nobody reads would stall a pack that
        # writes much (warnings) once the pipe's buffer is full.
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close(), with the process
        parent = os.getpid()

        def in_child() -> None:
            end_with_parent(parent)
            unblock_interrupts()

        with interrupts_deferred():
            self.process = subprocess.Popen(
                [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(self.policy_dir)],
                stdout=subprocess.PIPE,
                stderr=self.errors,
                env=env,
                cwd=self.policy_dir,
                preexec_fn=in_child,
            )
        return self

    def __enter__(self) -> PolicyPackProcess:
        return self.connect()

    def connect(self) -> PolicyPackProcess:
        """Read the pack's port and open the channel (once). Call it after any fork of this process: gRPC's
        threads must not run across a fork (mlops/forked.py's workers are forked before the first document)."""
        if self.stub is not None:
            return self
        self.start()
        assert self.process is not None and self.process.stdout is not None
        try:  # the pack's handshake: it prints the port it serves on
            import grpc
            from pulumi.runtime.proto import analyzer_pb2_grpc

            line = self.process.stdout.readline().decode().strip()
            if not line.isdigit():
                self.errors.seek(0)
                error = self.errors.read().decode(errors="replace") if self.process.poll() is not None else ""
                raise RuntimeError(f"the policy pack did not start: {line or error.strip()[-500:]}")
            self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
            grpc.channel_ready_future(self.channel).result(timeout=30)
            self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        except BaseException:  # Ctrl-C included: `with` calls no __exit__ when __enter__ fails
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the pack's process and wait for it (also after Ctrl-C: nothing is left behind)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.errors):
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
        """Analyze per resource, then AnalyzeStack; like the engine, several resources in flight at once (the
        pack's server answers on a small thread pool, so serialising the next request overlaps with analyzing
        the last). ``progress(done, total)`` follows the resources analysed (AnalyzeStack is the last one)."""
        from collections import deque

        singles, stack = analyze_requests(document)
        total = len(singles) + 1
        found: list[Violation] = []
        pending: deque = deque()
        done = 0

        def collect() -> None:
            nonlocal done, found
            request, future = pending.popleft()
            found += _violations(future.result(), request.urn)
            done += 1
            if progress is not None and done % 10 == 0:
                progress(done, total)

        for request in singles:
            pending.append((request, self.stub.Analyze.future(request)))
            if len(pending) >= in_flight:
                collect()
        while pending:
            collect()
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
