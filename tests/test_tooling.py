"""Workflows, CODEOWNERS and pre-commit, checked with the real tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, copy_repo, git, init_git, run

WORKFLOWS = sorted((REPO / ".github/workflows").glob("*.yml"))
PINS = dict(
    re.findall(
        r"\| (actions/[\w-]+) \| v[\d.]+ \| ([0-9a-f]{40}) \|",
        """
| actions/checkout | v7.0.1 | 3d3c42e5aac5ba805825da76410c181273ba90b1 |
| actions/setup-python | v7.0.0 | 5fda3b95a4ea91299a34e894583c3862153e4b97 |
| actions/configure-pages | v5.0.0 | 983d7736d9b0ae728b81ab479565c72886d7745b |
| actions/upload-pages-artifact | v5.0.0 | fc324d3547104276b827a68afc52ff2a11cc49c9 |
| actions/deploy-pages | v5.0.0 | cd2ce8fcbc39b97be8ca5fce6e763baed58fa128 |
""",
    )
)


def _bin(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def test_workflows_pass_zizmor() -> None:
    result = subprocess.run([_bin("zizmor"), "--offline", "--no-progress", str(REPO / ".github/workflows")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_schema() -> None:
    result = subprocess.run(
        [_bin("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_security_properties(path: Path) -> None:
    text = path.read_text()
    workflow = yaml.safe_load(text)
    triggers = workflow.get(True) or workflow.get("on")  # PyYAML reads the key `on` as True
    if "pull_request_target" in triggers or "workflow_run" in triggers:
        # Only the judge may run with the base's definition and a write token, and it never runs the
        # pull request's code: no checkout of the PR's ref as a working tree, no install but the base's.
        assert path.name == "validate.yml"
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                assert "ref" not in step.get("with", {}) or "base" in str(step["with"]["ref"])
                assert "install" not in step.get("run", "") or "./validator-at-base" in step["run"]
    assert workflow.get("permissions") == {}, "default to no permissions; grant per job"
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {name} must declare its permissions"
        for step in job.get("steps", []):
            if "uses" in step:
                action, _, ref = step["uses"].partition("@")
                assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{step['uses']} is not pinned to a commit SHA"
                assert PINS.get(action) == ref, f"{action}@{ref} is not the SHA from shared/notes/actions-pins.md"
            if "run" in step:
                assert "${{" not in step["run"], f"expression inside run: in {path.name}; pass it through env:"
    assert "concurrency" in workflow


def test_validate_and_publish_specifics() -> None:
    validate = yaml.safe_load((REPO / ".github/workflows/validate.yml").read_text())
    triggers = validate[True]
    assert set(triggers) == {"pull_request_target", "workflow_run"}
    assert triggers["workflow_run"]["workflows"] == ["review"]
    steps = validate["jobs"]["flags"]["steps"]
    assert any(s.get("with", {}).get("fetch-depth") == 0 for s in steps)
    runs = " ".join(s.get("run", "") for s in steps)
    assert "--base" in runs and "--format github" in runs and "GITHUB_STEP_SUMMARY" in runs and "pr-check" in runs
    publish = yaml.safe_load((REPO / ".github/workflows/publish.yml").read_text())
    assert publish["concurrency"]["cancel-in-progress"] is False
    assert publish[True]["push"]["branches"] == ["main"] and "workflow_dispatch" in publish[True]


def test_codeowners_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["codeowners", "--check", "--root", str(REPO)], capsys)
    assert code == 0, out + err


def test_codeowners_check_fails_when_owners_change(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flag_repo / ".github").mkdir()
    shutil.copy2(REPO / ".github/CODEOWNERS", flag_repo / ".github/CODEOWNERS")
    assert run(["codeowners", "--check", "--root", str(flag_repo)], capsys)[0] == 0
    flag = flag_repo / "flags/outbox_enabled.yaml"
    flag.write_text(flag.read_text().replace("acme-payments/messaging", "acme-payments/new-team"))
    code, out, _ = run(["codeowners", "--check", "--root", str(flag_repo)], capsys)
    assert code == 1 and "+/flags/outbox_enabled.yaml" in out and "@acme-payments/new-team" in out
    assert run(["codeowners", "--root", str(flag_repo)], capsys)[0] == 0
    assert run(["codeowners", "--check", "--root", str(flag_repo)], capsys)[0] == 0


def _precommit_env() -> dict[str, str]:
    # As in an activated virtual environment: the project's tools first on PATH.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["PRE_COMMIT_HOME"] = env.get("PRE_COMMIT_HOME", str(Path(os.environ.get("TMPDIR", "/tmp")) / "flaggate-pre-commit-cache"))
    # pip byte-compiles every dependency it installs into a hook's environment (a few seconds of
    # PyGithub, pydantic and the rest); what runs compiles what it imports.  Not what is tested here.
    env.setdefault("PIP_NO_COMPILE", "1")
    return env


def _clone(tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    # The working tree as it is now, committed in the clone (the tests run before a commit too).
    for name in (".pre-commit-config.yaml", ".pre-commit-hooks.yaml", "pyproject.toml"):
        shutil.copy2(REPO / name, clone / name)
    for name in ("flags", "schema", "validator", "tests", ".github", "benchmarks"):
        shutil.rmtree(clone / name, ignore_errors=True)
        shutil.copytree(REPO / name, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("policy.yaml", "resources.yaml"):
        shutil.copy2(REPO / name, clone / name)
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "--allow-empty", "-m", "working tree")
    return clone


@pytest.mark.heavy(3)
def test_pre_commit_runs_for_real(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    env = _precommit_env()
    result = subprocess.run([_bin("pre-commit"), "run", "--all-files"], cwd=clone, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "flaggate check" in result.stdout and "Passed" in result.stdout
    assert "mypy" not in result.stdout  # seconds: a pre-push hook, not on every commit
    flag = clone / "flags/outbox_enabled.yaml"
    flag.write_text(flag.read_text().replace("state: off", "state: maybe"))
    result = subprocess.run([_bin("pre-commit"), "run", "--all-files"], cwd=clone, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "flags/outbox_enabled.yaml:" in result.stdout and "consistency: state 'maybe'" in result.stdout


def test_pre_commit_hooks_file_is_valid() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    ids = {h["id"] for h in hooks}
    assert "flaggate-check" in ids
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False


@pytest.mark.heavy(14)
def test_hook_repo_is_usable_by_another_repository(tmp_path: Path) -> None:
    """try-repo installs this package as a hook for a separate flag repository."""
    other = copy_repo(tmp_path / "other")
    init_git(other)
    env = _precommit_env()
    source = _clone(tmp_path)
    result = subprocess.run(
        [_bin("pre-commit"), "try-repo", str(source), "flaggate-check", "--all-files"],
        cwd=other,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_runs_every_check_in_one_process(flag_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["hooks", "--root", str(REPO)], capsys)
    assert code == 0, out + err
    assert "flaggate: ok" in out
    (flag_repo / ".github").mkdir()
    shutil.copy2(REPO / ".github/CODEOWNERS", flag_repo / ".github/CODEOWNERS")
    assert run(["hooks", "--root", str(flag_repo)], capsys)[0] == 0
    flag = flag_repo / "flags/outbox_enabled.yaml"
    flag.write_text(flag.read_text().replace("acme-payments/messaging", "acme-payments/new-team"))
    code, out, err = run(["hooks", "--root", str(flag_repo)], capsys)
    assert code == 1 and "@acme-payments/new-team" in out and "CODEOWNERS" in err
    flag.write_text(flag.read_text().replace("state: off", "state: maybe"))
    code, out, _ = run(["hooks", "--root", str(flag_repo)], capsys)
    assert code == 1 and "consistency: state 'maybe'" in out and "@acme-payments/new-team" in out
