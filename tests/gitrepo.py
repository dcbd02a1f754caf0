"""Helpers for tests on real git repositories with chosen dates."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import commit_all, copy_repo, git, init_git, set_top, set_transition

DUAL = "flags/allocation_dual_write.yaml"


def flag_path(repo: Path, name: str) -> Path:
    return repo / "flags" / f"{name}.yaml"


def set_state(
    repo: Path,
    name: str,
    state: str,
    *,
    percentage: int | None = None,
    frm: str | None = "off",
    justification: str = "test change",
    evidence: list[str] | None = None,
    reason: str | None = None,
    from_pct: int | None = None,
) -> None:
    """Put flag ``name`` in ``state`` with a transition block describing a move from ``frm``."""
    path = flag_path(repo, name)
    set_top(path, "state", state)
    set_top(path, "percentage", str(percentage) if percentage is not None else None)
    lines = ["transition:", f"  from: {frm if frm is not None else 'null'}", f"  to: {state}"]
    if from_pct is not None or percentage is not None:
        if from_pct is not None:
            lines.append(f"  from_percentage: {from_pct}")
        if percentage is not None:
            lines.append(f"  to_percentage: {percentage}")
    lines.append(f"  justification: {json.dumps(justification)}")
    if evidence is not None:
        lines.append(f"  evidence: [{', '.join(evidence)}]")
    if reason is not None:
        lines.append(f"  reason_code: {reason}")
    set_transition(path, "\n".join(lines) + "\n")


GOOD_INPUTS = {
    "ledger_total": "1250000.00",
    "legacy_total": "1250000.00",
    "failed_ledger_writes": 0,
    "total_ledger_writes": 120000,
}


def write_run(
    repo: Path,
    flag: str,
    run_id: str,
    seq: int,
    *,
    state: str = "shadow",
    finished: str = "2026-11-20T01:12:00Z",
    started: str | None = None,
    status: str = "green",
    inputs: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    raw: str | None = None,
    override: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    directory = repo / "evidence" / flag
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{run_id}.json"
    if raw is not None:
        path.write_text(raw)
        return path
    body: dict[str, Any] = {
        "run_id": run_id,
        "flag": flag,
        "seq": seq,
        "flag_state": state,
        "status": status,
        "started_at": started or finished.replace("T01:12", "T01:00"),
        "finished_at": finished,
        "inputs": GOOD_INPUTS if inputs is None else inputs,
    }
    if metrics is not None:
        body["metrics"] = metrics
    body.update(extra)
    body.update(override or {})
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def three_runs(repo: Path, flag: str = "allocation_dual_write", start: int = 101, state: str = "shadow") -> list[str]:
    ids = []
    for i in range(3):
        run_id = f"rr-{start + i:04d}"
        write_run(repo, flag, run_id, start + i, state=state, finished=f"2026-11-{18 + i}T01:12:00Z")
        ids.append(run_id)
    return ids


_TEMPLATES: dict[str, Path] = {}


def _template(date: str) -> Path:
    """The first commit of this repository's flag files on ``date``, made by real git once per process."""
    template = _TEMPLATES.get(date)
    if template is None:
        home = Path(tempfile.mkdtemp(prefix="flaggate-new-repo-"))
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        template = copy_repo(home / "repo")
        init_git(template, date=date)
        _TEMPLATES[date] = template
    return template


def new_repo(tmp: Path, date: str = "2026-11-01T00:00:00Z") -> Path:
    """A git repository whose one commit (on ``main``, at ``date``) holds this repository's flag files.

    Copied from a repository made once by git init, add and commit (four git processes for every
    test cost more than most tests); the copy's index is refreshed, so git sees its files as they
    are.  The same commit, byte for byte: the dates and identities are fixed."""
    repo = tmp / "repo"
    shutil.copytree(_template(date), repo, symlinks=True, ignore=shutil.ignore_patterns("*.sample"))
    git(repo, "update-index", "-q", "--refresh")
    return repo


__all__ = ["commit_all", "git", "set_state", "write_run", "three_runs", "new_repo", "flag_path", "DUAL"]
