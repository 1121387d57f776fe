"""Lazy start-up: single commands import only what they use (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = (
    "import json, sys\n"
    "from mlops.__main__ import main\n"
    "sys.argv = ['mlops', *sys.argv[1:]]\n"
    "code = None\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "roots = sorted({name.split('.')[0] for name in sys.modules})\n"
    "print(json.dumps({'code': code, 'roots': roots, 'policies': 'policies.pack' in sys.modules}),"
    " file=sys.stderr)\n"
)


def loaded(*args: str, env: dict[str, str] | None = None) -> dict:
    """Exit code and the top-level modules loaded by the command in a fresh interpreter."""
    import os

    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_team_validate_imports_no_pulumi_sdk():
    probe = loaded("team", "validate", "team-fraud-prod")
    assert probe["code"] in (0, None)
    assert not {"pulumi", "pulumi_aws", "pulumi_kubernetes", "pulumi_policy", "grpc"} & set(probe["roots"])


def test_check_from_a_saved_preview_imports_no_provider_sdk(synth, tmp_path):
    """`mlops check --from` leaves the pack and the policy SDK to the pack's own process (started as the engine
    starts it); with the pack's config cached, the command's own process never imports them, nor any provider
    SDK, and even a cold cache loads the policy SDK only (for the config)."""
    saved = tmp_path / "dev.json"
    saved.write_text(json.dumps(synth("dev")))
    env = {"MLOPS_CACHE_DIR": str(tmp_path / "cache")}
    cold = loaded("check", "--from", str(saved), env=env)
    warm = loaded("check", "--from", str(saved), env=env)
    assert cold["code"] in (0, None) and warm["code"] in (0, None)
    assert not {"pulumi_aws", "pulumi_kubernetes"} & set(cold["roots"])
    assert not {"pulumi_aws", "pulumi_kubernetes", "pulumi_policy"} & set(warm["roots"])
    assert warm["policies"] is False and cold["policies"] is True
    assert list((tmp_path / "cache").glob("policy-config-dev-*.json"))
