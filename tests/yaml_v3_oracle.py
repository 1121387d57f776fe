"""gopkg.in/yaml.v3, the YAML reader of Pulumi's CLI, as an oracle for components/loader.py.

tests/yaml_v3/main.go reads documents the way Pulumi reads a stack file. It is built here, offline, in GOPATH
mode against Debian's golang-gopkg-yaml.v3-dev (source under /usr/share/gocode/src/gopkg.in/yaml.v3), once per
test session, into the session's temporary directory. The ``yaml_v3`` fixture skips the tests that use it when
Go or that source is absent, except when MLOPS_REQUIRE_YAML_ORACLE=1 (as .ci/run sets it), where it fails.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

GOPATH = Path("/usr/share/gocode")
SOURCE = GOPATH / "src" / "gopkg.in" / "yaml.v3"
PROGRAM = Path(__file__).parent / "yaml_v3"


class YamlV3:
    """One running oracle process, answering one request per line (the protocol in main.go's header)."""

    def __init__(self, binary: Path):
        self.process = subprocess.Popen(
            [str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
        )

    def read(self, data: str | bytes, mode: str = "yaml") -> tuple[bool, Any]:
        """(True, the value the program receives) or (False, yaml.v3's or Pulumi's error)."""
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{mode} {base64.b64encode(raw).decode()}\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        return (True, reply.get("value")) if reply["ok"] else (False, reply["error"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def build(target: Path) -> Path:
    """Compile main.go with no network: GOPATH mode finds gopkg.in/yaml.v3 in Debian's GOPATH tree."""
    binary = target / "yaml_v3"
    environment = {
        **os.environ,
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOCACHE": str(target / "gocache"),
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=PROGRAM,
        env=environment,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return binary


def unavailable() -> str | None:
    """Why the oracle cannot be built here, or None."""
    if shutil.which("go") is None:
        return "go is not installed (Debian package golang-go)"
    if not (SOURCE / "yaml.go").is_file():
        return f"{SOURCE} is absent (Debian package golang-gopkg-yaml.v3-dev)"
    return None


@pytest.fixture(scope="session")
def yaml_v3(tmp_path_factory):
    reason = unavailable()
    if reason is not None:
        if os.environ.get("MLOPS_REQUIRE_YAML_ORACLE") == "1":
            pytest.fail(f"the yaml.v3 oracle is required (MLOPS_REQUIRE_YAML_ORACLE=1) but {reason}")
        pytest.skip(f"the yaml.v3 oracle cannot be built: {reason}")
    oracle = YamlV3(build(tmp_path_factory.mktemp("yaml_v3")))
    yield oracle
    oracle.close()


def same(left: Any, right: Any) -> bool:
    """Equal as JSON values: an int and a float of one value are the same number (Go's encoding/json writes
    1000.0 as 1000), but a boolean is never a number, as it is to Python's ==."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right
