"""The pack's decode-once servicer answers exactly as the SDK's stock servicer, request for request."""

from __future__ import annotations

import pulumi_policy.policy as sdk
import pytest
from google.protobuf import json_format
from pulumi_policy import EnforcementLevel

from mlops.analyzer import analyze_requests, configure_request
from policies import speedups
from policies.pack import all_policies, environment_config
from tests.policies.cases import CASES, document


def servicer(environment: str):
    served = sdk._PolicyAnalyzerServicer("mlops-platform-security", "0.1.0", all_policies(), EnforcementLevel.MANDATORY)
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
