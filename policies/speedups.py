"""Serve Analyze and AnalyzeStack with the SDK's semantics, but decode each request once.

The Python policy SDK's servicer converts a request's properties (MessageToDict, deserialize_properties, the
read-only unknown-checking proxy, the resource options and the provider) separately for every policy, and
AnalyzeStack rebuilds every resource of the stack for every stack policy. With dozens of policies that
overhead, not the checks, dominates analysis time. The replacements below follow the SDK's methods step by
step (same enforcement levels, same diagnostics, same handling of unknown values and not-applicable
policies) with two differences that change no verdict:

* a request is decoded once and the same read-only values are shared by all policies (no policy of this pack
  writes to a resource's properties; remediations build new mappings);
* a resource policy declared with `policies.base.resource_policy` is not called for resource types outside
  its declared types, where its validate function returns without reporting anyway;
* which policies run for a resource type, at which level, is worked out once per type and kept while the
  servicer's levels are the same object (Configure, the only request that changes them, replaces that mapping).

`install()` only patches an SDK whose servicer has the private members these methods use; otherwise the
stock servicer runs unchanged (slower, same verdicts). tests/policies compare both servicers verdict for
verdict.

`in_process()` builds the SDK's servicer for the pack as `PolicyPack` builds it, without the gRPC server
around it, so that `mlops check` can call its Analyzer methods with the protocol's messages in one process.
"""

from __future__ import annotations

import asyncio
import os
from inspect import isawaitable, signature
from typing import Any

import pulumi_policy.policy as sdk
from pulumi.runtime import proto

APPLIES_ATTR = "mlops_applies_to"
_PREFIX = "_PolicyAnalyzerServicer__"
_REQUIRED = (
    "_configure_runtime_settings",
    "_get_enforcement_level",
    "_create_report_violation",
    "_get_resource_options",
    "_get_provider_resource",
    "_get_policy_config",
    "_map_enforcement_level",
)
# What PolicyPack.__init__ hands its servicer (the CLI reports PulumiPolicy.yaml's version instead), and the
# servicer's parameters in the order PolicyPack passes them.
PACK_VERSION = "0.0.1"
_SERVICER_PARAMETERS = (
    "name",
    "version",
    "policies",
    "enforcement_level",
    "initial_config",
    "description",
    "display_name",
    "readme",
    "provider",
    "tags",
    "repository",
)
STOCK_ENV = "MLOPS_POLICY_STOCK_SERVICER"  # 1: serve with the SDK's own Analyze/AnalyzeStack
_STOCK = {
    "Analyze": sdk._PolicyAnalyzerServicer.Analyze,
    "AnalyzeStack": sdk._PolicyAnalyzerServicer.AnalyzeStack,
}
# On a servicer: (the level mapping the plans were made under, resource type -> [(policy, level, or None: the
# policy has no validate function)]). The mapping is held, so its identity cannot be reused while compared.
_PLANS = "_mlops_plans"


def _private(servicer: Any, name: str) -> Any:
    return getattr(servicer, _PREFIX + name)


def _decode(servicer: Any, request: Any) -> tuple[Any, Any, Any]:
    props = sdk.unknown_checking_proxy(
        sdk.deserialize_properties(sdk.json_format.MessageToDict(request.properties))
    )
    return props, servicer._get_resource_options(request), servicer._get_provider_resource(request)


def _run(servicer: Any, response: Any, policy: Any, args: Any, report_violation: Any) -> None:
    """Call a policy as the SDK does: await its result, turn unknowns and not-applicable into their answers."""
    try:
        result = policy.validate(args, report_violation)
        if isawaitable(result):
            loop = asyncio.new_event_loop()
            task = asyncio.Task(result, loop=loop)
            loop.run_until_complete(task)
            loop.close()
    except sdk.UnknownValueError as error:
        name, version = _private(servicer, "policy_pack_name"), _private(servicer, "policy_pack_version")
        response.diagnostics.append(
            proto.AnalyzeDiagnostic(
                policyName=policy.name,
                policyPackName=name,
                policyPackVersion=version,
                message=(
                    f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' during preview: "
                    f"{error.message}"
                ),
                urn="",
                description=policy.description,
                enforcementLevel=servicer._map_enforcement_level(sdk.EnforcementLevel.ADVISORY),
            )
        )
    except sdk._NotApplicableError as error:
        response.not_applicable.append(
            proto.PolicyNotApplicable(policy_name=policy.name, reason=error.reason or "")
        )


def _plan(self: Any, resource_type: str) -> list[tuple[Any, Any]]:
    """The resource policies the SDK's Analyze would run for ``resource_type``, in order, each with the level it
    reports at (None: the SDK answers not-applicable, the policy has no validate function)."""
    levels = _private(self, "policy_pack_config_enforcement_level")
    made_under, plans = self.__dict__.get(_PLANS, (None, {}))
    if made_under is not levels:
        plans = {}
        self.__dict__[_PLANS] = (levels, plans)
    plan = plans.get(resource_type)
    if plan is not None:
        return plan
    plan = []
    for policy in _private(self, "policies"):
        level = self._get_enforcement_level(policy)
        if level == sdk.EnforcementLevel.DISABLED or not isinstance(policy, sdk.ResourceValidationPolicy):
            continue
        if not policy.has_validation():
            plan.append((policy, None))
            continue
        applies = getattr(policy, APPLIES_ATTR, None)
        if applies is not None and not applies(resource_type):
            continue
        plan.append(
            (policy, sdk.EnforcementLevel.MANDATORY if level == sdk.EnforcementLevel.REMEDIATE else level)
        )
    plans[resource_type] = plan
    return plan


