"""Terminal conventions: help on every argument, colour only on a terminal, completion, progress."""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_repo, read_terminal, run
from tests.gitrepo import commit_all, git, write_run
from validator.cli import build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_argument_and_option_has_help_and_every_command_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    missing = []
    for name, sub in _subparsers().items():
        if not sub.description or "examples:" not in (sub.epilog or "") or f"flaggate {name}" not in (sub.epilog or ""):
            missing.append(f"{name}: description or example")
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
            if action.metavar is None and action.option_strings and action.nargs != 0 and not action.choices:
                missing.append(f"{name} {action.option_strings[0]}: no metavar")
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([name, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out, name
    assert missing == []


def test_audit_log_out_is_shown_as_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["audit-log", "--help"])
    assert "--out FILE" in capsys.readouterr().out


def _on_terminal(argv: list[str], env: dict[str, str]) -> str:
    """Run flaggate with standard output on a real pseudo-terminal; what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "validator", *argv], stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    output = read_terminal(master)
    proc.wait()
    os.close(master)
    return output.decode()


@pytest.fixture
def bad_repo(tmp_path: Path) -> Path:
    repo = copy_repo(tmp_path / "repo")
    path = repo / "flags/outbox_enabled.yaml"
    path.write_text(path.read_text().replace("state: off\n", "state: maybe\n", 1))
    return repo


@pytest.mark.heavy(4)
def test_colour_only_on_a_terminal(bad_repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_ACTIONS", "TERM")}
    argv = ["check", "--root", str(bad_repo)]
    coloured = _on_terminal(argv, env)
    assert "\x1b[31mconsistency\x1b[0m" in coloured and "\x1b[31mflaggate: 1 error" in coloured
    assert "\x1b[" not in _on_terminal([*argv, "--no-color"], env)
    assert "\x1b[" not in _on_terminal(argv, {**env, "NO_COLOR": "1"})
    piped = subprocess.run([sys.executable, "-m", "validator", *argv], env=env, capture_output=True, text=True)
    assert piped.returncode == 1 and "\x1b[" not in piped.stdout and "consistency" in piped.stdout
    json_out = _on_terminal([*argv, "--format", "json"], env)
    assert "\x1b[" not in json_out
    status = _on_terminal(["status", "--root", str(bad_repo)], env)
    assert "\x1b[" in status and "\x1b[" not in _on_terminal(["status", "--root", str(bad_repo)], {**env, "NO_COLOR": "1"})


def _progress(env: dict[str, str], on_terminal: bool) -> str:
    code = "import time\nfrom validator import term\nwith term.progress('reading history', delay=0):\n    time.sleep(0.1)\n"
    if not on_terminal:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=slave, stdout=subprocess.DEVNULL, env=env)
    os.close(slave)
    output = read_terminal(master)
    proc.wait()
    os.close(master)
    return output.decode()


def test_progress_on_a_terminal_only_never_in_ci() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    assert "reading history … " in _progress(env, True)
    assert _progress({**env, "CI": "true"}, True) == ""
    assert _progress(env, False) == ""


def _complete(script: Path, cwd: Path, words: list[str]) -> list[str]:
    """Ask a real bash for the completions of ``words`` (the last one is being typed)."""
    driver = f"""
source {script}
COMP_WORDS=({" ".join(repr(w) if w else "''" for w in words)})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
_shtab_flaggate flaggate "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", driver], cwd=cwd, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def test_bash_completion_script_loads_and_completes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = copy_repo(tmp_path / "repo")
    write_run(repo, "allocation_dual_write", "rr-0101", 101)
    write_run(repo, "allocation_dual_write", "rr-0102", 102)
    code, out, _ = run(["completion", "bash"], capsys)
    assert code == 0
    script = tmp_path / "flaggate.bash"
    script.write_text(out)
    loaded = subprocess.run(["bash", "--norc", "-c", f"source {script} && complete -p flaggate"], capture_output=True, text=True)
    assert loaded.returncode == 0 and "_shtab_flaggate flaggate" in loaded.stdout, loaded.stderr
    sub = repo / "flags"  # completion finds the repository from a subdirectory too
    assert "promote" in _complete(script, sub, ["flaggate", "pro"])
    assert "status" in _complete(script, sub, ["flaggate", "sta"])
    assert _complete(script, sub, ["flaggate", "promote", "allocation_"]) == ["allocation_dual_write", "allocation_read_switch"]
    assert _complete(script, sub, ["flaggate", "demote", "outbox_enabled", "--reason", "DR"]) == ["DRIFT_BREACH"]
    assert _complete(script, repo, ["flaggate", "promote", "allocation_dual_write", "--evidence", "rr-"]) == ["rr-0101", "rr-0102"]
    assert "--justification" in _complete(script, repo, ["flaggate", "promote", "allocation_dual_write", "--just"])
    assert _complete(script, repo, ["flaggate", "new", "x", "--guard", "drift"]) == ["drift_ppm"]


def test_bash_completion_never_runs_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A branch, flag file or run named ``$(touch PWNED)`` was run when bash completed it (attack)."""
    repo = copy_repo(tmp_path / "repo")
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "initial", "2026-11-01T00:00:00Z")
    git(repo, "branch", "fix$(touch${IFS}PWNED_BY_BRANCH)")
    (repo / "flags/$(touch PWNED_BY_FLAG).yaml").write_text("x")
    write_run(repo, "allocation_dual_write", "rr-$(touch PWNED_BY_RUN)", 101)
    code, out, _ = run(["completion", "bash"], capsys)
    script = tmp_path / "flaggate.bash"
    script.write_text(out)
    assert "fix$(touch${IFS}PWNED_BY_BRANCH)" in _complete(script, repo, ["flaggate", "check", "--base", "fix"])
    assert "$(touch PWNED_BY_FLAG)" in _complete(script, repo, ["flaggate", "promote", ""])
    assert "rr-$(touch PWNED_BY_RUN)" in _complete(script, repo, ["flaggate", "promote", "allocation_dual_write", "--evidence", "rr-"])
    assert not list(repo.glob("PWNED*")) and not list(repo.glob("*/PWNED*"))


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(["completion", shell], capsys)
    assert code == 0 and "flaggate_flags" in out and "flaggate_reasons" in out and "flaggate_runs" in out
    assert "status" in out and "evidence" in out
    if not shutil.which(shell):
        pytest.skip(f"{shell} is not installed: the script was generated but not loaded")
    script = tmp_path / f"flaggate.{shell}"
    script.write_text(out)
    check = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    if shell == "fish":  # fish completes on request: ask it as a user's Tab would
        repo = copy_repo(tmp_path / "repo")
        write_run(repo, "allocation_dual_write", "rr-0101", 101)

        def complete(line: str) -> list[str]:
            proc = subprocess.run(["fish", "-c", f"source {script}; complete -C '{line}'"], cwd=repo, capture_output=True, text=True)
            return [row.split("\t")[0] for row in proc.stdout.splitlines()]

        assert complete("flaggate promote allo") == ["allocation_dual_write", "allocation_read_switch"]
        assert complete("flaggate demote x --reason DR") == ["DRIFT_BREACH"]
        assert complete("flaggate promote allocation_dual_write --evidence rr") == ["rr-0101"]


@pytest.mark.parametrize("command", ["check", "status"])
def test_check_and_status_import_nothing_heavy(command: str) -> None:
    code = (
        f"import sys\nfrom validator.cli import main\nmain([{command!r}])\n"
        "print([m for m in ('shtab', 'github', 'jsonschema', 'requests') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
