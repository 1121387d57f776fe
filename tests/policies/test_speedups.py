"""The pack's decode-once servicer answers exactly as the SDK's stock servicer, request for request."""

from __future__ import annotations

import pulumi_policy.policy as sdk
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi_policy import EnforcementLevel

from mlops.analyzer import analyze_requests, configure_request
from policies import speedups
from policies.pack import all_policies, environment_config
from tests.policies.cases import CASES, Res, document
from tests.policies.test_policies import COVERED_TYPES, known_keys


def servicer(environment: str):
    served = sdk._PolicyAnalyzerServicer(
        "mlops-platform-security", "0.1.0", all_policies(), EnforcementLevel.MANDATORY
    )
    served.Configure(configure_request(environment_config(environment)), None)
    return served


def answers(served, doc, analyze, analyze_stack) -> list[dict]:
    singles, stack = analyze_requests(doc)
    found = [json_format.MessageToDict(analyze(served, request, None)) for request in singles]
    return [*found, json_format.MessageToDict(analyze_stack(served, stack, None))]


def stock(served, doc) -> list[dict]:
    return answers(served, doc, speedups._STOCK["Analyze"], speedups._STOCK["AnalyzeStack"])


def fast(served, doc) -> list[dict]:
    return answers(served, doc, speedups.analyze, speedups.analyze_stack)


def test_this_sdk_is_served_by_the_decode_once_methods():
    assert speedups.compatible()


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_case_gets_the_same_response_from_both_servicers(environment):
    served = servicer(environment)
    compared = 0
    for case in CASES:
        for resources in (case.good, case.bad):
            doc = document(resources, environment)
            assert fast(served, doc) == stock(served, doc), case.policy
            compared += 1
    assert compared == 2 * len(CASES)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_get_the_same_responses_from_both_servicers(synth, stack):
    doc = synth(stack)
    served = servicer("prod")  # the strictest levels, so advisory-only differences cannot hide
    expected = stock(served, doc)
    assert fast(served, doc) == expected
    assert len(expected) == sum(1 for step in doc["steps"] if step["newState"]["custom"]) + 1


def test_a_violation_is_reported_identically():
    case = next(case for case in CASES if case.policy == "s3-public-access-block-all")
    served = servicer("prod")
    doc = document(case.bad)
    responses = fast(served, doc)
    assert responses == stock(served, doc)
    diagnostics = [d for response in responses for d in response.get("diagnostics", [])]
    policy = [d for d in diagnostics if d["policyName"] == "s3-public-access-block-all"]
    assert len(policy) == 1
    assert policy[0]["enforcementLevel"] == "MANDATORY"
    assert "urn" not in policy[0]  # resource diagnostics leave the URN to the engine, as the SDK does


# JSON-representable values only (a preview document cannot hold NaN or infinities).
finite = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 70000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
finite_props = st.dictionaries(st.sampled_from(known_keys) | st.text(max_size=6), finite, max_size=6)
SERVED: dict[str, object] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(COVERED_TYPES),
    inputs=finite_props,
    environment=st.sampled_from(["dev", "staging", "prod"]),
)
def test_odd_properties_get_the_same_responses_from_both_servicers(kind, inputs, environment):
    doc = document(
        [Res(kind, "fuzz", inputs), Res(kind, "other", {"spec": inputs, "metadata": inputs})], environment
    )
    served = SERVED.setdefault(environment, servicer(environment))
    assert fast(served, doc) == stock(served, doc)


def test_which_policies_run_is_worked_out_again_after_each_configure():
    """Plans are kept per resource type while the servicer's levels are unchanged: one servicer configured (by the
    SDK's own Configure) for dev, prod, then dev again answers as the stock servicer each time, at each
    environment's level (k8s-probes is advisory in dev, mandatory in prod; policies/config/)."""
    case = next(case for case in CASES if case.policy == "k8s-probes")
    doc = document(case.bad)
    served = servicer("dev")
    levels = []
    for environment in ("dev", "prod", "dev"):
        served.Configure(configure_request(environment_config(environment)), None)
        responses = fast(served, doc)
        assert responses == stock(served, doc), environment
        levels.append(
            {
                d.get("enforcementLevel", "ADVISORY")  # proto3 leaves out the enum's zero, ADVISORY
                for response in responses
                for d in response.get("diagnostics", [])
                if d["policyName"] == "k8s-probes"
            }
        )
    assert levels == [{"ADVISORY"}, {"MANDATORY"}, {"ADVISORY"}]


def test_the_pack_in_process_is_built_as_policy_pack_builds_its_servicer():
    """mlops check builds the SDK's servicer from PolicyPack's own arguments (policies/pack.py
    pack_arguments), so its answers to GetAnalyzerInfo are those of the pack's process."""
    assert speedups.in_process_supported()
    from policies.pack import pack_arguments

    served = speedups.in_process(pack_arguments())
    info = served.GetAnalyzerInfo(None, None)
    assert info.name == "mlops-platform-security" and info.version == "0.0.1"
    assert [policy.name for policy in info.policies] == [policy.name for policy in all_policies()]
