"""Model version provenance in the team spec and licences in the platform spec: one-line errors naming the file
and key path, SPDX identifiers checked against the SPDX License List as the `license-expression` package bundles
it (an oracle written elsewhere), labels, annotations and tag values built from it."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from license_expression import get_spdx_licensing

from components.config import parse_platform, parse_team
from components.loader import ConfigError
from components.serving.config import check_team_on_platform, platform_serving
from components.serving.provenance import (
    ModelLicenses,
    provenance_annotations,
    provenance_output,
    provenance_tags,
    spdx_problem,
    tag_value,
    version_labels,
)
from policies import provenance as policy
from tests.conftest import STACKS

TEAM_FILE = STACKS / "Pulumi.team-fraud-prod.yaml"


def team_value() -> dict:
    return copy.deepcopy(yaml.safe_load(TEAM_FILE.read_text())["config"]["mlops:team"])


def platform_value(stack: str = "prod") -> dict:
    return copy.deepcopy(
        yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())["config"]["mlops:platform"]
    )


def error_of(value: dict, file: Path = TEAM_FILE) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_team(value, file)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_shipped_team_stacks_carry_full_provenance():
    for env in ("dev", "prod"):
        team = parse_team(
            yaml.safe_load((STACKS / f"Pulumi.team-fraud-{env}.yaml").read_text())["config"]["mlops:team"],
            None,
        )
        for model in team.models:
            for version in model.versions:
                assert version.source is not None and re.fullmatch(r"[0-9a-f]{40}", version.source.commit)
                assert version.source.repository.startswith("https://")
                assert get_spdx_licensing().validate(version.license).errors == []
                assert version.run.startswith(("runs:/", "models:/"))


@pytest.mark.parametrize("key", ["source", "license", "run"])
def test_prod_requires_each_provenance_key_naming_the_file_and_key_path(key):
    value = team_value()
    del value["models"][1]["versions"][1][key]
    message = error_of(value)
    assert message.startswith(
        f"{TEAM_FILE}: mlops:team.models[1].versions[1].{key}: missing; required in prod"
    )


def test_provenance_is_optional_outside_prod():
    value = team_value()
    value.update(environment="dev", **{"platform-stack": "dev"})
    for model in value["models"]:
        for version in model["versions"]:
            for key in ("source", "license", "run", "notes"):
                version.pop(key, None)
    team = parse_team(value, None)
    assert team.models[0].versions[0].source is None and team.models[0].versions[0].license is None


@pytest.mark.parametrize(
    ("key", "bad", "expected"),
    [
        ("commit", "3f9c2a7", "'3f9c2a7' is not a commit id; allowed: 40 lowercase hex digits"),
        ("repository", "github.com/x", "'github.com/x' is not a repository URL"),
    ],
)
def test_a_malformed_source_is_one_line_naming_the_key(key, bad, expected):
    value = team_value()
    value["models"][0]["versions"][0]["source"][key] = bad
    message = error_of(value)
    assert f"mlops:team.models[0].versions[0].source.{key}: " in message and expected in message


def test_a_malformed_run_is_one_line_naming_the_key():
    value = team_value()
    value["models"][0]["versions"][0]["run"] = "mlflow run 42"
    message = error_of(value)
    assert "mlops:team.models[0].versions[0].run: 'mlflow run 42' is not an MLflow model URI" in message


@pytest.mark.parametrize(
    ("license_", "problem"),
    [
        ("Apache-3.0", "is not an SPDX license identifier"),
        ("apache-2.0", "is not spelt as the SPDX License List spells it; allowed: 'Apache-2.0'"),
        ("MIT OR Apache-2.0", "is a license expression; allowed: one SPDX license identifier"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "is a license expression"),
        ("GPL-2.0+", "allowed: 'GPL-2.0-or-later'"),  # the deprecated form the list replaced
    ],
)
def test_license_is_one_spdx_identifier_as_the_list_spells_it(license_, problem):
    value = team_value()
    value["models"][0]["versions"][0]["license"] = license_
    assert problem in error_of(value)
    # The oracle agrees on which are not even valid expressions.
    assert (get_spdx_licensing().validate(license_).errors != []) == (license_ == "Apache-3.0")


def test_spdx_identifiers_of_the_list_pass():
    for identifier in ("Apache-2.0", "MIT", "CC-BY-NC-4.0", "BSD-3-Clause", "CC0-1.0", "GPL-2.0-or-later"):
        assert spdx_problem(identifier) is None


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("LicenseRef-Proprietary", None),
        ("LicenseRef-Beerware-4.2", None),  # the SPDX specification's own example (clause 10.1.3)
        ("LicenseRef-scancode-public-domain", None),  # a ScanCode key: it has the same form
        ("LicenseRef-acme.model-1", None),
        ("LicenseRef-License_with_underscores", "is not a user-defined SPDX license reference"),
        ("LicenseRef-", "is not a user-defined SPDX license reference"),
        ("licenseref-Proprietary", "is not a user-defined SPDX license reference"),
        ("LicenseRef-with spaces", "is not a user-defined SPDX license reference"),
    ],
)
def test_user_defined_license_references_of_the_spdx_form(reference, problem):
    """SPDX specification 2.2.2, clause 10.1.1 (https://spdx.github.io/spdx-spec/v2.2.2/
    other-licensing-information-detected/): a licence not on the SPDX License List is "LicenseRef-"[idstring],
    idstring "a unique string containing letters, numbers, . and/or -". ScanCode's LicenseRef-scancode-* keys are
    accepted when (and because) they have that form, like any other reference."""
    value = team_value()
    value["models"][0]["versions"][0]["license"] = reference
    if problem is None:
        assert spdx_problem(reference) is None
        assert parse_team(value, TEAM_FILE).models[0].versions[0].license == reference
    else:
        assert error_of(value) == (
            f"{TEAM_FILE}: mlops:team.models[0].versions[0].license: {reference!r} is not a user-defined SPDX "
            "license reference; allowed: LicenseRef- followed by letters, digits, '.' and '-' "
            "(e.g. LicenseRef-Proprietary)"
        )


def test_prod_platform_stacks_require_model_licenses():
    value = platform_value("prod")
    del value["model-licenses"]
    with pytest.raises(ConfigError) as caught:
        parse_platform(value, STACKS / "Pulumi.prod.yaml")
    assert str(caught.value) == (
        f"{STACKS / 'Pulumi.prod.yaml'}: mlops:platform.model-licenses: missing; required in prod: the licences "
        "its model versions may carry (model-licenses.allowed: [SPDX identifiers])"
    )
    dev = platform_value("dev")
    del dev["model-licenses"]
    assert parse_platform(dev, None).model_licenses is None  # optional elsewhere: any licence


def test_every_shipped_prod_platform_stack_has_model_licenses():
    from tests.conftest import FIXTURES

    prod = []
    for file in [*STACKS.glob("Pulumi.*.yaml"), *FIXTURES.glob("Pulumi.*.yaml")]:
        config = yaml.safe_load(file.read_text())["config"]
        platform = config.get("mlops:platform")
        if platform is not None and platform.get("environment") == "prod":
            prod.append(file.name)
            assert platform["model-licenses"]["allowed"], file
    assert len(prod) == 8


def test_a_license_the_platform_does_not_allow_is_a_config_error_of_the_team_stack():
    value = team_value()
    value["models"][1]["versions"][1]["license"] = "CC-BY-NC-4.0"
    team = parse_team(value, TEAM_FILE)
    platform = parse_platform(platform_value("prod"), STACKS / "Pulumi.prod.yaml")
    with pytest.raises(ConfigError) as caught:
        check_team_on_platform(team, TEAM_FILE, platform_serving("prod", platform))
    assert str(caught.value) == (
        f"{TEAM_FILE}: mlops:team.models[1].versions[1].license: 'CC-BY-NC-4.0' is not allowed by platform stack "
        "'prod' (model-licenses.allowed); allowed: Apache-2.0, MIT, BSD-2-Clause, BSD-3-Clause, ISC, MPL-2.0, "
        "CC-BY-4.0, CC0-1.0"
    )
    # dev allows non-commercial licences for evaluation
    dev = parse_platform(platform_value("dev"), None)
    assert "CC-BY-NC-4.0" in dev.model_licenses.allowed
    assert "CC-BY-NC-4.0" not in platform.model_licenses.allowed


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (
            ["Apache-2.0", "Nonesuch-1.0"],
            "mlops:platform.model-licenses.allowed[1]: 'Nonesuch-1.0' is not an SPDX",
        ),
        (["MIT", "MIT"], "mlops:platform.model-licenses.allowed[1]: 'MIT' is listed twice"),
        ([], "mlops:platform.model-licenses.allowed: "),
    ],
)
def test_platform_model_licenses_errors_are_one_line(allowed, expected):
    value = platform_value("prod")
    value["model-licenses"] = {"allowed": allowed}
    with pytest.raises(ConfigError) as caught:
        parse_platform(value, STACKS / "Pulumi.prod.yaml")
    assert str(caught.value).startswith(f"{STACKS / 'Pulumi.prod.yaml'}: {expected}")
    assert "\n" not in str(caught.value)


def test_platform_model_licenses_forbid_unknown_keys():
    value = platform_value("prod")
    value["model-licenses"] = {"allowed": ["MIT"], "denied": ["GPL-3.0-only"]}
    with pytest.raises(ConfigError) as caught:
        parse_platform(value, None)
    assert "mlops:platform.model-licenses.denied" in str(caught.value)
    assert ModelLicenses(allowed=["MIT"]).allowed == ["MIT"]


def test_recommended_labels_of_a_model_version():
    """https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/: name, instance, version,
    part-of and managed-by under app.kubernetes.io/."""
    assert version_labels("team-fraud", "scorer", "v3") == {
        "app.kubernetes.io/name": "scorer",
        "app.kubernetes.io/instance": "scorer-v3",
        "app.kubernetes.io/version": "v3",
        "app.kubernetes.io/part-of": "team-fraud",
        "app.kubernetes.io/managed-by": "pulumi",
        "mlops.platform/purpose": "model-version",
    }


def test_annotations_tags_and_output_of_a_version():
    version = parse_team(team_value(), None).models[1].versions[1]
    assert provenance_annotations(version) == {
        "mlops.platform/source": "https://github.com/example-org/fraud-embedder",
        "mlops.platform/commit": "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1",
        "mlops.platform/license": "MIT",
        "mlops.platform/run": "runs:/5f3b2c1d9e8a4f7b6c5d4e3f2a1b0c9d/model",
        "mlops.platform/notes": "Canary: distilled from v1 on the same training set.",
    }
    assert provenance_tags(version) == {
        "model-source": "https://github.com/example-org/fraud-embedder",
        "model-commit": "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1",
        "model-license": "MIT",
        "model-run": "runs:/5f3b2c1d9e8a4f7b6c5d4e3f2a1b0c9d/model",
    }
    assert provenance_output(version)["source"] == {
        "repository": "https://github.com/example-org/fraud-embedder",
        "commit": "c4e7a0d3f6b9c2e5a8d1f4b7e0a3c6f9b2d5e8a1",
    }


def test_tag_values_keep_to_the_aws_tag_value_characters_and_length():
    """https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_Tag.html: a tag value is 0-256
    characters of letters, separators, digits and _ . : / = + - @."""
    assert (
        tag_value("https://git.example/team/model~v2?ref=(main)")
        == "https://git.example/team/model_v2_ref=_main_"
    )
    assert tag_value("models:/fraud scorer/3") == "models:/fraud scorer/3"
    assert tag_value("ssh://git@host:22/a\tb") == "ssh://git@host:22/a_b"  # a tab is a control character
    assert tag_value("héllo wörld") == "héllo wörld"  # letters of any script are allowed
    assert tag_value("a|b*c") == "a_b_c"
    assert len(tag_value("x" * 300)) == 256


def test_the_policies_read_the_keys_the_components_write():
    from components.serving import provenance as written

    assert policy.PURPOSE_LABEL == written.PURPOSE_LABEL
    assert policy.MODEL_VERSION == written.MODEL_VERSION_PURPOSE
    assert policy.REQUIRED_IN_PROD == written.REQUIRED_ANNOTATIONS


def test_owners_alerts_errors_are_one_line_naming_the_key():
    value = team_value()
    value["owners"]["alerts"] = [{"protocol": "email", "endpoint": "not-an-address"}]
    assert "mlops:team.owners.alerts[0].endpoint: 'not-an-address' is not an e-mail address" in error_of(
        value
    )
    value["owners"]["alerts"] = [{"protocol": "sms", "endpoint": "+15550100"}]
    assert "mlops:team.owners.alerts[0].protocol: " in error_of(value)
