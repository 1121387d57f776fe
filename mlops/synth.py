"""Offline synthesis: run the Pulumi program of a stack under the SDK's own mock monitor.

Nothing here talks to a cloud or to the Pulumi engine. The program in ``stacks/__main__.py`` runs exactly as it
would under ``pulumi preview``, but its resource monitor is ``CapturingMonitor``, a subclass of the SDK's
``MockMonitor`` that records every complete registration (type, name, parent, provider, inputs, options and
dependencies). The result is one document shaped like ``pulumi preview --json``.

Invokes (data-source lookups) are gated like the Pulumi engine gates them: a preview of a new stack creates
every resource, and the engine answers an invoke that depends on a resource pending creation with "unknown"
(``ResourceInvokeResponse.unknown``), so such a lookup is unknown here too. Every invoke is recorded in the
document (``invokes``: token, arguments, dependencies and whether it was answered). A *deployed* synthesis (the
outputs a team stack reads from its platform stack after ``pulumi up``) opens the gate: lookups are then
answered from what the run registered, or fail as AWS would (mlops/mocks.py).
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import parse_platform, parse_team
from components.loader import ConfigError, UnknownStackError, stack_file
from components.serving.config import check_team_on_platform, platform_serving
from components.stackfile import CONFIG_NAMESPACE, PLATFORM_KEY, TEAM_KEY, read_stack_config
from mlops.base import DEFAULT_STACKS_DIR, REPO_ROOT, ProgramError

PROJECT = "mlops-platform"
PROGRAM = REPO_ROOT / "stacks" / "__main__.py"

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
PLACEHOLDER_SECRET = "offline-placeholder-secret"
STACK_TYPE = "pulumi:pulumi:Stack"


def wire_to_json(value: Any) -> Any:
    """Protobuf Struct values as JSON: integral floats back to ints, secrets redacted but still marked."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [wire_to_json(item) for item in value]
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return {SECRET_SIG_KEY: SECRET_SIG, "value": "[secret]"}
        return {key: wire_to_json(item) for key, item in value.items()}
    return value


