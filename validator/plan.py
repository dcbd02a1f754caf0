"""Rollout plans: where a flag is in its plan and which moves are legal from there.

A plan is an ordered list of steps, each a state and, for percentage states
such as ``canary``, a percentage.  From step *i*:

* **promote** moves to step *i+1*;
* **demote** (emergency) moves back to step *i-1*, from step 2 or later;
* **disable** moves from step 1 back to step 0 (``shadow -> off``); for a
  flag that declares ``kill_switch: true`` it moves from any later step
  straight back to step 0 too (the kill switch: ``full -> off`` in one move).

A plan that ends in the state it started in (the backfill's
``off -> read_only -> active -> off``) is complete at its last step: nothing
moves out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from validator.records import Flag

CREATE, PROMOTE, DEMOTE, DISABLE, DELETE = "create", "promote", "demote", "disable", "delete"
OFF = "off"  # every plan starts here; it always publishes 0%


@dataclass(frozen=True)
class Position:
    state: str
    percentage: int | None = None

    def __str__(self) -> str:
        return f"{self.state} {self.percentage}%" if self.percentage is not None else self.state


Steps = Sequence[Position]


def served(here: Position, off: str = OFF) -> int:
    """The percentage of representatives a position serves: 0 at off, the canary's value, else 100."""
    if here.state == off:
        return 0
    return here.percentage if here.percentage is not None else 100


def steps(flag: Flag) -> tuple[Position, ...]:
    return tuple(Position(step.state, step.percentage) for step in flag.rollout)


def position(flag: Flag) -> Position:
    return Position(flag.state, flag.percentage)


def percentage_states(flag: Flag) -> set[str]:
    return {step.state for step in flag.rollout if step.percentage is not None}


def locate(plan: Steps, here: Position, arrived_from: str | None = None) -> int | None:
    """The step of ``plan`` at ``here``, or None when it is not a step.

    When a position appears twice (the backfill's first and last ``off``),
    the state it was reached from decides: the last ``off`` is reached from
    ``active``.
    """
    candidates = [i for i, step in enumerate(plan) if step == here]
    if len(candidates) > 1 and arrived_from is not None:
        for i in reversed(candidates):
            if i > 0 and plan[i - 1].state == arrived_from:
                return i
    return candidates[0] if candidates else None


def index(flag: Flag) -> int | None:
    arrived_from = flag.transition.from_ if flag.transition is not None and flag.transition.to == flag.state else None
    return locate(steps(flag), position(flag), arrived_from)


def is_complete(plan: Steps, at: int) -> bool:
    return at == len(plan) - 1 and at > 0 and plan[at] == plan[0]


def moves(plan: Steps, at: int, *, kill_switch: bool = False) -> dict[str, int]:
    """Legal moves from step ``at``: kind -> target step.

    ``kill_switch`` (the base flag's) adds the disable straight to step 0
    from any step after the second, except where the next step already
    lands on that position (the backfill's completing ``active -> off``):
    the same position cannot be two different moves.
    """
    if is_complete(plan, at):
        return {}
    legal: dict[str, int] = {}
    if at + 1 < len(plan):
        legal[PROMOTE] = at + 1
    if at == 1:
        legal[DISABLE] = 0
    elif at >= 2:
        legal[DEMOTE] = at - 1
        if kill_switch and plan[at - 1] != plan[0] and (at + 1 >= len(plan) or plan[at + 1] != plan[0]):
            legal[DISABLE] = 0
    return legal


def classify(plan: Steps, at: int | None, target: Position, *, kill_switch: bool = False) -> tuple[str, int] | None:
    """The legal move from step ``at`` that lands on ``target``: (kind, step), or None."""
    if at is None:
        return None
    for kind, step in moves(plan, at, kill_switch=kill_switch).items():
        if plan[step] == target:
            return kind, step
    return None


def describe_moves(plan: Steps, at: int | None, *, kill_switch: bool = False) -> str:
    if at is None:
        return "none (the current state is not a step of the plan)"
    legal = moves(plan, at, kill_switch=kill_switch)
    if not legal:
        return "none (the rollout plan is complete)"
    return ", ".join(f"{plan[target]} ({kind})" for kind, target in legal.items())


def is_final(plan: Steps, at: int) -> bool:
    """The last step that turns something fully on (enforce, full, on)."""
    last = len(plan) - 1
    if is_complete(plan, last):
        last -= 1
    return at == last
