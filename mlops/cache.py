"""Platform outputs computed once: a team stack's StackReference answered from a cache on disk.

A team preview, check or test needs its platform stack's outputs as deployed, which takes a whole synthesis of
the platform. The result is stored under the cache folder (``$MLOPS_CACHE_DIR``, else ``.mlops-cache/`` in the
repository) as one JSON file per platform stack and key. The key is a hash of everything that can change the
outputs:

- the stack name and the platform stack file's bytes (its config is the program's only input);
- the project's code that runs during a synthesis: every ``.py``, ``.json`` and ``.yaml`` file under
  ``components/``, ``mlops/`` and ``stacks/`` (the programs; the stack files there are left out, since a team's
  file does not change its platform's outputs and the platform's own file is hashed above), and ``Pulumi.yaml``.
  ``policies/`` is left out on purpose: the pack reads a preview, it never takes part in one, so a policy change
  cannot change an output. Files are hashed from the folders, not from git, so an uncommitted edit counts too;
- ``uv.lock`` (the locked SDK and provider versions) and the Python version.

A different key is a different file, so a stale entry is never read. Entries are written atomically (a
temporary file renamed into place), so parallel runs and test workers can share the folder; an unreadable entry
is recomputed. Each write keeps the ``KEEP`` most recently used entries of its stack (a read
counts as a use) and removes older ones,
so the folder (and a CI cache restored from it) stays small however many revisions ran.
``disable()`` (the commands' ``--no-cache``) bypasses the folder for reads and writes, in this process and the
workers it forks after. Outputs computed in this process are also kept in memory, so forked workers inherit them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("components", "mlops", "stacks")
CODE_SUFFIXES = (".py", ".json", ".yaml")
ROOT_FILES = ("Pulumi.yaml", "uv.lock")
CACHE_DIR_ENV = "MLOPS_CACHE_DIR"
FORMAT = 1  # bumped when the entry's shape changes
KEEP = 4  # entries kept per stack: a few branches checked in turn each find theirs

_memory: dict[str, dict[str, Any]] = {}
_disabled: list[bool] = []


def disable() -> None:
    """``--no-cache``: neither read nor write the folder from now on (forked workers inherit it)."""
    _disabled.append(True)


def enabled() -> bool:
    return not _disabled


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured) if configured else REPO_ROOT / ".mlops-cache"


def code_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files whose content is part of the key, sorted (see the module docstring for the choice)."""
    found: list[Path] = [root / name for name in ROOT_FILES if (root / name).is_file()]
    for folder in CODE_DIRS:
        for path in (root / folder).rglob("*"):
            if (
                path.suffix in CODE_SUFFIXES
                and path.is_file()
                and "__pycache__" not in path.parts
                and not (folder == "stacks" and path.name.startswith("Pulumi."))
            ):
                found.append(path)
    return sorted(found)


#: The distributions a synthesis runs on. uv.lock says what should be installed; these say what is (a lock
#: changed by a pull but not yet synced must not file old outputs under the new lock's key).
DISTRIBUTIONS = (
    "pulumi",
    "pulumi-aws",
    "pulumi-kubernetes",
    "pulumi-random",
    "pulumi-policy",
    "grpcio",
    "protobuf",
)


