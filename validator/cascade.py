"""The cascade: an emergency demote moves every flag whose requirement it would break.

``ledger_backfill_mode`` in ``read_only`` requires ``allocation_dual_write``
in ``shadow``.  Disabling dual write alone would leave a tree that the
``dependency`` rule refuses, so it could never be published and services
would keep the drifting path on.  ``flaggate demote`` (and ``rollback-check
--apply``) therefore moves, in the same change and with the same reason code,
every dependent to the nearest step back where its requirements hold, each
move a legal one of its plan (one step back, or straight to ``off`` by a
disable: from the second step, or from any step with ``kill_switch: true``).
Requirements are read from the working tree *and* the base, as the gate
reads them; a dependent of a dependent moves too.

When no legal move back satisfies a dependent, nothing is written and the
message says which flag and why (a stranded dependent is never shipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from validator import plan
from validator.edit import Change, NoMove, change_to
from validator.plan import Position
from validator.records import Flag, FlagRequirement
from validator.repo import FlagFile, Snapshot, WorkTree, load_snapshot

# The justification is a Text of at most 4000 characters; the cascade's own words come first.
_MAX_TEXT = 4000


@dataclass
class Cascaded:
    change: Change
    cause: str  # the flag whose move broke the requirement
    why: str  # the requirement, in words


def base_snapshot(root: Path, base: str | None) -> Snapshot | None:
    """The flags at ``base``, for their requirements (None outside git or when it cannot be read)."""
    from validator import history

    if base is None:
        return None
    try:
        return load_snapshot(history.GitTree(root, history.resolve(root, base, whole=False)))
    except history.HistoryError:
        return None


def _requirements(flag: Flag, base: Snapshot | None) -> list[FlagRequirement]:
    found = list(flag.requires.flags)
    was = base.flags.get(flag.name) if base is not None else None
    if was is not None and was.flag is not None:
        found += [r for r in was.flag.requires.flags if r not in found]
    return found


def _broken(flag: Flag, here: Position, positions: dict[str, Position], base: Snapshot | None) -> tuple[str, str] | None:
    """The first requirement of ``flag`` at ``here`` that ``positions`` break: (required flag, words)."""
    for requirement in _requirements(flag, base):
        other = positions.get(requirement.flag)
        if other is None or here.state not in requirement.when:
            continue
        if other.state not in requirement.in_:
            return requirement.flag, (
                f"{flag.name} in {here.state} requires {requirement.flag} in {' or '.join(requirement.in_)}, "
                f"and {requirement.flag} goes to {other.state}"
            )
    return None


def cascade(root: Path, primary: list[Change], *, reason: str, justification: str, base: str | None) -> list[Cascaded]:
    """The moves that keep every requirement after ``primary``; NoMove when a dependent cannot be kept."""
    files = {name: f for name, f in load_snapshot(WorkTree(root)).flags.items() if f.flag is not None}
    yardstick = base_snapshot(root, base)
    positions = {name: plan.position(f.flag) for name, f in files.items() if f.flag is not None}
    moved: dict[str, int] = {}  # cascaded flag -> its target step
    causes: dict[str, tuple[str, str]] = {}
    for change in primary:
        positions[change.flag] = change.after
    fixed = {c.flag for c in primary}
    for _ in range(sum(len(f.flag.rollout) for f in files.values() if f.flag is not None) + 1):
        progress = False
        for name in sorted(files):
            flag = files[name].flag
            if flag is None:
                continue
            broken = _broken(flag, positions[name], positions, yardstick)
            if broken is None:
                continue
            if broken[0] not in fixed and broken[0] not in moved:
                continue  # not this demote's doing: the gate reports it as it stands
            if name in fixed:
                raise NoMove(f"{name} would still break a requirement after this demote: {broken[1]}")
            target = _nearest(files[name], positions, yardstick, moved.get(name))
            if target is None:
                steps = plan.steps(flag)
                at = plan.index(flag)
                raise NoMove(
                    f"{broken[1]}; no legal move of {name} back from {plan.position(flag)} keeps its requirements "
                    f"(legal moves: {plan.describe_moves(steps, at, kill_switch=flag.kill_switch)}): "
                    f"move {name} first in a change of its own, then demote {broken[0]}"
                )
            moved[name] = target
            causes[name] = broken
            positions[name] = plan.steps(flag)[target]
            progress = True
        if not progress:
            break
    found = []
    for name, target in moved.items():
        file = files[name]
        if not (file.flag is not None):
            raise ValueError("expected a read flag file here: cascade.py was called out of order")
        steps = plan.steps(file.flag)
        at = plan.index(file.flag)
        kind = next(k for k, t in plan.moves(steps, at, kill_switch=file.flag.kill_switch).items() if t == target)  # type: ignore[arg-type]
        cause, why = causes[name]
        words = f"Cascade of the emergency demote of {cause}: {why}. {justification}"
        change = change_to(file, target, kind, justification=words[:_MAX_TEXT], evidence=[], reason=reason)
        found.append(Cascaded(change, cause, why))
    return found


def _nearest(file: FlagFile, positions: dict[str, Position], base: Snapshot | None, below: int | None) -> int | None:
    """The nearest step back (a legal move) where the flag's requirements hold, further back than ``below``."""
    flag = file.flag
    if not (flag is not None):
        raise ValueError("expected a read flag file here: cascade.py was called out of order")
    steps = plan.steps(flag)
    at = plan.index(flag)
    if at is None:
        return None
    backs = sorted(
        (t for k, t in plan.moves(steps, at, kill_switch=flag.kill_switch).items() if k in (plan.DEMOTE, plan.DISABLE)),
        reverse=True,
    )
    for target in backs:
        if below is not None and target >= below:
            continue
        if _broken(flag, steps[target], positions, base) is None:
            return target
    return None
