"""A rule registered at runtime reaches every report without touching any other module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run, run_json
from tests.gitrepo import new_repo
from validator import rules
from validator.finding import Finding


def _no_owls(context: rules.Context) -> list[Finding]:
    """toy_owl: a flag's description must not mention owls."""
    found = []
    for name, file in context.snapshot.flags.items():
        if file.flag is not None and "owl" in file.flag.description.lower():
            line, column = file.doc.where(("description",)) if file.doc else (1, 1)
            found.append(Finding(file.path, line, column, "toy_owl", f"{name}: no owls in descriptions", name))
    return found


@pytest.fixture
def toy_rule() -> Iterator[None]:
    rules.register(rules.Rule("toy_owl", "no owls", _no_owls))
    try:
        yield
    finally:
        rules.unregister("toy_owl")


def test_a_registered_rule_reaches_json_text_and_the_pr_comment(toy_rule: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = new_repo(tmp_path)
    flag = repo / "flags/outbox_enabled.yaml"
    flag.write_text(flag.read_text().replace("Reliable telegram", "Owl-carried telegram"))
    code, report = run_json(["check", "--root", str(repo)], capsys)
    assert code == 1 and [e["rule"] for e in report["errors"]] == ["toy_owl"]
    code, out, _ = run(["check", "--root", str(repo), "--format", "text"], capsys)
    assert code == 1 and "flags/outbox_enabled.yaml:3:14: toy_owl: outbox_enabled: no owls in descriptions" in out

    from validator import check, pull_request
    from validator.repo import WorkTree

    result = check.run(
        repo, WorkTree(repo), base="HEAD", now=__import__("datetime").datetime(2026, 11, 20, tzinfo=__import__("datetime").UTC)
    )
    assert any(f.rule == "toy_owl" for f in result.errors)
    pull = pull_request.Pull(1, "t", "dev", "a" * 40, "b" * 40, "h", "main")
    approvals = pull_request.evaluate(pull, result.judgement.moves, result.judgement.base.policy, lambda team: (None, "none"))
    body = pull_request.comment(pull, result, approvals)
    assert "#### toy_owl" in body and "no owls in descriptions" in body


def test_rule_ids_are_unique() -> None:
    with pytest.raises(ValueError):
        rules.register(rules.Rule("yaml", "again"))
