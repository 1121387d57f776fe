"""The platform-output cache: each kind of change recomputes, an unchanged key reads without synthesising."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from mlops import cache
from tests.conftest import REPO, STACKS, run_mlops


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small project tree shaped like the repository, and a cache folder of its own."""
    root = tmp_path / "project"
    for relative in ("components/blocks/context.py", "mlops/synth.py", "stacks/__main__.py"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(f"# {relative}\n")
    (root / "components/network/plan.json").parent.mkdir(parents=True)
    (root / "components/network/plan.json").write_text("{}\n")
    (root / "policies").mkdir()
    (root / "policies/aws_storage.py").write_text("# a policy\n")
    (root / "Pulumi.yaml").write_text("name: mlops-platform\n")
    (root / "uv.lock").write_text('[[package]]\nname = "pulumi-aws"\nversion = "7.0.0"\n')
    (root / "stacks/Pulumi.prod.yaml").write_text("config:\n  mlops:platform: {}\n")
    (root / "stacks/Pulumi.team-a-prod.yaml").write_text("config:\n  mlops:team: {}\n")
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(cache, "_disabled", [])
    monkeypatch.setattr(cache, "_memory", {})
    return root


class Synthesis:
    """A stand-in for the platform synthesis that counts its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> dict:
        self.runs += 1
        return {"environment": "prod", "run": self.runs}


def outputs(root: Path, synthesis: Synthesis) -> dict:
    cache._memory.clear()  # a new process: only the folder survives
    return cache.cached_outputs("prod", root / "stacks/Pulumi.prod.yaml", synthesis, root)


def test_an_unchanged_key_reads_the_cache_without_synthesising(project):
    synthesis = Synthesis()
    assert outputs(project, synthesis) == {"environment": "prod", "run": 1}
    assert outputs(project, synthesis) == {"environment": "prod", "run": 1}
    assert synthesis.runs == 1
    assert [p.name.split("-")[0] for p in (project.parent / "cache").iterdir()] == ["outputs"]


@pytest.mark.parametrize(
    "change",
    [
        "stacks/Pulumi.prod.yaml",  # the platform stack file
        "components/blocks/context.py",  # a component
        "components/network/plan.json",  # a data file a component reads
        "mlops/synth.py",  # the synthesis and its mocks
        "stacks/__main__.py",  # the program
        "Pulumi.yaml",  # the project file
        "uv.lock",  # a locked dependency version
    ],
)
def test_each_kind_of_change_yields_a_new_key_and_recomputes(project, change):
    synthesis = Synthesis()
    before = cache.outputs_key("prod", project / "stacks/Pulumi.prod.yaml", project)
    outputs(project, synthesis)
    with (project / change).open("a") as stream:
        stream.write("# changed\n")
    assert cache.outputs_key("prod", project / "stacks/Pulumi.prod.yaml", project) != before
    assert outputs(project, synthesis) == {"environment": "prod", "run": 2}
    assert synthesis.runs == 2


def test_a_new_code_file_changes_the_key(project):
    before = cache.code_digest(project)
    (project / "components/blocks/naming.py").write_text("# new\n")
    assert cache.code_digest(project) != before


@pytest.mark.parametrize(
    "change", ["stacks/Pulumi.team-a-prod.yaml", "policies/aws_storage.py", "components/README.md"]
)
def test_what_cannot_change_platform_outputs_keeps_the_key(project, change):
    """A team's stack file, a policy and documentation take no part in the platform's synthesis."""
    synthesis = Synthesis()
    outputs(project, synthesis)
    with (project / change).open("a") as stream:
        stream.write("# changed\n")
    assert outputs(project, synthesis)["run"] == 1
    assert synthesis.runs == 1


def test_the_python_version_is_part_of_the_key(project, monkeypatch):
    before = cache.code_digest(project)
    monkeypatch.setattr(cache.sys, "version", "3.12.0 (another interpreter)")
    assert cache.code_digest(project) != before


@pytest.mark.parametrize("content", ["", "{not json", '{"key": "other", "value": {}}', '{"key": "K"}', "[]"])
def test_a_corrupt_or_foreign_cache_file_is_recomputed(project, content):
    synthesis = Synthesis()
    outputs(project, synthesis)
    (entry,) = (project.parent / "cache").iterdir()
    key = json.loads(entry.read_text())["key"]
    entry.write_text(content.replace('"K"', json.dumps(key)))
    assert outputs(project, synthesis) == {"environment": "prod", "run": 2}
    assert json.loads(entry.read_text()) == {"key": key, "value": {"environment": "prod", "run": 2}}


def test_no_cache_neither_reads_nor_writes_the_folder(project, monkeypatch):
    synthesis = Synthesis()
    outputs(project, synthesis)
    (entry,) = (project.parent / "cache").iterdir()
    cache.disable()
    assert outputs(project, synthesis)["run"] == 2
    assert outputs(project, synthesis)["run"] == 3
    assert json.loads(entry.read_text())["value"]["run"] == 1  # the folder was not written
    assert list((project.parent / "cache").iterdir()) == [entry]


def test_entries_are_written_by_rename_leaving_no_temporary_file(project, monkeypatch):
    replaced = []
    real_replace = cache.os.replace
    monkeypatch.setattr(cache.os, "replace", lambda a, b: (replaced.append((a, b)), real_replace(a, b)))
    outputs(project, Synthesis())
    ((temporary, target),) = replaced
    assert Path(temporary).parent == Path(target).parent and Path(temporary).name.startswith(".")
    assert [p.name for p in (project.parent / "cache").iterdir()] == [Path(target).name]


def test_the_repository_key_covers_its_code_and_leaves_out_stack_files_and_policies():
    files = {path.relative_to(REPO).as_posix() for path in cache.code_files(REPO)}
    assert {"uv.lock", "Pulumi.yaml", "stacks/__main__.py", "mlops/mocks.py", "components/config.py"} <= files
    assert not {f for f in files if f.startswith(("policies/", "tests/")) or "/Pulumi." in f}


def test_a_team_preview_reads_its_platform_outputs_from_the_cache_and_no_cache_bypasses_it(tmp_path):
    """End to end: a first team preview stores the platform's outputs; an entry altered under the same key is
    what the next preview reads (so it did not synthesise the platform), and --no-cache ignores it."""
    stacks = tmp_path / "stacks"
    shutil.copytree(STACKS, stacks, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    env = {cache.CACHE_DIR_ENV: str(tmp_path / "cache")}
    args = ("preview", "team-fraud-dev", "--json", "--stacks-dir", str(stacks))
    first = run_mlops(*args, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    (entry,) = (tmp_path / "cache").glob("outputs-dev-*.json")
    stored = json.loads(entry.read_text())
    assert stored["value"]["environment"] == "dev"
    registry = stored["value"]["registry"]
    original = registry["artifactBucketArn"]
    altered = original.replace("-artifacts-", "-artefacts-")
    assert original in first.stdout and altered != original
    registry["artifactBucketArn"] = altered
    entry.write_text(json.dumps(stored))
    cached = run_mlops(*args, env=env)
    assert cached.returncode == 0, cached.stderr[-2000:]
    assert altered in cached.stdout and original not in cached.stdout
    bypassed = run_mlops(*args, "--no-cache", env=env)
    assert bypassed.returncode == 0, bypassed.stderr[-2000:]
    assert json.loads(bypassed.stdout) == json.loads(first.stdout)
    assert json.loads(entry.read_text())["value"]["registry"]["artifactBucketArn"] == altered


def test_the_installed_sdk_versions_are_part_of_the_key(project, monkeypatch):
    """uv.lock says what should be installed; a lock pulled but not synced must not file outputs of the old SDK
    under the new lock's key."""
    before = cache.code_digest(project)
    monkeypatch.setattr(cache, "installed_versions", lambda: "pulumi-aws==0.0.0")
    assert cache.code_digest(project) != before


def test_each_write_keeps_the_newest_entries_of_its_stack_only(project):
    """A stale entry is never read, but neither should it pile up (a CI cache restored run after run): writing
    one keeps the KEEP newest of that stack, and another stack whose name starts the same is left alone."""
    folder = project.parent / "cache"
    other = cache.entry_path("prod-eu", "f" * 32)
    cache.write_entry(other, "f" * 32, {"environment": "prod"})
    written = []
    for number in range(cache.KEEP + 2):
        time.sleep(0.02)  # file times are as coarse as the kernel's clock tick: one write per tick at least
        key = f"{number:x}" * 32
        cache.write_entry(cache.entry_path("prod", key[:32]), key[:32], {"run": number})
        written.append(cache.entry_path("prod", key[:32]).name)
    left = sorted(path.name for path in folder.iterdir())
    assert left == sorted([*written[-cache.KEEP :], other.name])
    assert cache.read_entry(cache.entry_path("prod", "5" * 32), "5" * 32) == {"run": 5}


def test_an_entry_that_is_read_is_kept_before_newer_ones_nobody_reads(project):
    """A read counts as a use: main's entry, read by every run, outlives the variants written after it."""
    folder = project.parent / "cache"
    first = cache.entry_path("prod", "a" * 32)
    cache.write_entry(first, "a" * 32, {"run": "main"})
    for number in range(cache.KEEP + 1):
        time.sleep(0.02)
        assert cache.read_entry(first, "a" * 32) == {"run": "main"}
        time.sleep(0.02)
        key = f"{number:x}" * 32
        cache.write_entry(cache.entry_path("prod", key), key, {"run": number})
    assert first.exists()
    assert len(list(folder.glob("outputs-prod-*.json"))) == cache.KEEP
