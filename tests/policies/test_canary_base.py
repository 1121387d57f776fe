"""The canary policy compares a team stack's versions with the base revision's traffic (pack config
``baseTraffic``), never with what the file says of itself: the exact findings of each way around it."""

from __future__ import annotations

from policies.pack import all_policies, environment_config
from tests.policies.cases import BASE, STEPPED, canary, document, urn
from tests.policies.validate import analyze_in_process

all_policies()
POLICY = "model-canary-first-step"
DESCRIPTION = (
    "A model version the base revision does not serve enters traffic at the team's first canary step, unless "
    "the file records why it starts higher (canary-override)."
)


def findings(resources, properties: dict | None = None) -> list[tuple[str, str]]:
    config = environment_config("team-prod")
    config[POLICY] = {"enforcementLevel": "mandatory", **(properties or {})}
    return [
        (v.urn, v.message.removeprefix(DESCRIPTION + "\n"))
        for v in analyze_in_process(document(resources), config)
        if v.policy == POLICY
    ]


def test_a_hand_written_stepped_from_on_a_new_version_is_no_reason():
    v3 = canary("embedder", "v3", 50, **STEPPED)
    assert findings([canary("embedder", "v1", 50), v3], BASE) == [
        (
            urn(v3),
            "version 'm' (model 'embedder', version 'v3') is not in the base revision, which serves v1, v2, and "
            "takes 50% of traffic, above the first canary step 10% (stepped-from '10' is a record, not a reason): "
            "start it at 10% and promote it step by step (`mlops promote --step`), or state why in "
            "canary-override",
        )
    ]


def test_a_new_version_listed_first_is_still_new():
    v3 = canary("embedder", "v3", 100, "first")
    (finding,) = findings([v3, canary("embedder", "v1", 0)], BASE)
    assert finding[0] == urn(v3)
    assert finding[1].startswith("version 'm' (model 'embedder', version 'v3') is not in the base revision")


def test_a_version_served_at_base_steps_up_and_a_new_model_takes_everything():
    assert findings([canary("embedder", "v1", 50), canary("embedder", "v2", 50)], BASE) == []
    assert findings([canary("ranker", "v1", 100, "first")], BASE) == []
    # The team's team-prod config holds the placeholder; the pack config of a new stack holds {}.
    assert environment_config("team-prod")[POLICY]["baseTraffic"] == "BASE_REVISION_TRAFFIC"
    assert findings([canary("embedder", "v3", 100, "first")], {"baseTraffic": {}}) == []


def test_the_unfilled_placeholder_is_one_finding_naming_the_property_and_the_command():
    versions = [canary("embedder", "v1", 50), canary("embedder", "v3", 50)]
    assert findings(versions, {"baseTraffic": "BASE_REVISION_TRAFFIC"}) == [
        (
            "",
            "pack config baseTraffic is 'BASE_REVISION_TRAFFIC', not the base revision's traffic; fill it with "
            "`mlops pack-config STACK --base REF` (what was deployed, or the pull request's base)",
        )
    ]


def test_without_a_base_a_version_above_the_first_step_fails_closed():
    v2 = canary("embedder", "v2", 50)
    assert findings([v2, canary("embedder", "v1", 10, "first")]) == [
        (
            urn(v2),
            "version 'm' cannot be compared with the base revision (the pack config has no baseTraffic) and takes "
            "50% of traffic, above the first canary step 10%: start it at 10% and promote it step by step "
            "(`mlops promote --step`), or state why in canary-override",
        )
    ]
