"""Each policy's validate function called on resource arguments, as pulumi-policy-aws tests its policies.

pulumi-policy-aws (src/tests/util.ts) builds `ResourceValidationArgs` / `StackValidationArgs` from the SDK's public
classes and calls a policy's `validateResource` / `validateStack` with a `report` that collects the violations.
`analyze_in_process` does the same for every policy of the pack over a preview document (the resources of
tests/policies/cases.py), with each policy's level and properties from the environment's config, and returns the
violations as `mlops check` reports them. No engine and no servicer: the pack-level behaviour (Configure,
Analyze, AnalyzeStack over the wire) is tested over gRPC (mlops/analyzer.py ``PolicyPackProcess``).
"""

from __future__ import annotations

from typing import Any

from mlops.analyzer import Violation, analyzable


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def analyze_in_process(document: dict[str, Any], config: dict[str, dict[str, Any]]) -> list[Violation]:
    """The pack's violations of ``document`` under ``config``, each policy's validate function called directly."""
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
