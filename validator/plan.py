"""Rollout plans: where a flag is in its plan and which moves are legal from there.

A plan is an ordered list of steps, each a state and, for percentage states
such as ``canary``, a percentage.  From step *i*:

* **promote** moves to step *i+1*;
* **demote** (emergency) moves back to step *i-1*, from step 2 or later;
* **disable** moves from step 1 back to step 0 (``shadow -> off``).

A plan that ends in the state it started in (the backfill's
``off -> read_only -> active -> off``) is complete at its last step: nothing
moves out of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from validator.model import Flag, Step

CREATE, PROMOTE, DEMOTE, DISABLE, DELETE = "create", "promote", "demote", "disable", "delete"


@dataclass(frozen=True)
class Position:
    state: str
    percentage: int | None

    def __str__(self) -> str:
        return f"{self.state} {self.percentage}%" if self.percentage is not None else self.state


def position(flag: Flag) -> Position:
    return Position(flag.state, flag.percentage)


def step_position(step: Step) -> Position:
    return Position(step.state, step.percentage)


def percentage_states(flag: Flag) -> set[str]:
    return {step.state for step in flag.rollout if step.percentage is not None}


def index(flag: Flag) -> int | None:
    """The current step of the plan, or None when the state is not a step of it.

    When a state appears twice (the backfill's first and last ``off``), the
    transition block says which one: arriving from the step before the last.
    """
    here = position(flag)
    candidates = [i for i, step in enumerate(flag.rollout) if step_position(step) == here]
    if len(candidates) > 1 and flag.transition is not None:
        for i in reversed(candidates):
            if i > 0 and flag.rollout[i - 1].state == flag.transition.from_ and flag.transition.to == flag.state:
                return i
    return candidates[0] if candidates else None


def is_complete(flag: Flag, at: int) -> bool:
    return at == len(flag.rollout) - 1 and at > 0 and step_position(flag.rollout[at]) == step_position(flag.rollout[0])


def moves(flag: Flag, at: int) -> dict[str, int]:
    """Legal moves from step ``at``: kind -> target step."""
    if is_complete(flag, at):
        return {}
    legal: dict[str, int] = {}
    if at + 1 < len(flag.rollout):
        legal[PROMOTE] = at + 1
    if at == 1:
        legal[DISABLE] = 0
    elif at >= 2:
        legal[DEMOTE] = at - 1
    return legal


def describe_moves(flag: Flag, at: int | None) -> str:
    if at is None:
        return "none (the current state is not a step of the plan)"
    legal = moves(flag, at)
    if not legal:
        return "none (the rollout plan is complete)"
    return ", ".join(f"{step_position(flag.rollout[target])} ({kind})" for kind, target in legal.items())


def is_final(flag: Flag, at: int) -> bool:
    """The last step that turns something on fully (enforce, full, on)."""
    last = len(flag.rollout) - 1
    if is_complete(flag, last):
        last -= 1
    return at == last
