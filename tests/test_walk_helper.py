"""A long walk's second process (``timeline._Helper``) gives the very log one process gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_audit import history  # noqa: F401  (the golden history fixture)
from validator import audit, histcache, timeline


def _log(repo: Path, sha: str) -> str:
    return audit.text(repo, sha)


def test_the_helper_reads_what_this_process_reads(history: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    repo = history["repo"]
    monkeypatch.setenv(histcache.DISABLE_ENV, "1")
    alone = _log(repo, "HEAD")
    started: list[int] = []
    start = timeline._Helper.start

    def counted(root: Path, items: list[tuple[str, str]]) -> timeline._Helper | None:
        helper = start(root, items)
        started.append(len(items))
        return helper

    monkeypatch.setattr(timeline, "_HELP_FROM", 1)
    monkeypatch.setattr(timeline, "_may_fork", lambda: True)
    monkeypatch.setattr(timeline._Helper, "start", staticmethod(counted))
    collect = timeline._Helper.collect
    sent: list[bool] = []

    def collected(self: timeline._Helper) -> Any:
        made = collect(self)
        sent.append(made is not None)
        return made

    monkeypatch.setattr(timeline._Helper, "collect", collected)
    assert _log(repo, "HEAD") == alone
    assert started and started[0] > 0 and sent == [True]  # the helper really read blobs, and its facts were used

    # A helper that fails (here: it cannot send what it read): its blobs are read here, with the same result.
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("no room in the pipe")

    import pickle

    monkeypatch.setattr(pickle, "dump", refuse)  # the helper imports pickle where it sends (the module's own dump)
    assert _log(repo, "HEAD") == alone
    assert len(started) == 2 and sent == [True, False]
