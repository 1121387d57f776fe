"""Drive the policy pack over the Analyzer protocol, exactly as the Pulumi engine does.

Two ways to serve the pack, with the same requests and the same verdicts:

* `PackInProcess` (what `mlops check` uses): the policy SDK's own analyzer servicer for the pack, built from
  the arguments policies/__main__.py gives `PolicyPack`, in this process; its GetAnalyzerInfo, Configure,
  Analyze and AnalyzeStack methods are called with the protocol's messages, as the gRPC server calls them.
  No second interpreter and no per-resource round trip over a socket.
* `PolicyPackProcess` (`mlops check --grpc`): the pack as its own process, started the way the engine's Python
  analyzer plugin starts it (`python -m pulumi.policy <engine> <pack dir>`, which prints the port it serves
  on), and a gRPC client talking to it.

Either is sent GetAnalyzerInfo, Configure (the environment's enforcement levels and properties), Analyze per
resource and AnalyzeStack, built from a preview document, and the diagnostics are collected. The same verdicts
are available from the policies' validate functions directly (`analyze_in_process`) for tests that compare the
paths.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.base import REPO_ROOT

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


def pack_environment(project: str = "mlops-platform", stack: str = "check") -> dict[str, str]:
    """What the engine sets for an analyzer plugin, which the SDK's servicer reads to configure the runtime."""
    return {"PULUMI_PROJECT": project, "PULUMI_STACK": stack, "PULUMI_DRY_RUN": "true"}


class _Analyzer:
    """Configure and analyze a document, whatever serves the pack (``_call``: one Analyzer method)."""

    def _call(self, method: str, request: Any) -> Any:
        raise NotImplementedError

    def _responses(self, requests: list[Any], in_flight: int) -> Iterable[Any]:
        """The Analyze responses of ``requests``, in order."""
        return (self._call("Analyze", request) for request in requests)

    def info(self):
        from google.protobuf import empty_pb2

        return self._call("GetAnalyzerInfo", empty_pb2.Empty())

    def configure(self, config: dict[str, dict[str, Any]]) -> None:
        self._call("Configure", configure_request(config))

    def analyze(
        self,
        document: dict[str, Any],
        in_flight: int = IN_FLIGHT,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Violation]:
        """Analyze per resource, then AnalyzeStack; like the engine, several resources may be in flight at once.
        ``progress(done, total)`` follows the resources analysed (the stack's AnalyzeStack is the last one)."""
        return self._analyze(document, in_flight, progress)

    def _analyze(
        self, document: dict[str, Any], in_flight: int, progress: Callable[[int, int], None] | None
    ) -> list[Violation]:
        singles, stack = analyze_requests(document)
        total = len(singles) + 1
        found: list[Violation] = []
        for done, (request, response) in enumerate(
            zip(singles, self._responses(singles, in_flight), strict=True), start=1
        ):
            found += _violations(response, request.urn)
            if progress is not None and done % 10 == 0:
                progress(done, total)
        found += _violations(self._call("AnalyzeStack", stack), "")
        if progress is not None:
            progress(total, total)
        return sorted(set(found))


class PackInProcess(_Analyzer):
    """The pack's analyzer servicer in this process (policies/speedups.py `in_process`), called with the
    protocol's messages. The SDK's servicer configures the Pulumi runtime from the engine's plugin environment
    (project, stack, dry run) at every Analyze; the same settings every time, so they are configured once here,
    as the pack's process would have them, and the calls find them in place."""

    def __init__(self, project: str = "mlops-platform", stack: str = "check"):
        self.environment = pack_environment(project, stack)
        self.servicer = None

    def start(self) -> PackInProcess:
        if self.servicer is None:
            from policies import speedups
            from policies.pack import pack_arguments

            self.servicer = speedups.in_process(pack_arguments())
            saved = {key: os.environ.get(key) for key in self.environment}
            os.environ.update(self.environment)
            try:
                self.servicer._configure_runtime_settings()
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        return self

    def __enter__(self) -> PackInProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.servicer = None

    def _call(self, method: str, request: Any) -> Any:
        return getattr(self.servicer, method)(request, None)


def in_process_supported() -> bool:
    """Whether the installed policy SDK's servicer can be built in-process; where not, `mlops check` says to run
    it with ``--grpc`` (the pack in its own process)."""
    from policies import speedups

    return speedups.in_process_supported()


class PolicyPackProcess(_Analyzer):
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
        env = {**os.environ, **pack_environment(self.project, self.stack), **self.extra_env}
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

    def _call(self, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request)

    def _responses(self, requests: list[Any], in_flight: int) -> Iterable[Any]:
        """Like the engine, several resources in flight: the pack's server answers on a small thread pool, so
        serialising the next request overlaps with analyzing the last."""
        from collections import deque

        pending: deque = deque()
        for request in requests:
            pending.append(self.stub.Analyze.future(request))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


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


