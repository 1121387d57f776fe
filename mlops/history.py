"""`mlops history`: a model's release history, read from the git history of its team stack file.

Every revision of the file (followed across renames) is read with the same strict reader and team spec as the
stack itself; consecutive revisions are compared per model version: added, removed, a new image (digest) or a
new weight. Each change names its commit, author and date, and the pull request when a message names it:
the commit's own subject (`Title (#12)`, how squash merges are written) or the first merge commit that brought
it into the current branch (`Merge pull request #12 from ...`).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from components.config import parse_team
from components.loader import (
    ConfigError,
    UnknownStackError,
    decode_text,
    list_stacks,
    parse_yaml,
    refusal,
    stack_file,
)
from components.serving.config import TeamConfig
from components.stackfile import TEAM_KEY, read_stack_config
from policies.team_config import Traffic

FORMATS = ("text", "json", "markdown")
_SQUASH = re.compile(r"\(#(\d+)\)\s*$")
_MERGE = re.compile(r"^Merge pull request #(\d+)\b")
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Change:
    commit: str
    author: str
    date: str  # ISO 8601, the author date
    pull_request: int | None
    model: str
    version: str
    change: str  # added, removed, image, weight
    before: str | int | None
    after: str | int | None


@dataclass(frozen=True)
class Revision:
    commit: str
    author: str
    date: str
    subject: str
    path: str


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False, timeout=120
        )
    except FileNotFoundError:
        raise ConfigError(
            None, "", "git is not installed; mlops history reads the repository's history"
        ) from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split()) or f"git {args[0]} failed"
        raise ConfigError(None, "", f"git {args[0]}: {message}")
    return done.stdout


def revisions(root: Path, path: str) -> list[Revision]:
    """The commits that changed ``path`` (followed across renames), oldest first, with its path in each."""
    out = _git(
        root,
        "log",
        "--follow",
        "--name-status",
        f"--format=%x1e%H{_SEPARATOR}%an{_SEPARATOR}%aI{_SEPARATOR}%s",
        "--",
        path,
    )
    found = []
    for record in out.split("\x1e")[1:]:
        head, _, rest = record.partition("\n")
        commit, author, date, subject = head.split(_SEPARATOR, 3)
        status = [line.split("\t") for line in rest.splitlines() if line.strip()]
        if not status or status[-1][0].startswith("D"):
            continue  # a deletion leaves nothing to read
        found.append(Revision(commit, author, date, subject, status[-1][-1]))
    return list(reversed(found))


def _team_in(root: Path, commit: str, path: str, label: str) -> TeamConfig:
    """The team spec of ``path`` at ``commit``, read with the stack's own strict reader (ConfigError naming
    ``label`` when that revision does not hold a valid one)."""
    blob = subprocess.run(
        ["git", "-C", str(root), "show", f"{commit}:{path}"], capture_output=True, check=False, timeout=60
    )
    with refusal(label):
        document = parse_yaml(decode_text(blob.stdout))
    config = document.get("config") if isinstance(document, dict) else None
    raw = config.get(TEAM_KEY) if isinstance(config, dict) else None
    return parse_team(raw, label)


def team_at(root: Path, revision: Revision) -> TeamConfig | None:
    """The team spec of the file at ``revision`` (None when that revision does not hold a valid one)."""
    try:
        return _team_in(root, revision.commit, revision.path, f"{revision.commit[:12]}:{revision.path}")
    except ConfigError:
        return None


def git_root(folder: Path) -> Path | None:
    """The top of the git work tree holding ``folder``; None outside one (or without git)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        return None
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def resolve_commit(root: Path, ref: str) -> str | None:
    """The commit ``ref`` names in the repository at ``root``; None when it names none."""
    if not ref or ref.startswith("-"):
        return None
    done = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def revision_in(folder: Path, ref: str, option: str) -> tuple[Path, str]:
    """(the git work tree holding ``folder``, the commit ``ref`` names there); one-line errors naming
    ``option`` when there is no repository or no such commit."""
    root = git_root(folder)
    if root is None:
        raise ConfigError(
            None, "", f"{option}: {folder} is not in a git repository, so no revision can be read"
        )
    commit = resolve_commit(root, ref)
    if commit is None:
        raise ConfigError(None, "", f"{option}: {ref!r} names no commit of the repository at {root}")
    return root, commit


