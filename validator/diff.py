"""``flaggate diff A B``: what changed between two revisions or two published config.json files.

Each side is a git revision (its flag files) or a ``config.json`` that
``flaggate publish`` wrote.  Between two revisions the moves are exactly the
ones ``flaggate check --base A`` reports for B (create, promote, demote,
disable, delete), plus ``amend`` for a flag whose rules changed without a
move (states, rollout, guards, rollback, requires, owners, description).
A published config carries no plan, so a move there is named by the order
of the flag's states: forward is a promote, back to the first state a
disable, any other step back a demote; a change of owners or states is an
``amend``.  Nothing is judged: use ``flaggate check --base`` for that.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validator import plan
from validator.errors import FatalError
from validator.inert import escape

AMEND = "amend"


def _is_config(arg: str) -> bool:
    return arg.endswith(".json") and Path(arg).is_file()


def read_config(arg: str) -> dict[str, dict[str, Any]]:
    """The ``flags`` of a published config.json, checked for the fields a diff needs."""
    try:
        raw = Path(arg).read_bytes()
    except OSError as exc:
        raise FatalError(f"cannot read {arg}: {exc.strerror}") from None
    from validator import jsonfile

    try:  # the one strict reader: NaN, duplicate keys and the like are no published config
        data = jsonfile.loads(raw, max_bytes=64 * 1024 * 1024).data
    except jsonfile.JSONError as exc:
        raise FatalError(f"{arg}:{exc.line}:{exc.column}: not a published config.json: {exc.message}") from None
    flags = data.get("flags") if isinstance(data, dict) else None
    if not isinstance(flags, dict):
        raise FatalError(f"{arg} is not a published config.json: no 'flags' mapping")
    for name, entry in flags.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("state"), str) or not isinstance(entry.get("states"), list):
            raise FatalError(f"{arg}: flag {escape(name)} has no state and states: not a published config.json")
        if not all(isinstance(s, str) for s in entry["states"]) or entry["state"] not in entry["states"]:
            raise FatalError(f"{arg}: flag {escape(name)}: its state is not one of its states: not a published config.json")
        pct = entry.get("percentage")
        if pct is not None and (type(pct) is not int or not 0 <= pct <= 100):
            raise FatalError(f"{arg}: flag {escape(name)}: percentage {escape(pct)} is no whole number from 0 to 100")
    return flags


def _config_of_revision(root: Path, rev: str) -> dict[str, dict[str, Any]]:
    from validator import history
    from validator.repo import load_snapshot

    sha = history.resolve(root, rev, whole=False)
    snapshot = load_snapshot(history.GitTree(root, sha))
    out = {}
    for name, file in snapshot.flags.items():
        flag = file.flag
        if flag is None:  # snapshot.flags holds only files that loaded
            continue
        out[name] = {"state": flag.state, "percentage": flag.percentage, "states": list(flag.states), "owners": list(flag.owners)}
    return out


def _position(entry: dict[str, Any]) -> tuple[str, int | None]:
    pct = entry.get("percentage")
    # Published files carry 0 (first state) or 100 (shadow, enforce, full, on) for states without a
    # percentage: only a canary's value between them is part of the position.
    if not isinstance(pct, int) or isinstance(pct, bool) or pct in (0, 100):
        pct = None
    return entry["state"], pct


def config_moves(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    moves = []
    for name in sorted(set(a) | set(b)):
        was, now = a.get(name), b.get(name)
        if was is None and now is not None:
            moves.append(_move(name, None, _position(now), plan.CREATE))
            continue
        if now is None and was is not None:
            moves.append(_move(name, _position(was), None, plan.DELETE))
            continue
        if was is None or now is None:
            continue
        before, after = _position(was), _position(now)
        if before != after:
            states = list(now.get("states") or [])
            i = states.index(before[0]) if before[0] in states else None
            j = states.index(after[0]) if after[0] in states else None
            if i is not None and j is not None and (j > i or (j == i and (after[1] or 0) > (before[1] or 0))):
                kind = plan.PROMOTE
            elif j == 0:
                kind = plan.DISABLE
            else:
                kind = plan.DEMOTE
            moves.append(_move(name, before, after, kind))
        elif was.get("owners") != now.get("owners") or was.get("states") != now.get("states"):
            moves.append(_move(name, before, after, AMEND))
    return moves


def _move(name: str, before: tuple[str, int | None] | None, after: tuple[str, int | None] | None, kind: str) -> dict[str, Any]:
    return {
        "flag": name,
        "from": before[0] if before else None,
        "to": after[0] if after else None,
        "from_percentage": before[1] if before else None,
        "to_percentage": after[1] if after else None,
        "kind": kind,
    }


def revision_moves(root: Path, a: str, b: str) -> list[dict[str, Any]]:
    """The gate's own moves for B against A, plus ``amend`` for rules changed without a move."""
    from validator import check, history
    from validator.repo import load_snapshot

    b_sha = history.resolve(root, b)
    tree = history.GitTree(root, b_sha)
    result = check.run(root, tree, base=a, now=datetime.now(UTC))
    moves = list(result.transitions)
    moved = {m["flag"] for m in moves}
    base = (
        result.judgement.base
        if result.judgement is not None
        else load_snapshot(history.GitTree(root, history.resolve(root, a, whole=False)))
    )
    head = load_snapshot(tree)
    for name, file in sorted(head.flags.items()):
        was = base.flags.get(name)
        if name in moved or was is None or was.flag is None or file.flag is None:
            continue
        if _rules(was.flag) != _rules(file.flag):
            pos = plan.position(file.flag)
            moves.append(_move(name, (pos.state, pos.percentage), (pos.state, pos.percentage), AMEND))
    return sorted(moves, key=lambda m: (m["flag"], m["kind"]))


def _rules(flag: Any) -> dict[str, Any]:
    data: dict[str, Any] = flag.dump()
    data.pop("transition", None)
    data.pop("state", None)
    data.pop("percentage", None)
    return data


def _side(pct: Any, state: Any) -> str:
    from validator.inert import escape

    if state is None:
        return "(none)"
    return escape(f"{state} {pct}%" if pct is not None else state)


def render(moves: list[dict[str, Any]], a: str, b: str) -> str:
    """The moves as text; every name and state from a config.json or a flag file is escaped (``inert.escape``)."""
    from validator.inert import escape
    from validator.term import safe

    lines = [f"flaggate diff {safe(a, 80)} {safe(b, 80)}"]
    for m in moves:
        detail = "rules changed (states, plan, guards, rollback, requires or owners)" if m["kind"] == AMEND else ""
        move = f"{_side(m['from_percentage'], m['from'])} -> {_side(m['to_percentage'], m['to'])}"
        lines.append(f"  {escape(m['flag'])}: {m['kind']}: {detail or move}")
    if not moves:
        lines.append("  no flag moved or changed")
    return "\n".join(lines)


def main(root: Path, a: str, b: str, *, fmt: str) -> int:
    if _is_config(a) or _is_config(b):
        left = read_config(a) if _is_config(a) else _config_of_revision(root, a)
        right = read_config(b) if _is_config(b) else _config_of_revision(root, b)
        moves = config_moves(left, right)
    else:
        moves = revision_moves(root, a, b)
    if fmt == "json":
        from validator.inert import json_text

        print(json_text(json.dumps({"a": a, "b": b, "transitions": moves}, indent=2, ensure_ascii=False)))
    else:
        print(render(moves, a, b))
    return 0