def analyze(self: Any, request: Any, _context: Any) -> Any:
    self._configure_runtime_settings()
    response = proto.AnalyzeResponse()
    resource_type, urn, name = request.type, request.urn, request.name
    decoded = None
    for policy, level in _plan(self, resource_type):
        if level is None:
            response.not_applicable.append(
                proto.PolicyNotApplicable(
                    policy_name=policy.name, reason="Policy does not implement validate"
                )
            )
            continue
        report_violation = self._create_report_violation(
            response, policy.name, policy.description, level, policy.severity
        )
        if decoded is None:
            decoded = _decode(self, request)
        props, opts, provider = decoded
        args = sdk.ResourceValidationArgs(
            resource_type,
            props,
            urn,
            name,
            opts,
            provider,
            self._get_policy_config(policy.name),
            _private(self, "stack_tags"),
        )
        _run(self, response, policy, args, report_violation)
    return response


def _stack_resources(self: Any, request: Any) -> list[Any]:
    """The request's resources as linked PolicyResource objects, exactly as the SDK builds them."""
    by_urn: dict[str, Any] = {}
    links = []
    for r in request.resources:
        props, opts, provider = _decode(self, r)
        resource = sdk.PolicyResource(r.type, props, r.urn, r.name, opts, provider, None, [], {})
        by_urn[resource.urn] = resource
        links.append(
            (
                resource,
                r.parent,
                list(r.dependencies),
                {key: list(value.urns) for key, value in r.propertyDependencies.items()},
            )
        )
    for resource, parent, dependencies, property_dependencies in links:
        if parent is not None and parent in by_urn:
            resource.parent = by_urn[parent]
        resource.dependencies.extend(by_urn[d] for d in dependencies if d in by_urn)
        for key, urns in property_dependencies.items():
            resource.property_dependencies[key] = [by_urn[d] for d in urns if d in by_urn]
    return [resource for resource, *_ in links]


def analyze_stack(self: Any, request: Any, _context: Any) -> Any:
    self._configure_runtime_settings()
    response = proto.AnalyzeResponse()
    resources = None
    for policy in _private(self, "policies"):
        level = self._get_enforcement_level(policy)
        if level == sdk.EnforcementLevel.DISABLED or not isinstance(policy, sdk.StackValidationPolicy):
            continue
        if level == sdk.EnforcementLevel.REMEDIATE:
            level = sdk.EnforcementLevel.MANDATORY
        report_violation = self._create_report_violation(
            response, policy.name, policy.description, level, policy.severity
        )
        if resources is None:
            resources = _stack_resources(self, request)
        args = sdk.StackValidationArgs(
            list(resources), self._get_policy_config(policy.name), _private(self, "stack_tags")
        )
        _run(self, response, policy, args, report_violation)
    return response


def compatible() -> bool:
    """Whether this SDK's servicer has every member the replacements rely on."""
    servicer = sdk._PolicyAnalyzerServicer
    names = (
        "policies",
        "stack_tags",
        "policy_pack_name",
        "policy_pack_version",
        "policy_pack_config_enforcement_level",
    )
    return (
        all(hasattr(servicer, member) for member in _REQUIRED)
        and all(_PREFIX + name in getattr(servicer, "__annotations__", {}) for name in names)
        and all(
            hasattr(sdk, member)
            for member in (
                "_NotApplicableError",
                "UnknownValueError",
                "deserialize_properties",
                "unknown_checking_proxy",
            )
        )
    )


def install() -> bool:
    """Serve with the decode-once methods; returns False (stock servicer kept) on an unfamiliar SDK."""
    if not compatible():
        return False
    sdk._PolicyAnalyzerServicer.Analyze = analyze
    sdk._PolicyAnalyzerServicer.AnalyzeStack = analyze_stack
    return True


def uninstall() -> None:
    for method, function in _STOCK.items():
        setattr(sdk._PolicyAnalyzerServicer, method, function)


def in_process_supported() -> bool:
    """Whether this SDK's servicer takes PolicyPack's arguments as this module passes them."""
    parameters = tuple(signature(sdk._PolicyAnalyzerServicer.__init__).parameters)[1:]
    return parameters == _SERVICER_PARAMETERS


def in_process(arguments: dict[str, Any]) -> Any:
    """The SDK's analyzer servicer for the pack ``PolicyPack(**arguments)`` declares, built as PolicyPack builds
    it (same arguments, same version, ADVISORY when no level is given) but not served: the caller invokes its
    GetAnalyzerInfo, Configure, Analyze and AnalyzeStack methods with the protocol's request messages, as the
    gRPC server would. The decode-once methods serve unless ``MLOPS_POLICY_STOCK_SERVICER=1``, as in the pack's
    own process (policies/__main__.py)."""
    if not in_process_supported():
        raise RuntimeError(
            "this policy SDK's analyzer servicer takes other arguments than PolicyPack passes here; "
            "run `mlops check --grpc` (the pack in its own process)"
        )
    unknown = sorted(set(arguments) - set(_SERVICER_PARAMETERS))
    if unknown:
        raise ValueError(f"PolicyPack arguments the servicer does not take: {unknown}")
    if os.environ.get(STOCK_ENV) != "1":
        install()
    given = {**dict.fromkeys(_SERVICER_PARAMETERS), **arguments, "version": PACK_VERSION}
    if given["enforcement_level"] is None:
        given["enforcement_level"] = sdk.EnforcementLevel.ADVISORY
    return sdk._PolicyAnalyzerServicer(*(given[name] for name in _SERVICER_PARAMETERS))
