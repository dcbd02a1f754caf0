"""The audit log and publish, on scripted git histories (real git, chosen authors and dates)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, set_top
from tests.gitrepo import commit_all, flag_path, git, new_repo, set_state

ALICE = {"GIT_AUTHOR_NAME": "Alice Admin", "GIT_AUTHOR_EMAIL": "alice@example.com"}
BOB = {"GIT_AUTHOR_NAME": "Bob Builder", "GIT_AUTHOR_EMAIL": "bob@example.com"}
CAROL = {"GIT_AUTHOR_NAME": "Carol Merger", "GIT_AUTHOR_EMAIL": "carol@example.com"}


def audit(repo: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict[str, Any]]:
    code, out, err = run(["audit-log", "--root", str(repo), *extra], capsys)
    assert code == 0, err
    return json.loads(out)


def summary(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e.get("flag"), e.get("from"), e.get("to"), e.get("kind"), e["actor"], e["timestamp"])
        if "warning" not in e or "flag" in e
        else ("WARNING", e["path"], e["actor"], e["timestamp"])
        for e in entries
    ]


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    """A history with every case of the issue, in first-parent order."""
    repo = new_repo(tmp_path, date="2026-11-01T00:00:00Z")  # root: six creations, by the test committer
    shas: dict[str, str] = {"root": git(repo, "rev-parse", "HEAD").strip()}

    # A plain promotion, with an approval trailer.
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 green cycles", evidence=[])
    git(repo, "add", "-A")
    git(
        repo,
        "commit",
        "-q",
        "-m",
        "Promote dual write\n\nReviewed-by: Rita Reviewer <rita@example.com>",
        date="2026-11-09T10:00:00Z",
        env=BOB,
    )
    shas["promote"] = git(repo, "rev-parse", "HEAD").strip()

    # A merge: the branch-internal commits must not appear; the change is the merge's.
    git(repo, "checkout", "-q", "-b", "feature")
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "outbox on (branch)", "2026-11-10T10:00:00Z", env=BOB)
    flag = flag_path(repo, "outbox_enabled")
    flag.write_text(flag.read_text().replace("Reliable telegram", "Reliable, tested telegram"))
    commit_all(repo, "outbox wording (branch)", "2026-11-10T11:00:00Z", env=BOB)
    git(repo, "checkout", "-q", "main")
    (repo / "NOTES.md").write_text("unrelated\n")
    commit_all(repo, "unrelated change on main", "2026-11-10T12:00:00Z", env=ALICE)
    git(repo, "merge", "-q", "--no-ff", "feature", "-m", "Merge feature", date="2026-11-11T09:00:00Z", env=CAROL)
    shas["merge"] = git(repo, "rev-parse", "HEAD").strip()

    # A squash commit changing two flags.
    set_state(repo, "event_stream_enabled", "shadow", frm="off", evidence=[])
    set_state(repo, "active_reconciliation", "dry", frm="off", evidence=[])
    shas["squash"] = commit_all(repo, "Squash: two flags", "2026-11-12T09:00:00Z", env=ALICE)

    # A revert of it.
    git(repo, "revert", "--no-edit", "HEAD", date="2026-11-12T10:00:00Z", env=BOB)
    shas["revert"] = git(repo, "rev-parse", "HEAD").strip()

    # A rename without a state change: no entry.
    git(repo, "mv", "flags/outbox_enabled.yaml", "flags/outbox.yaml")
    set_top(repo / "flags/outbox.yaml", "name", "outbox_enabled")
    commit_all(repo, "rename outbox file", "2026-11-13T09:00:00Z", env=ALICE)

    # A rename with a state change (an emergency demote).
    git(repo, "mv", "flags/allocation_dual_write.yaml", "flags/dual_write.yaml")
    set_state(repo, "dual_write", "shadow", frm="enforce", reason="DRIFT_BREACH", justification="drift 812 ppm")
    shas["rename-demote"] = commit_all(repo, "demote dual write", "2026-11-14T09:00:00Z", env=BOB)

    # A deletion.
    flag_path(repo, "ledger_backfill_mode").unlink()
    shas["delete"] = commit_all(repo, "drop backfill flag", "2026-11-15T09:00:00Z", env=ALICE)

    # A commit dated before its parent.
    set_state(repo, "outbox", "off", frm="on", reason="OPERATOR_DECISION")
    shas["older"] = commit_all(repo, "outbox off, clock skew", "2026-11-02T09:00:00Z", env=BOB)

    # A malformed flag file, then its fix with a state change.
    flag_path(repo, "allocation_read_switch").write_text("name: allocation_read_switch\nstate: off\nstate: canary\n")
    shas["broken"] = commit_all(repo, "broken file", "2026-11-16T09:00:00Z", env=ALICE)
    git(repo, "checkout", "-q", shas["root"], "--", "flags/allocation_read_switch.yaml")
    set_state(repo, "allocation_read_switch", "canary", percentage=5, frm="off", evidence=[])
    shas["fixed"] = commit_all(repo, "canary 5", "2026-11-17T09:00:00Z", env=ALICE)
    return {"repo": repo, "shas": shas}


def test_golden_history(history: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    repo, shas = history["repo"], history["shas"]
    entries = audit(repo, capsys)
    committer = "Test Author"
    assert summary(entries) == [
        ("active_reconciliation", None, "off", "create", committer, "2026-11-01T00:00:00Z"),
        ("allocation_dual_write", None, "shadow", "create", committer, "2026-11-01T00:00:00Z"),
        ("allocation_read_switch", None, "off", "create", committer, "2026-11-01T00:00:00Z"),
        ("event_stream_enabled", None, "off", "create", committer, "2026-11-01T00:00:00Z"),
        ("ledger_backfill_mode", None, "off", "create", committer, "2026-11-01T00:00:00Z"),
        ("outbox_enabled", None, "off", "create", committer, "2026-11-01T00:00:00Z"),
        ("allocation_dual_write", "shadow", "enforce", "promote", "Bob Builder", "2026-11-09T10:00:00Z"),
        ("outbox_enabled", "off", "on", "promote", "Carol Merger", "2026-11-11T09:00:00Z"),
        ("active_reconciliation", "off", "dry", "promote", "Alice Admin", "2026-11-12T09:00:00Z"),
        ("event_stream_enabled", "off", "shadow", "promote", "Alice Admin", "2026-11-12T09:00:00Z"),
        ("active_reconciliation", "dry", "off", "disable", "Bob Builder", "2026-11-12T10:00:00Z"),
        ("event_stream_enabled", "shadow", "off", "disable", "Bob Builder", "2026-11-12T10:00:00Z"),
        ("allocation_dual_write", "enforce", "shadow", "demote", "Bob Builder", "2026-11-14T09:00:00Z"),
        ("ledger_backfill_mode", "off", None, "delete", "Alice Admin", "2026-11-15T09:00:00Z"),
        ("outbox_enabled", "on", "off", "disable", "Bob Builder", "2026-11-02T09:00:00Z"),
        ("WARNING", "flags/allocation_read_switch.yaml", "Alice Admin", "2026-11-16T09:00:00Z"),
        ("allocation_read_switch", "off", "canary", "promote", "Alice Admin", "2026-11-17T09:00:00Z"),
    ]
    by_commit = {e["commit"]: e for e in entries}
    promote = by_commit[shas["promote"]]
    assert promote["approved_by"] == ["Rita Reviewer <rita@example.com>"]
    assert promote["justification"] == "3 green cycles"
    assert by_commit[shas["merge"]]["commit"] == shas["merge"]
    demote = by_commit[shas["rename-demote"]]
    assert demote["reason_code"] == "DRIFT_BREACH" and demote["justification"] == "drift 812 ppm"
    canary = by_commit[shas["fixed"]]
    assert (canary["from_percentage"], canary["to_percentage"]) == (None, 5)
    assert "duplicate key" in by_commit[shas["broken"]]["warning"]


def test_regeneration_is_byte_identical(history: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = history["repo"]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert run(["audit-log", "--root", str(repo), "--out", str(first)], capsys)[0] == 0
    assert run(["audit-log", "--root", str(repo), "--out", str(second)], capsys)[0] == 0
    assert first.read_bytes() == second.read_bytes()


def test_rev_limits_the_history(history: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    entries = audit(history["repo"], capsys, "--rev", history["shas"]["promote"])
    assert len(entries) == 7 and entries[-1]["kind"] == "promote"


def test_promotion_metrics_are_recomputed_worst(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.gitrepo import write_run

    repo = new_repo(tmp_path)
    for i, (ledger, failed) in enumerate([("1250000.00", 0), ("1250100.00", 12), ("1250050.00", 3)]):
        write_run(
            repo,
            "allocation_dual_write",
            f"rr-{i}",
            i,
            inputs={"ledger_total": ledger, "legacy_total": "1250000.00", "failed_ledger_writes": failed, "total_ledger_writes": 120000},
        )
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=["rr-0", "rr-1", "rr-2"])
    commit_all(repo, "promote", "2026-11-09T00:00:00Z")
    entry = audit(repo, capsys)[-1]
    assert entry["metrics"] == {"drift_ppm": 80, "write_error_rate": 0.0001}
    assert "worst of runs rr-0, rr-1, rr-2" in entry["metrics_source"]
    assert entry["evidence"] == ["rr-0", "rr-1", "rr-2"]


def test_shallow_clone_is_refused(history: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{history['repo']}", str(shallow))
    code, out, err = run(["audit-log", "--root", str(shallow)], capsys)
    assert code == 2 and "shallow" in err and out == ""


# --- publish -----------------------------------------------------------------------------------
def test_publish_writes_both_files_deterministically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    set_state(repo, "allocation_read_switch", "canary", percentage=5, frm="off", evidence=[])
    fixed = commit_all(repo, "canary 5", "2026-11-17T09:00:00Z", env=ALICE)
    out1, out2 = tmp_path / "p1", tmp_path / "p2"
    assert run(["publish", "--root", str(repo), "--out", str(out1)], capsys)[0] == 0
    assert run(["publish", "--root", str(repo), "--out", str(out2)], capsys)[0] == 0
    for name in ("config.json", "audit-log.json", "flagd.json", "index.html"):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes()
    config = json.loads((out1 / "config.json").read_text())
    assert config["schema_version"] == 1
    assert config["source"]["commit"] == fixed
    assert config["source"]["committed_at"] == "2026-11-17T09:00:00Z"
    assert config["flags"]["allocation_read_switch"] == {
        "state": "canary",
        "percentage": 5,
        "states": ["off", "canary", "full"],
        "owners": ["acme-payments/ledger-platform", "acme-payments/billing-core"],
    }
    assert config["flags"]["allocation_dual_write"]["percentage"] == 100
    assert config["flags"]["outbox_enabled"]["percentage"] == 0
    from validator.publish import digest

    assert config["digest"] == digest(config["flags"])
    text = (out1 / "config.json").read_text()
    assert "NaN" not in text and text == json.dumps(config, indent=2, sort_keys=True) + "\n"
    log = json.loads((out1 / "audit-log.json").read_text())
    assert log == audit(repo, capsys)


def test_publish_refuses_an_invalid_tree_and_keeps_old_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    out = tmp_path / "public"
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # Two changes each valid alone, conflicting once merged: backfill runs while dual write enforces.
    set_state(repo, "ledger_backfill_mode", "read_only", frm="off", evidence=[])
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", evidence=[])
    commit_all(repo, "merged conflict", "2026-11-05T00:00:00Z")
    code, out_text, err = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 1 and "dependency" in out_text and "nothing written" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_failure_mid_write_leaves_the_old_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = new_repo(tmp_path)
    out = tmp_path / "public"
    assert run(["publish", "--root", str(repo), "--out", str(out)], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    set_state(repo, "outbox_enabled", "on", frm="off", evidence=[])
    commit_all(repo, "outbox on", "2026-11-05T00:00:00Z")
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    code, _, err = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 2 and "No space left" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp files either


def test_publish_this_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    out = tmp_path / "public"
    code, text, _ = run(["publish", "--root", str(repo), "--out", str(out)], capsys)
    assert code == 0 and sorted(p.name for p in out.iterdir()) == ["audit-log.json", "config.json", "flagd.json", "index.html"]


def test_audit_log_to_a_pipe_writes_into_it_and_leaves_it_a_pipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--out /dev/null`` or a named pipe is written to, never renamed over (a device replaced by a file breaks the machine)."""
    import stat
    import threading

    repo = new_repo(tmp_path)
    pipe = tmp_path / "audit.pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    code, _, err = run(["audit-log", "--root", str(repo), "--out", str(pipe)], capsys)
    reader.join(timeout=10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.stat(pipe).st_mode) and json.loads(received[0])[0]["kind"] == "create"


