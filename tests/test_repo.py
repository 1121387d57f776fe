"""The repository's own promises: CI runs the README's test command; the project layout is as documented."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index("## Quick start")
    blocks = re.findall(r"```sh\n(.*?)\n```", text[start:], flags=re.S)
    return [block.strip() for block in blocks[:2]]


def test_readme_shows_the_two_fresh_machine_commands_first():
    main_job, tests = readme_commands()
    assert main_job.endswith("mlops preview dev")
    assert "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in ci if line.strip() and not line.lstrip().startswith("#")]
    assert readme_commands()[1] in commands


def test_pulumi_project_file():
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "mlops-platform"
    assert project["main"] == "stacks/"
    assert project["stackConfigDir"] == "stacks"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


def test_ruff_is_clean():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout[-3000:]


def test_every_test_the_first_deployment_guide_names_exists():
    """docs/first-deployment.md backs its claims with tests by `file::name`: each must be a test of that file."""
    import re

    guide = (REPO / "docs" / "first-deployment.md").read_text()
    named = re.findall(r"(tests/[\w/]+\.py)::(test_\w+)", guide)
    assert len(named) >= 20
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not re.search(rf"^def {name}\(", (REPO / path).read_text(), re.MULTILINE)
    ]
    assert missing == []
