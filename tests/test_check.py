"""``flaggate check`` on whole repositories: layout, cross-file rules, formats, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, copy_repo, run, run_json, set_top
from validator import loading

DUAL = "flags/allocation_dual_write.yaml"


def test_repository_itself_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(["check", "--root", str(REPO)], capsys)
    assert code == 0
    assert report == {"ok": True, "errors": [], "warnings": [], "transitions": []}


def test_unquoted_off_and_on_stay_strings() -> None:
    text = (REPO / "flags/outbox_enabled.yaml").read_bytes()
    doc, findings = loading.load("outbox_enabled.yaml", text)
    assert findings == [] and doc is not None
    assert doc.data["state"] == "off"
    assert doc.data["states"] == ["off", "on"]
    assert doc.data["rollout"][1]["state"] == "on"
    # The regression this loader exists for: safe_load reads them as booleans.
    naive = yaml.safe_load(text)
    assert naive["state"] is False and naive["states"] == [False, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("off", "off"),
        ("On", "On"),
        ("yes", "yes"),
        ("NO", "NO"),
        ("y", "y"),
        ("017", "017"),
        ("0x1F", "0x1F"),
        ("1_000", "1_000"),
        ("1:20", "1:20"),
        ("2024-01-02", "2024-01-02"),
        (".inf", ".inf"),
        ("1e3", "1e3"),
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("0", 0),
        ("0.01", loading.Decimal("0.01")),
        ("1.10", loading.Decimal("1.10")),
    ],
)
def test_plain_scalars_resolve_to_the_small_core_set(text: str, expected: object) -> None:
    value = loading.resolve_plain(text)
    assert value == expected and type(value) is type(expected)


def test_quoted_scalars_are_always_strings() -> None:
    doc, _ = loading.load("x.yaml", b"a: 'true'\nb: \"42\"\n")
    assert doc is not None and doc.data == {"a": "true", "b": "42"}


def test_alias_bomb_is_rejected_fast_and_small() -> None:
    bomb = (Path(__file__).parent / "examples/invalid/alias-bomb.yaml").read_bytes()
    tracemalloc.start()
    started = time.perf_counter()
    doc, findings = loading.load("bomb.yaml", bomb)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert doc is None and findings[0].rule == "yaml" and "anchor" in findings[0].message
    assert elapsed < 1.0 and peak < 5_000_000


def test_python_tag_executes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    repo = copy_repo(tmp_path / "repo")
    (repo / DUAL).write_text(f"name: allocation_dual_write\ndescription: !!python/object/apply:os.system ['touch {marker}']\n")
    code, report = run_json(["check", "--root", str(repo)], capsys)
    assert code == 1 and report["errors"][0]["rule"] == "yaml"
    assert not marker.exists()


def test_crlf_gives_the_same_result_as_lf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = []
    for ending in ("\n", "\r\n"):
        repo = copy_repo(tmp_path / f"repo{len(results)}")
        set_top(repo / DUAL, "state", "enforced")
        (repo / DUAL).write_bytes((repo / DUAL).read_text().replace("\n", ending).encode())
        results.append(run_json(["check", "--root", str(repo)], capsys))
    assert results[0] == results[1]
    assert results[0][0] == 1


def test_two_files_with_the_same_name(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / "flags/copy_of_dual_write.yaml").write_bytes((flag_repo / DUAL).read_bytes())
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    messages = {(e["file"], e["rule"], e["line"]) for e in report["errors"]}
    assert (DUAL, "consistency", 2) in messages
    assert ("flags/copy_of_dual_write.yaml", "consistency", 2) in messages
    both = [e["message"] for e in report["errors"] if "also used by" in e["message"]]
    assert any("flags/copy_of_dual_write.yaml" in m for m in both) and any(DUAL in m for m in both)


def test_dependency_cycle_across_files(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dual = flag_repo / DUAL
    dual.write_text(
        dual.read_text().replace(
            "requires:\n  resources: [payment_allocations]\n",
            "requires:\n  resources: [payment_allocations]\n  flags:\n    - {flag: ledger_backfill_mode, in: [off], when: [enforce]}\n",
        )
    )
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    cycles = [e for e in report["errors"] if "cycle" in e["message"]]
    assert {e["file"] for e in cycles} == {DUAL, "flags/ledger_backfill_mode.yaml"}
    assert all(e["rule"] == "dependency" for e in cycles)


@pytest.mark.parametrize("kind", ["symlink-outside", "symlink-inside", "directory", "yml", "readme"])
def test_non_flag_entries_in_flags_dir_are_errors(kind: str, flag_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = flag_repo / "flags"
    if kind == "symlink-outside":
        outside = tmp_path / "outside.yaml"
        outside.write_bytes((flags / "outbox_enabled.yaml").read_bytes().replace(b"outbox_enabled", b"evil"))
        (flags / "evil.yaml").symlink_to(outside)
        name = "flags/evil.yaml"
    elif kind == "symlink-inside":
        (flags / "alias.yaml").symlink_to(flags / "outbox_enabled.yaml")
        name = "flags/alias.yaml"
    elif kind == "directory":
        (flags / "nested").mkdir()
        name = "flags/nested"
    elif kind == "yml":
        (flags / "extra.yml").write_text("name: extra\n")
        name = "flags/extra.yml"
    else:
        (flags / "README.md").write_text("notes\n")
        name = "flags/README.md"
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    assert [(e["file"], e["rule"], e["line"]) for e in report["errors"]] == [(name, "consistency", 1)]


def test_snapshot_invariant_flag_requirement(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    backfill = flag_repo / "flags/ledger_backfill_mode.yaml"
    set_top(backfill, "state", "read_only")
    backfill.write_text(backfill.read_text().replace("  to: off\n", "  to: read_only\n"))
    dual = flag_repo / DUAL
    set_top(dual, "state", "enforce")
    dual.write_text(dual.read_text().replace("  to: shadow\n", "  to: enforce\n"))
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    [error] = report["errors"]
    assert error["rule"] == "dependency" and error["file"] == "flags/ledger_backfill_mode.yaml"
    assert "requires allocation_dual_write in shadow" in error["message"]


def test_snapshot_invariant_resource_provisioned(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    resources = flag_repo / "resources.yaml"
    text = resources.read_text()
    resources.write_text(
        text.replace(
            "ledger's payment_allocations table, written by allocation_dual_write.\n    provisioned: true",
            "ledger's payment_allocations table, written by allocation_dual_write.\n    provisioned: false",
        )
    )
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    assert [(e["file"], e["rule"], e["line"]) for e in report["errors"]] == [(DUAL, "dependency", 10)]


def test_percentage_state_needs_a_planned_percentage(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    switch = flag_repo / "flags/allocation_read_switch.yaml"
    original = switch.read_text()
    set_top(switch, "state", "canary")
    set_top(switch, "percentage", "10")
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    assert any(e["rule"] == "consistency" and "one of 5, 25" in e["message"] for e in report["errors"])
    switch.write_text(original)
    set_top(switch, "state", "canary")
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert any("needs a percentage" in e["message"] for e in report["errors"])


def test_all_findings_in_one_run_sorted(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / "flags/outbox_enabled.yaml").write_text("name: outbox_enabled\nstate: on\nstat: x\n")
    (flag_repo / DUAL).write_text("a: 1\na: 2\n")
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    keys = [(e["file"], e["line"], e["column"]) for e in report["errors"]]
    assert keys == sorted(keys)
    assert {e["file"] for e in report["errors"]} == {DUAL, "flags/outbox_enabled.yaml"}
    assert len(report["errors"]) >= 5


def test_paths_limit_nothing_but_add_files(flag_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "broken.yaml").write_text("name: broken\n")
    code, report = run_json(["check", "--root", str(flag_repo), str(outside / "broken.yaml")], capsys)
    assert code == 1 and any(e["file"].endswith("broken.yaml") for e in report["errors"])
    code, report = run_json(["check", "--root", str(flag_repo), str(flag_repo / DUAL)], capsys)
    assert code == 0


def test_text_format(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_top(flag_repo / DUAL, "state", "yes")
    code, out, _ = run(["check", "--root", str(flag_repo), "--format", "text"], capsys)
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0] == f"{DUAL}:10:8: consistency: state 'yes' is not one of this flag's states: off, shadow, enforce"
    assert lines[-1].startswith("flaggate: 1 error")


def test_github_format_and_auto(flag_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    set_top(flag_repo / DUAL, "state", "yes")
    code, out, _ = run(["check", "--root", str(flag_repo), "--format", "github"], capsys)
    first = out.splitlines()[0]
    assert first.startswith(f"::error file={DUAL},line=10,col=8,title=consistency::state 'yes'")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _, auto, _ = run(["check", "--root", str(flag_repo)], capsys)
    assert auto == out
    monkeypatch.delenv("GITHUB_ACTIONS")
    _, plain, _ = run(["check", "--root", str(flag_repo)], capsys)
    assert plain.startswith(f"{DUAL}:10:8:")


def test_json_contract(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / DUAL).write_text("stat: off\n")
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert set(report) == {"ok", "errors", "warnings", "transitions"}
    for error in report["errors"]:
        assert set(error) == {"file", "line", "column", "rule", "flag", "message"}
        assert isinstance(error["line"], int) and isinstance(error["column"], int)


def test_no_repository_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["check"], capsys)
    assert code == 2 and "policy.yaml" in err and "Traceback" not in err


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(["check", "--format", "xml"], capsys)
    assert exc.value.code == 2


def test_finds_root_from_a_subdirectory(flag_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(flag_repo / "flags")
    code, report = run_json(["check"], capsys)
    assert code == 0


def test_broken_policy_is_reported(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / "policy.yaml").write_text("green_runs: three\nreason_codes: [DRIFT_BREACH]\nplatform_owners: [acme/x]\n")
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    assert [(e["file"], e["rule"], e["line"]) for e in report["errors"]] == [("policy.yaml", "schema", 1)]


def test_console_script_and_module_agree() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    module = subprocess.run(
        [sys.executable, "-m", "validator", "check", "--format", "json"], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert module.returncode == 0, module.stderr
    assert json.loads(module.stdout)["ok"] is True
    script = Path(sys.executable).with_name("flaggate")
    if script.exists():
        direct = subprocess.run([str(script), "check", "--format", "json"], cwd=REPO, capture_output=True, text=True)
        assert direct.stdout == module.stdout


def test_check_does_not_import_heavy_modules() -> None:
    code = (
        f"import sys; from validator.cli import main; rc = main(['check', '--root', {str(REPO)!r}]);"
        "heavy = [m for m in ('github', 'jsonschema', 'requests', 'importlib.metadata', 'pydantic') if m in sys.modules];"
        "print(heavy); raise SystemExit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_given_file_replaces_the_repository_file_of_the_same_name(
    flag_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "allocation_dual_write.yaml"
    copy.write_bytes((flag_repo / DUAL).read_bytes().replace(b"\n", b"\r\n"))
    code, report = run_json(["check", "--root", str(flag_repo), str(copy)], capsys)
    assert (code, report["errors"]) == (0, [])
    set_top(copy, "state", "enforced")
    code, report = run_json(["check", "--root", str(flag_repo), str(copy)], capsys)
    assert code == 1 and [e["rule"] for e in report["errors"]] == ["consistency"]
    assert report["errors"][0]["file"].endswith("elsewhere/allocation_dual_write.yaml")


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (b"name: x\ndescription: " + b"y" * 300_000 + b"\n", "over the 262144-byte bound"),
        (b"name: x\nlist:\n" + b"  - 1\n" * 20_001, "more than 20000 nodes"),
        (b"name: x\ndescription: " + b"y" * 20_000 + b"\n", "over the 16384 bound"),
    ],
)
def test_bounds(content: bytes, expect: str, flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / DUAL).write_bytes(content)
    code, report = run_json(["check", "--root", str(flag_repo)], capsys)
    assert code == 1
    assert any(e["rule"] == "yaml" and expect in e["message"] for e in report["errors"]), report["errors"]