def test_audit_log_publish_and_status_json_write_unsafe_characters_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 12: a U+202E in a justification was written raw into audit-log output, audit-log.json and status json."""
    repo = new_repo(tmp_path)
    justification = "drift 812 ppm, \u202edesolc tnedicni\u202c \u2066\u2069\u200b\u2060\ufeff\u061c\u200e\u2029 café 日本"
    set_state(repo, "allocation_dual_write", "off", frm="shadow", reason="DRIFT_BREACH", justification=justification)
    commit_all(repo, "disable", "2026-11-20T00:00:00Z", env=ALICE)
    assert run(["publish", "--root", str(repo), "--out", str(tmp_path / "public")], capsys)[0] == 0
    outputs = {
        "audit-log": run(["audit-log", "--root", str(repo)], capsys)[1],
        "audit-log (kept log)": run(["audit-log", "--root", str(repo)], capsys)[1],
        "audit-log.json": (tmp_path / "public/audit-log.json").read_text(encoding="utf-8"),
        "status --format json": run(["status", "--root", str(repo), "--format", "json"], capsys)[1],
    }
    escaped = "drift 812 ppm, \\u202edesolc tnedicni\\u202c \\u2066\\u2069\\u200b\\u2060\\ufeff\\u061c\\u200e\\u2029 café 日本"
    for name, out in outputs.items():
        assert escaped in out, (name, out)
        assert not any(ch in out for ch in "\u202e\u202c\u2066\u2069\u200b\u2060\ufeff\u061c\u200e\u2029"), name
    assert json.loads(outputs["audit-log.json"])[-1]["justification"] == justification  # the same value, decoded
