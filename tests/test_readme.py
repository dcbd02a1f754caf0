from __future__ import annotations

import re

from tests.conftest import REPO


def _setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_commands_verbatim() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    ci = (REPO / ".ci/run").read_text().splitlines()
    for command in commands:
        assert command in ci


def test_readme_documents_every_rule() -> None:
    from validator.rules import RULE_IDS

    readme = (REPO / "README.md").read_text()
    for rule in RULE_IDS:
        assert f"| `{rule}` |" in readme