class ForkedPack(_Analyzer):
    """`PackInProcess` in a child forked at once (``mlops check --from``): the child imports the policy SDK and
    the pack while this process imports the command line and reads the document, then analyzes the whole
    document it is sent and answers with the violations (progress on the way). Same requests, same servicer,
    same verdicts as in this process; only the start-up runs on the second core."""

    def __init__(self, project: str = "mlops-platform", stack: str = "check"):
        self.project, self.stack = project, stack
        self.process: Any = None
        self.connection: Any = None

    def start(self) -> ForkedPack:
        if self.process is None:
            from multiprocessing import get_context

            context = get_context("fork")
            ours, theirs = context.Pipe()
            self.process = context.Process(
                target=_serve_forked, args=(theirs, ours, self.project, self.stack), daemon=True
            )
            self.process.start()
            theirs.close()
            self.connection = ours
        return self

    def __enter__(self) -> ForkedPack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(
        self, kind: str, payload: Any = None, progress: Callable[[int, int], None] | None = None
    ) -> Any:
        self.start()
        try:
            self.connection.send((kind, payload))
            while True:
                answer, value = self.connection.recv()
                if answer == "progress":
                    if progress is not None:
                        progress(*value)
                    continue
                if answer == "error":
                    raise RuntimeError(f"the policy pack failed: {value}")
                return value
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.process.join(timeout=5)
            raise RuntimeError(
                f"the policy pack's process ended without an answer (exit code {self.process.exitcode})"
            ) from None

    def info(self):
        from pulumi.runtime.proto import analyzer_pb2

        return analyzer_pb2.AnalyzerInfo.FromString(self._request("info"))

    def configure(self, config: dict[str, dict[str, Any]]) -> None:
        self._request("configure", config)

    def _analyze(
        self, document: dict[str, Any], in_flight: int, progress: Callable[[int, int], None] | None
    ) -> list[Violation]:
        return self._request("analyze", document, progress)

    def close(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError):  # a child that died already
            self.connection.send(("close", None))
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.connection.close()
        self.process = self.connection = None


def _serve_forked(connection: Any, parents_end: Any, project: str, stack: str) -> None:
    """The forked child of `ForkedPack`: one PackInProcess answering requests until told to close, or until the
    parent is gone (its end of the pipe closed here too, the parent's exit is an EOF). It writes nothing to the
    terminal or the pipes it inherited (answers and errors travel back through the pipe) and leaves Ctrl-C to
    the parent, which closes it."""
    import signal
    import traceback

    parents_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    quiet = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(quiet, stream)
    os.close(quiet)

    try:
        pack: PackInProcess | None = PackInProcess(project, stack).start()
        failure = ""
    except Exception:  # reported to the parent with its first request
        pack, failure = None, traceback.format_exc(limit=-3)
    while True:
        try:
            kind, payload = connection.recv()
        except EOFError:
            return
        if kind == "close":
            return
        if pack is None:
            connection.send(("error", failure))
            continue
        try:
            if kind == "configure":
                pack.configure(payload)
                connection.send(("done", None))
            elif kind == "analyze":
                found = pack.analyze(
                    payload, progress=lambda done, total: connection.send(("progress", (done, total)))
                )
                connection.send(("done", found))
            elif kind == "info":
                connection.send(("done", pack.info().SerializeToString()))
            else:
                connection.send(("error", f"unknown request {kind!r}"))
        except Exception:
            connection.send(("error", traceback.format_exc(limit=-3)))


_early: list[Any] = []


def start_early(grpc: bool = True) -> None:
    """Start the default pack now, before the command line's imports, for a command that will check: its
    start-up (the policy SDK, the pack) then runs beside the parent's. Over gRPC (``mlops check --grpc``) the
    pack's own process, else a forked `ForkedPack` (``mlops check --from``). ``pack()`` hands it over; an early
    pack nobody took (the command failed first) is stopped at exit."""
    import atexit

    if not _early:
        _early.append((PolicyPackProcess() if grpc else ForkedPack()).start())
        atexit.register(lambda: [process.close() for process in _early])


def pack(grpc: bool = True) -> Any:
    """The early-started default pack of that kind if there is one, else a new one (not started): the pack's
    process over gRPC, or the pack's analyzer in this process."""
    for index, early in enumerate(_early):
        if isinstance(early, PolicyPackProcess) == grpc:
            return _early.pop(index)
    return PolicyPackProcess() if grpc else PackInProcess()
