"""Every policy on a compliant and a non-compliant case: its validate function called directly, and the pack over
the Analyzer gRPC protocol."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.analyzer import PolicyPackProcess
from policies.base import REGISTRY
from policies.pack import all_policies, environment_config
from tests.policies.cases import CASES, Case, document
from tests.policies.validate import analyze_in_process

all_policies()


def verdicts(case: Case, which: str) -> list:
    resources = case.good if which == "good" else case.bad
    config = environment_config(case.environment)
    properties = (
        case.bad_properties if which == "bad" and case.bad_properties is not None else case.properties
    )
    if properties:
        config[case.policy] = {**config[case.policy], **properties}
    return analyze_in_process(document(resources, case.environment), config)


def test_the_pack_has_at_least_45_policies_each_with_a_case():
    assert len(REGISTRY) >= 45
    assert {case.policy for case in CASES} == set(REGISTRY)
    for meta in REGISTRY.values():
        assert meta.description and meta.severity in ("low", "medium", "high", "critical")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.policy}-{c.environment}")
def test_compliant_case_passes_and_violating_case_fails(case):
    assert [v for v in verdicts(case, "good") if v.policy == case.policy] == []
    bad = [v for v in verdicts(case, "bad") if v.policy == case.policy]
    assert bad, f"{case.policy} did not flag its violating case"
    assert all(v.message.startswith(REGISTRY[case.policy].description) for v in bad)
    expected_level = environment_config(case.environment)[case.policy]["enforcementLevel"]
    assert {v.enforcement for v in bad} == {expected_level}


@pytest.fixture(scope="module")
def pack():
    with PolicyPackProcess() as running:
        yield running


def test_grpc_and_in_process_verdicts_are_identical(pack):
    info = pack.info()
    assert info.name == "mlops-platform-security"
    assert {policy.name for policy in info.policies} == set(REGISTRY)
    compared = 0
    for environment in ("dev", "staging", "prod"):
        config = environment_config(environment)
        pack.configure(config)
        for case in CASES:
            for resources in (case.good, case.bad):
                doc = document(resources, environment)
                assert pack.analyze(doc) == analyze_in_process(doc, config), (case.policy, environment)
                compared += 1
    assert compared == 6 * len(CASES)


def test_enforcement_levels_per_environment():
    prod, dev = environment_config("prod"), environment_config("dev")
    assert {entry["enforcementLevel"] for entry in prod.values()} == {"mandatory"}
    assert dev["k8s-probes"]["enforcementLevel"] == "advisory"
    assert dev["rds-not-public"]["enforcementLevel"] == "mandatory"
    assert dev["kms-deletion-window"]["environment"] == "dev"
    assert "environment" not in dev["rds-not-public"]


def test_tag_remediation_fills_what_can_be_known():
    from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs

    policy = next(p for p in all_policies() if p.name == "aws-required-tags")
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    args = ResourceValidationArgs(
        "aws:ec2/vpc:Vpc",
        {"cidrBlock": "10.0.0.0/16", "tags": {"team": "a"}},
        "urn",
        "vpc",
        options,
        None,
        {"environment": "staging"},
        {},
    )
    assert policy.remediate(args)["tags"] == {
        "team": "a",
        "environment": "staging",
        "cost-center": "unassigned",
        "data-classification": "unassigned",
        "managed-by": "pulumi-mlops-platform",
    }


COVERED_TYPES = sorted({res.type for case in CASES for res in case.good + case.bad})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
known_keys = sorted({key for case in CASES for res in case.good + case.bad for key in res.inputs})
props = st.dictionaries(st.sampled_from(known_keys) | st.text(max_size=6), json_values, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(COVERED_TYPES), inputs=props, environment=st.sampled_from(["dev", "staging", "prod"])
)
def test_policies_never_crash_on_odd_properties(kind, inputs, environment):
    from tests.policies.cases import Res

    doc = document(
        [Res(kind, "fuzz", inputs), Res(kind, "other", {"spec": inputs, "metadata": inputs})], environment
    )
    analyze_in_process(doc, environment_config(environment))
