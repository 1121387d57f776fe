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
    """`mlops check --from` leaves the provider SDKs alone: the command reads the document, the pack's config and
    talks to the pack's own process (started as the engine starts it)."""
    saved = tmp_path / "dev.json"
    saved.write_text(json.dumps(synth("dev")))
    probe = loaded("check", "--from", str(saved))
    assert probe["code"] in (0, None)
    assert not {"pulumi_aws", "pulumi_kubernetes"} & set(probe["roots"])
    assert {"grpc", "pulumi"} <= set(probe["roots"])
