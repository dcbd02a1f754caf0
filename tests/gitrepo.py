"""Helpers for tests on real git repositories with chosen dates."""

from __future__ import annotations

import json
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


def new_repo(tmp: Path, date: str = "2026-11-01T00:00:00Z") -> Path:
    repo = copy_repo(tmp / "repo")
    init_git(repo, date=date)
    return repo


__all__ = ["commit_all", "git", "set_state", "write_run", "three_runs", "new_repo", "flag_path", "DUAL"]