def installed_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def one(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "absent"

    return " ".join(f"{name}=={one(name)}" for name in DISTRIBUTIONS)


def files_digest(header: str, files: Iterable[Path], root: Path = REPO_ROOT) -> str:
    """A hash of ``header``, the Python version, the installed SDK versions and each file's path (relative to
    ``root``) and bytes."""
    digest = hashlib.sha256(
        f"format {FORMAT}\npython {sys.version}\n{installed_versions()}\n{header}\n".encode()
    )
    for path in files:
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_digest(root: Path = REPO_ROOT) -> str:
    """One hash of the project's code, locked dependencies and Python version (what every key shares)."""
    return files_digest("code", code_files(root), root)


def outputs_key(stack: str, stack_file: Path, root: Path = REPO_ROOT) -> str:
    """The key of a platform stack's outputs: its name, its file's bytes and the code digest."""
    digest = hashlib.sha256(f"{stack}\0".encode())
    digest.update(hashlib.sha256(Path(stack_file).read_bytes()).digest())
    digest.update(code_digest(root).encode())
    return digest.hexdigest()[:32]


def entry_path(stack: str, key: str) -> Path:
    return cache_dir() / f"outputs-{stack}-{key}.json"


def read_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The value stored at ``path`` when the file is whole and carries ``key``; None otherwise."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("value"), dict):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # a read counts as recent use: pruning removes the entries nobody read for longest
    return entry["value"]


def write_entry(path: Path, key: str, value: dict[str, Any]) -> None:
    """Write an entry whole or not at all: a temporary file in the same folder renamed into place. A cache that
    cannot be written (read-only checkout) only costs the next run a recomputation."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump({"key": key, "value": value}, stream, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return
    prune(path, key)


def prune(path: Path, key: str, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` most recently written or read entries that differ from ``path`` only by their
    key (another stack whose name starts the same, ``dev`` and ``dev-eu``, is another prefix: keys are hex digests
    of one length), and temporary files an interrupted write left more than an hour ago."""
    prefix = path.name[: -len(f"{key}.json")]
    pattern = re.compile(rf"^{re.escape(prefix)}[0-9a-f]{{{len(key)}}}\.json$")
    try:
        siblings = [entry for entry in path.parent.iterdir() if pattern.match(entry.name)]
        siblings.sort(key=lambda entry: (entry.stat().st_mtime_ns, entry == path), reverse=True)
    except OSError:
        return
    for entry in siblings[keep:]:
        if entry != path:
            entry.unlink(missing_ok=True)
    stale = time.time() - 3600
    leftovers = re.compile(rf"^\.{re.escape(prefix)}[0-9a-f]{{{len(key)}}}\.json\..*\.tmp$")
    for leftover in path.parent.glob(f".{prefix}*.tmp"):
        with contextlib.suppress(OSError):
            if leftovers.match(leftover.name) and leftover.stat().st_mtime < stale:
                leftover.unlink()


def cached_outputs(
    stack: str,
    stack_file: Path,
    compute: Callable[[], dict[str, Any]],
    root: Path = REPO_ROOT,
) -> dict[str, Any]:
    """The platform stack's outputs: from memory or the cache folder when the key matches, else ``compute()``
    (then stored). With the cache disabled the folder is neither read nor written; what this process computed
    (or a forking parent handed down through ``remember``) is still used."""
    key = outputs_key(stack, stack_file, root)
    if key not in _memory:
        _memory[key] = through(entry_path(stack, key), key, compute)
    return _memory[key]


def through(path: Path, key: str, compute: Callable[[], Any]) -> Any:
    """The value stored at ``path`` under ``key``, else ``compute()`` stored there; with the cache disabled,
    ``compute()`` and nothing read or written."""
    value = read_entry(path, key) if enabled() else None
    if value is None:
        value = compute()
        if enabled():
            write_entry(path, key, value)
    return value


def missing(stacks: Iterable[tuple[str, Path]], root: Path = REPO_ROOT) -> list[str]:
    """The platform stacks (name, stack file) whose outputs neither memory nor the cache folder holds."""
    found = []
    for stack, file in stacks:
        key = outputs_key(stack, file, root)
        if key in _memory:
            continue
        value = read_entry(entry_path(stack, key), key) if enabled() else None
        if value is None:
            found.append(stack)
        else:
            _memory[key] = (
                value  # kept: forked children use it, even if another run prunes the file meanwhile
            )
    return found


def remember(
    stack: str, stack_file: Path, outputs: dict[str, Any], root: Path = REPO_ROOT, write: bool = True
) -> None:
    """Keep outputs computed elsewhere (a forked child) in memory, and in the folder when the cache is on and
    ``write`` is set."""
    key = outputs_key(stack, stack_file, root)
    _memory[key] = outputs
    if write and enabled():
        write_entry(entry_path(stack, key), key, outputs)