def team_in(stacks_dir: Path, stack: str, ref: str, option: str = "--base") -> TeamConfig | None:
    """The team stack's spec at the git revision ``ref`` (``option`` names where it came from, for errors), read
    from the stack file at ``ref`` with the strict reader and team spec; None when the file did not exist there."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise UnknownStackError(stack, Path(stacks_dir), list_stacks(stacks_dir))
    root, commit = revision_in(path.resolve().parent, ref, option)
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    exists = subprocess.run(
        ["git", "-C", str(root), "cat-file", "-e", f"{commit}:{relative}"], capture_output=True, check=False
    )
    if exists.returncode != 0:
        return None
    return _team_in(root, commit, relative, f"{ref}:{relative}")


def base_traffic(stacks_dir: Path, stack: str, ref: str, option: str = "--base") -> Traffic:
    """The team stack's traffic at the git revision ``ref``: model -> version -> weight (team_in); ``{}`` when
    the file did not exist there (a new stack: every model is new)."""
    team = team_in(stacks_dir, stack, ref, option)
    if team is None:
        return {}
    return {model.name: {version.name: version.weight for version in model.versions} for model in team.models}


def _is_ancestor(root: Path, commit: str, of: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(root), "merge-base", "--is-ancestor", commit, of], capture_output=True, check=False
    )
    return done.returncode == 0


def pull_request(root: Path, revision: Revision) -> int | None:
    """The pull request that brought ``revision`` in, when a commit message names it."""
    match = _SQUASH.search(revision.subject) or _MERGE.match(revision.subject)
    if match:
        return int(match.group(1))
    merges = _git(root, "rev-list", "--ancestry-path", "--merges", "--reverse", f"{revision.commit}..HEAD")
    for merge in merges.split():
        # The merge that brought the commit in: it reaches the commit through its merged side only.
        if _is_ancestor(root, revision.commit, f"{merge}^1"):
            continue
        subject = _git(root, "log", "-1", "--format=%s", merge).strip()
        found = _MERGE.match(subject) or _SQUASH.search(subject)
        if found:
            return int(found.group(1))
    return None


def _versions(team: TeamConfig | None, model: str) -> dict[str, tuple[str, int]]:
    for spec in team.models if team is not None else []:
        if spec.name == model:
            return {version.name: (version.image, version.weight) for version in spec.versions}
    return {}


def digest(image: str) -> str:
    """An image's digest (`sha256:...`), or the reference itself when it has none."""
    return image.rsplit("@", 1)[-1] if "@" in image else image


def changes(previous: dict[str, tuple[str, int]], current: dict[str, tuple[str, int]]) -> list[tuple]:
    """(version, change, before, after) between two revisions of one model's versions."""
    found: list[tuple] = []
    for name, (image, weight) in current.items():
        if name not in previous:
            found.append((name, "added", None, f"{digest(image)} at {weight}"))
            continue
        old_image, old_weight = previous[name]
        if old_image != image:
            found.append((name, "image", digest(old_image), digest(image)))
        if old_weight != weight:
            found.append((name, "weight", old_weight, weight))
    found += [(name, "removed", previous[name][1], None) for name in previous if name not in current]
    return found


def release_history(stacks_dir: Path, stack: str, model: str | None = None) -> list[Change]:
    """Every change of a version, image or weight of the stack's models (or ``model``), oldest first."""
    path, raw = read_stack_config(stacks_dir, stack)
    if TEAM_KEY not in raw:
        raise ConfigError(path, TEAM_KEY, "missing; mlops history works on team stack files")
    current = parse_team(raw[TEAM_KEY], path)
    names = [spec.name for spec in current.models]
    if model is not None and model not in names:
        raise ConfigError(path, f"{TEAM_KEY}.models", f"no model {model!r}; models: {', '.join(names)}")
    folder = path.resolve().parent
    root = Path(_git(folder, "rev-parse", "--show-toplevel").strip())
    relative = path.resolve().relative_to(root).as_posix()
    history: list[Change] = []
    previous: TeamConfig | None = None
    for revision in revisions(root, relative):
        team = team_at(root, revision)
        if team is None:
            continue  # a revision the spec refuses never deployed; the next valid one is compared with the last
        found = []
        for name in [model] if model is not None else names:
            found += [(name, *change) for change in changes(_versions(previous, name), _versions(team, name))]
        if found:
            number = pull_request(root, revision)
            history += [
                Change(revision.commit, revision.author, revision.date, number, *change) for change in found
            ]
        previous = team
    return history


def _describe(change: Change) -> str:
    if change.change == "added":
        return f"added {change.after}"
    if change.change == "removed":
        return f"removed (was at {change.before})"
    return f"{change.change} {change.before} -> {change.after}"


def render(history: list[Change], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([asdict(change) for change in history], indent=2)
    rows = [
        (
            change.date,
            change.commit[:12],
            change.author,
            f"#{change.pull_request}" if change.pull_request is not None else "-",
            f"{change.model}/{change.version}",
            _describe(change),
        )
        for change in history
    ]
    header = ("date", "commit", "author", "pull request", "version", "change")
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    if not rows:
        return "no release changes in the file's history"
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in [header, *rows]
    )