def _struct(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return wire_to_json(json_format.MessageToDict(message, preserving_proto_field_name=True))


def _make_monitor_class():
    # Imported lazily: pulumi is a heavy import and config errors need not pay for it.
    from pulumi.runtime.mocks import MockMonitor

    class CapturingMonitor(MockMonitor):
        """The SDK's mock monitor, recording each complete registration for the preview document."""

        def __init__(self, mocks, deployed: bool = False, on_register: Callable[[int], None] | None = None):
            super().__init__(mocks)
            self.on_register = on_register
            self.registrations: list[dict[str, Any]] = []
            self.invokes: list[dict[str, Any]] = []
            self.stack_outputs: dict[str, Any] = {}
            self.recording = False
            self.deployed = deployed
            # Custom resources this run registers: in a preview of a new stack, each is pending creation.
            self.created: set[str] = set()
            self._lock = threading.Lock()

        def RegisterResource(self, request):
            urn = self.make_urn(request.parent, request.type, request.name)
            inputs = _struct(request.object)
            if request.type == "pulumi:providers:aws" and isinstance(inputs.get("region"), str):
                self.mocks.provider_regions[urn] = inputs["region"]
            response = super().RegisterResource(request)
            if request.custom and not request.type.startswith("pulumi:providers:"):
                with self._lock:
                    self.created.add(urn)
            if self.recording:
                record = _registration(request, urn, inputs, response.id if request.custom else "")
                with self._lock:
                    self.registrations.append(record)
                    count = len(self.registrations)
                if self.on_register is not None:
                    self.on_register(count)
            return response

        def Invoke(self, request):
            from pulumi.runtime.proto import resource_pb2

            if request.tok == "pulumi:pulumi:getResource":
                return super().Invoke(request)
            depends_on = sorted(set(request.dependsOn))
            record: dict[str, Any] = {
                "token": request.tok,
                "args": _struct(request.args),
                "provider": request.provider,
                "dependsOn": depends_on,
            }
            pending = [] if self.deployed else [urn for urn in depends_on if urn in self.created]
            if pending:
                # The engine's invoke gate: a dependency pending creation makes the whole result unknown.
                record.update(result="unknown", pendingDependencies=pending)
                self._record_invoke(record)
                return resource_pb2.ResourceInvokeResponse(unknown=True)
            response = super().Invoke(request)
            if response.failures:
                record.update(result="failed", failures=[failure.reason for failure in response.failures])
            else:
                record.update(result="known")
            self._record_invoke(record)
            return response

        def _record_invoke(self, record: dict[str, Any]) -> None:
            if self.recording:
                with self._lock:
                    self.invokes.append(record)

        def GetDeploymentInfo(self, request):
            # Gate invokes on their dependencies as the Pulumi engine does (Invoke above), instead of the SDK's
            # client-side fallback (which answers "unknown" whenever a dependency's id is unknown, e.g. a
            # StackReference in a preview): every registration here is answered synchronously, so what an
            # invoke depends on is registered by the time it is sent.
            from pulumi.runtime.proto import resource_pb2

            info = super().GetDeploymentInfo(request)
            info.supportedFeatures.append(resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_DEPENDS_ON)
            return info

        def RegisterResourceOutputs(self, request):
            if self.recording and request.urn.split("::")[2] == STACK_TYPE:
                self.stack_outputs = _struct(request.outputs)
            return super().RegisterResourceOutputs(request)

    return CapturingMonitor


def _registration(request: Any, urn: str, inputs: dict[str, Any], rid: str) -> dict[str, Any]:
    timeouts = request.customTimeouts
    state: dict[str, Any] = {
        "type": request.type,
        "urn": urn,
        "custom": bool(request.custom),
        "parent": request.parent,
        "provider": request.provider,
        "inputs": inputs,
        "protect": bool(request.protect),
        "retainOnDelete": bool(request.retainOnDelete),
        "dependencies": sorted(set(request.dependencies)),
        "propertyDependencies": {
            key: sorted(set(deps.urns)) for key, deps in sorted(request.propertyDependencies.items())
        },
        "ignoreChanges": list(request.ignoreChanges),
        "deleteBeforeReplace": bool(request.deleteBeforeReplace),
        "aliases": [_alias(alias) for alias in request.aliases],
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "customTimeouts": {
            key: getattr(timeouts, key) for key in ("create", "update", "delete") if getattr(timeouts, key)
        },
    }
    if rid:
        state["id"] = rid
    return state


def _alias(alias: Any) -> Any:
    if alias.urn:
        return alias.urn
    spec = alias.spec
    return {key: getattr(spec, key) for key in ("name", "type", "stack", "project") if getattr(spec, key)}


@dataclass
class StackSource:
    """A stack file read and validated: what the program will see as its config."""

    stack: str
    path: Path
    kind: str  # "platform" or "team"
    config: dict[str, str]
    secret_keys: list[str]
    partition: str
    account: str
    region: str
    platform_stack: str | None = None
    regions: int = 1  # how many regions the stack spans (what its synthesis costs grows with)
    platform_regions: int = 1  # a team stack's: how many its platform spans


def load_source(stack: str, stacks_dir: Path) -> StackSource:
    """Read and validate a stack file before any resource exists (ConfigError / UnknownStackError)."""
    path, raw = read_stack_config(Path(stacks_dir), stack)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        substituted, had_secret = _substitute_secrets(value)
        config[str(key)] = substituted if isinstance(substituted, str) else json.dumps(substituted)
        if had_secret:
            secret_keys.append(str(key))
    if PLATFORM_KEY in raw:
        platform = parse_platform(_substitute_secrets(raw[PLATFORM_KEY])[0], path)
        return StackSource(
            stack,
            path,
            "platform",
            config,
            secret_keys,
            platform.partition,
            platform.account_id,
            platform.primary_region.name,
            regions=len(platform.regions),
        )
    if TEAM_KEY in raw:
        team = parse_team(_substitute_secrets(raw[TEAM_KEY])[0], path)
        platform_stack = platform_stack_of(team.platform_stack)
        try:
            platform_path, platform_raw = read_stack_config(Path(stacks_dir), platform_stack)
        except UnknownStackError as exc:
            raise ConfigError(path, f"{TEAM_KEY}.platform-stack", str(exc)) from None
        platform = parse_platform(_substitute_secrets(platform_raw.get(PLATFORM_KEY))[0], platform_path)
        # What the team's models need from the platform, checked before any resource (the program checks the
        # same against the platform's outputs when it runs live).
        check_team_on_platform(team, path, platform_serving(platform_stack, platform))
        from mlops.team import check_shared_load_balancer

        check_shared_load_balancer(team, path, Path(stacks_dir))
        return StackSource(
            stack,
            path,
            "team",
            config,
            secret_keys,
            platform.partition,
            platform.account_id,
            team.regions[0],
            platform_stack,
            regions=len(team.regions),
            platform_regions=len(platform.regions),
        )
    raise ConfigError(
        path, f"{CONFIG_NAMESPACE}:*", f"missing; a stack file needs {PLATFORM_KEY} or {TEAM_KEY}"
    )


def platform_stack_of(reference: str) -> str:
    """`organization/mlops-platform/prod` (or just `prod`) -> the stack file name `prod`."""
    return reference.rsplit("/", 1)[-1]


def platform_outputs(stack: str, stacks_dir: Path) -> dict[str, Any]:
    """The outputs of a platform stack as deployed: what a team stack's StackReference reads after the
    platform's ``pulumi up``. Read from the platform-output cache when its key matches (mlops/cache.py), else
    synthesised offline in a fresh process (the runtime is global) and stored."""
    from mlops import cache

    file = stack_file(Path(stacks_dir), stack)
    if not file.is_file():  # the synthesis names the missing stack file
        return synthesize_outputs(stack, stacks_dir)
    return cache.cached_outputs(stack, file, lambda: synthesize_outputs(stack, stacks_dir))


def synthesize_outputs(stack: str, stacks_dir: Path) -> dict[str, Any]:
    """A platform stack's deployed outputs, synthesised in a fresh ``python -m mlops.synth`` process."""
    result = subprocess.run(
        [sys.executable, "-m", "mlops.synth", "--deployed", stack, str(stacks_dir)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProgramError(f"synthesising platform stack {stack!r} for its outputs failed: {last}")
    return json.loads(result.stdout)["outputs"]


def _substitute_secrets(value: Any) -> tuple[Any, bool]:
    """`secure:` values cannot be decrypted offline: a placeholder stands in, and the key is marked secret.

    Like Pulumi (isSecureValue in sdk/go/common/resource/config/object.go), only a mapping whose one key
    `secure` holds a string is a secret; `secure: 5` stays a plain mapping for the model to refuse.
    """
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return PLACEHOLDER_SECRET, True
        found = False
        result = {}
        for key, item in value.items():
            result[key], secret = _substitute_secrets(item)
            found = found or secret
        return result, found
    if isinstance(value, list):
        items = [_substitute_secrets(item) for item in value]
        return [item for item, _ in items], any(secret for _, secret in items)
    return value, False


def synthesize(
    stack: str,
    stacks_dir: Path = DEFAULT_STACKS_DIR,
    program: Path = PROGRAM,
    deployed: bool = False,
    on_register: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the program for ``stack`` under the mock monitor; return the preview document.

    By default the run is a preview of a new stack (invokes that depend on a resource of the run are unknown);
    ``deployed`` models the stack after ``pulumi up`` (lookups answered from what the run registered). The
    Pulumi runtime keeps global state, so call this once per process (the CLI does; tests use a subprocess per
    stack). ``on_register(count)`` is called after each registration (progress displays).
    """
    source = load_source(stack, stacks_dir)

    # Imported after the stack file is read: a config error is reported without loading the Pulumi SDK.
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.stack import run_in_stack

    from components.outputs import ContractError
    from mlops.mocks import PlatformMocks

    mocks = PlatformMocks(source.partition, source.account, source.region)
    if source.platform_stack is not None:
        platform_stack = source.platform_stack
        mocks.stack_outputs = lambda name: platform_outputs(
            platform_stack_of(name) or platform_stack, Path(stacks_dir)
        )
    monitor = _make_monitor_class()(mocks, deployed=deployed, on_register=on_register)
    pulumi.runtime.set_all_config(source.config, source.secret_keys)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=True, monitor=monitor)
    # set_mocks installs (and finishes) a root stack of its own; run the program the way the language host
    # does instead, in a fresh Stack whose outputs are registered when the program is done.
    settings.set_root_resource(None)
    monitor.recording = True

    def run_program() -> None:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        runpy.run_path(str(program), run_name="__main__")

    try:
        _event_loop().run_until_complete(run_in_stack(run_program))
    except ConfigError:
        raise
    except ContractError as exc:
        raise ProgramError(str(exc)) from exc
    except Exception as exc:
        raise ProgramError(_describe_failure(exc, monitor.registrations)) from exc
    return build_document(stack, monitor.registrations, monitor.stack_outputs, monitor.invokes)


def _event_loop() -> Any:
    """The thread's event loop, on which the runtime (set up above) queues its work; a new one if none is set."""
    import asyncio

    try:
        return asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


def _describe_failure(exc: BaseException, registrations: list[dict[str, Any]]) -> str:
    import pulumi

    culprit = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, pulumi.Resource):
            culprit = candidate
    if culprit is not None:
        what = f"{culprit.pulumi_resource_type} {culprit.pulumi_resource_name!r}"
    elif registrations:
        last = registrations[-1]
        what = f"{last['type']} {last['urn'].rsplit('::', 1)[-1]!r} (the last resource registered)"
    else:
        what = "the program, before any resource was registered"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"error while building {what}: {type(exc).__name__}{': ' + detail if detail else ''}"


def build_document(
    stack: str,
    registrations: list[dict[str, Any]],
    outputs: dict[str, Any],
    invokes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    ordered = _creation_order(registrations)
    steps = [
        {"op": "create", "urn": state["urn"], "provider": state["provider"], "newState": state}
        for state in ordered
    ]
    return {
        "stack": stack,
        "project": PROJECT,
        "steps": steps,
        "changeSummary": {"create": len(steps)},
        "outputs": outputs,
        "invokes": sorted(invokes or [], key=lambda i: (i["token"], json.dumps(i["args"], sort_keys=True))),
    }


def _creation_order(registrations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deterministic order in which every resource follows its parent, provider and dependencies."""
    import heapq

    by_urn = {state["urn"]: state for state in registrations}
    edges: dict[str, set[str]] = {urn: set() for urn in by_urn}
    waiting: dict[str, int] = {urn: 0 for urn in by_urn}
    for urn, state in by_urn.items():
        before = {state["parent"], state["provider"].rsplit("::", 1)[0] if state["provider"] else ""}
        before.update(state["dependencies"])
        for other in before:
            if other in by_urn and other != urn:
                edges[other].add(urn)
                waiting[urn] += 1
    ready = [urn for urn, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[dict[str, Any]] = []
    while ready:
        urn = heapq.heappop(ready)
        order.append(by_urn[urn])
        for child in edges[urn]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    return order


def main(argv: list[str] | None = None) -> int:
    """``python -m mlops.synth [--deployed] STACK [STACKS_DIR [PROGRAM]]``: print the document as JSON (used for
    isolation)."""
    args = list(argv if argv is not None else sys.argv[1:])
    deployed = "--deployed" in args
    args = [arg for arg in args if arg != "--deployed"]
    try:
        document = synthesize(
            args[0],
            Path(args[1]) if len(args) > 1 else DEFAULT_STACKS_DIR,
            Path(args[2]) if len(args) > 2 else PROGRAM,
            deployed=deployed,
        )
    except (ConfigError, UnknownStackError, ProgramError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(document, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
