"""consistency: a flag file agrees with itself and with the repository layout.

* ``name`` equals the file stem, and no two files carry the same name;
* ``state`` is one of ``states``; every declared state is a step of the plan,
  every step's state is declared, and no step appears twice (except a plan
  that returns to its first step, which completes it);
* ``percentage`` is present exactly when the state is a percentage state
  (one whose steps carry percentages, such as ``canary``), and it is one of the
  plan's percentages for that state;
* owners are listed once each; guards have a ``min`` or a ``max`` and
  ``min <= max``; rollback triggers use one window kind, watch declared
  states and name a reason code of the policy;
* the ``transition`` block describes the current state, and its evidence ids
  are plain file names;
* ``flags/`` holds only regular ``<name>.yaml`` files (no symlinks,
  directories, ``.yml`` files or submodules).

Passing::

    state: canary
    percentage: 5        # the plan has canary 5% and canary 25%

Failing::

    state: shadow
    percentage: 5        # consistency: shadow takes no percentage
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from validator import plan
from validator.finding import Finding
from validator.records import Guard, Policy
from validator.repo import FlagFile, Snapshot
from validator.rules.evidence import plain_run_id

RULE = "consistency"


def check(snapshot: Snapshot) -> list[Finding]:
    findings: list[Finding] = []
    for file in snapshot.files:
        if file.flag is not None and file.doc is not None:
            findings.extend(check_flag(file, snapshot.policy))
    findings.extend(_unique_names(snapshot))
    return findings


def _unique_names(snapshot: Snapshot) -> list[Finding]:
    by_name: dict[str, list[FlagFile]] = {}
    for file in snapshot.files:
        if file.flag is not None:
            by_name.setdefault(file.flag.name, []).append(file)
    findings = []
    for name, files in by_name.items():
        if len(files) < 2:
            continue
        for file in files:
            others = ", ".join(f.path for f in files if f is not file)
            line, column = file.doc.where(("name",)) if file.doc else (1, 1)
            findings.append(Finding(file.path, line, column, RULE, f"flag name {name!r} is also used by {others}", name))
    return findings


def check_flag(file: FlagFile, policy: Policy | None) -> list[Finding]:
    flag, doc = file.flag, file.doc
    if not (flag is not None and doc is not None):
        raise ValueError("expected a read flag file here: consistency.py was called out of order")
    findings: list[Finding] = []

    def add(path: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        line, column = doc.where(path, key=key)
        findings.append(Finding(file.path, line, column, RULE, message, flag.name))

    if flag.name != file.stem:
        add(("name",), f"name {flag.name!r} does not match the file name {file.stem}.yaml; rename one of them")

    states = flag.states
    legal = ", ".join(states)
    for state, count in Counter(states).items():
        if count > 1:
            add(("states",), f"state {state!r} is declared {count} times")
    if flag.state not in states:
        add(("state",), f"state {flag.state!r} is not one of this flag's states: {legal}")

    planned = {step.state for step in flag.rollout}
    for i, step in enumerate(flag.rollout):
        if step.state not in states:
            add(("rollout", i, "state"), f"rollout step {i + 1} uses state {step.state!r}, which is not one of: {legal}")
    for state in states:
        if state not in planned:
            add(("states",), f"state {state!r} is declared but no rollout step reaches it")
    seen: dict[plan.Position, int] = {}
    last = len(flag.rollout) - 1
    for i, step in enumerate(flag.rollout):
        here = plan.Position(step.state, step.percentage)
        if here in seen and not (i == last and seen[here] == 0):
            add(("rollout", i), f"rollout step {i + 1} ({here}) repeats step {seen[here] + 1}")
        seen.setdefault(here, i)
        for j, guard in enumerate(step.guards):
            findings.extend(_guard(file, ("rollout", i, "guards", j), guard))

    findings.extend(_plan_invariants(file))
    pct_states = plan.percentage_states(flag)
    if flag.percentage is not None and not 0 <= flag.percentage <= 100:
        add(("percentage",), f"percentage {flag.percentage} is outside 0..100")
    for i, step in enumerate(flag.rollout):
        if step.state in pct_states and step.percentage is None:
            add(
                ("rollout", i),
                f"rollout step {i + 1}: {step.state} is a percentage state here, so every {step.state} step needs a percentage",
            )
    if flag.state in pct_states:
        allowed = sorted(s.percentage for s in flag.rollout if s.state == flag.state and s.percentage is not None)
        if flag.percentage is None:
            add(("state",), f"state {flag.state} needs a percentage: one of {', '.join(map(str, allowed))}")
        elif flag.percentage not in allowed and 0 <= flag.percentage <= 100:
            add(
                ("percentage",),
                f"percentage {flag.percentage} is not a step of the plan for {flag.state}: use one of {', '.join(map(str, allowed))}",
            )
    elif flag.percentage is not None and 0 <= flag.percentage <= 100:
        takes = f"only {', '.join(sorted(pct_states))} takes one" if pct_states else "this flag has no percentage states"
        add(("percentage",), f"state {flag.state} takes no percentage; remove it ({takes})", key=True)

    for owner, count in Counter(o.lower() for o in flag.owners).items():
        if count > 1:
            add(("owners",), f"owner {owner!r} is listed {count} times")

    for i, guard in enumerate(flag.guards):
        findings.extend(_guard(file, ("guards", i), guard))

    reason_codes = set(policy.reason_codes) if policy else None
    for i, trigger in enumerate(flag.rollback):
        windows = [w for w in ("sustained_minutes", "timeout_hours") if getattr(trigger, w) is not None]
        if trigger.consecutive > 1:
            windows.append("consecutive")
        if len(windows) > 1:
            add(("rollback", i), f"rollback trigger {i + 1} mixes {' and '.join(windows)}; use one")
        for state in trigger.states or ():
            if state not in states:
                add(("rollback", i, "states"), f"rollback trigger {i + 1} watches state {state!r}, which is not one of: {legal}")
        if reason_codes is not None and trigger.reason_code not in reason_codes:
            add(("rollback", i, "reason_code"), f"reason code {trigger.reason_code} is not in policy.yaml's reason_codes")

    for i, requirement in enumerate(flag.requires.flags):
        for state in requirement.when:
            if state not in states:
                add(
                    ("requires", "flags", i, "when"),
                    f"requirement on {requirement.flag} applies when {flag.name} is {state!r}, which is not one of: {legal}",
                )
            elif state == plan.OFF:
                # A flag that is off serves nobody and needs nothing; a requirement there would pin the
                # other flag (its emergency disable refused) with no move of this one to undo it.
                add(
                    ("requires", "flags", i, "when"),
                    f"requirement on {requirement.flag} applies when {flag.name} is off: off serves nobody and needs nothing; "
                    "remove off from when",
                )

    transition = flag.transition
    if transition is not None:
        if transition.to != flag.state and flag.state in states:
            add(
                ("transition", "to"),
                f"transition.to is {transition.to!r} but the state is {flag.state!r}: the transition block must describe the last change",
            )
        if transition.to_percentage is not None and transition.to_percentage != flag.percentage:
            add(
                ("transition", "to_percentage"),
                f"transition.to_percentage is {transition.to_percentage} but the percentage is {flag.percentage}",
            )
        if not transition.justification.strip():
            add(("transition", "justification"), "transition.justification is blank: say why, for reviewers and the audit log")
        if transition.reason_code is not None and reason_codes is not None and transition.reason_code not in reason_codes:
            add(
                ("transition", "reason_code"),
                _unknown_reason(transition.reason_code, list(policy.reason_codes) if policy else sorted(reason_codes)),
            )
        for i, run_id in enumerate(transition.evidence):
            if not plain_run_id(run_id):
                add(("transition", "evidence", i), f"evidence id {run_id!r} is not a plain file name (no '/', '\\\\', '..' or leading '.')")
    return findings


def _plan_invariants(file: FlagFile) -> list[Finding]:
    """What no approval can override: a plan starts at off (0%) and never serves fewer people as it goes on."""
    flag, doc = file.flag, file.doc
    if flag is None or doc is None:
        return []
    findings = []

    def add(path: tuple[Any, ...], message: str) -> None:
        line, column = doc.where(path)
        findings.append(Finding(file.path, line, column, RULE, message, flag.name))

    steps = flag.rollout
    first = steps[0]
    if first.state != plan.OFF or first.percentage is not None:
        add(
            ("rollout", 0),
            f"the plan starts at {plan.Position(first.state, first.percentage)}; every plan starts with the step `off` (no percentage), which publishes 0%",
        )
    for i, step in enumerate(steps):
        if step.state == plan.OFF and step.percentage is not None:
            add(("rollout", i, "percentage"), "off takes no percentage: it always publishes 0%")
    served = [plan.served(steps_pos, plan.OFF) for steps_pos in plan.steps(flag)]
    last = len(steps) - 1
    for i in range(1, len(steps)):
        if i == last and plan.is_complete(plan.steps(flag), last):
            break  # a plan that returns to off is complete there
        earlier, here = served[i - 1], served[i]
        if steps[i].percentage is not None and steps[i - 1].percentage is not None and here <= earlier:
            add(
                ("rollout", i, "percentage"),
                f"canary percentages rise strictly along the plan: step {i + 1} ({here}%) after step {i} ({earlier}%)",
            )
        elif here < earlier:
            add(
                ("rollout", i),
                f"rollout step {i + 1} ({plan.Position(steps[i].state, steps[i].percentage)}) serves {here}% after step {i} served {earlier}%: "
                "a promotion never serves fewer people; reorder the plan",
            )
    return findings


def _guard(file: FlagFile, path: tuple[Any, ...], guard: Guard) -> list[Finding]:
    if not (file.doc is not None and file.flag is not None):
        raise ValueError("expected a read flag file here: consistency.py was called out of order")
    if guard.min is None and guard.max is None:
        message = f"guard on {guard.metric} needs a min or a max"
    elif guard.min is not None and guard.max is not None and guard.min > guard.max:
        message = f"guard on {guard.metric} has min {guard.min} above max {guard.max}"
    else:
        return []
    line, column = file.doc.where(path)
    return [Finding(file.path, line, column, RULE, message, file.flag.name)]


def _unknown_reason(code: str, codes: list[str]) -> str:
    from validator.reasons import suggestion

    guess = suggestion(code, codes)
    did = f" (did you mean {guess}?)" if guess else ""
    return f"reason code {code} is not one of policy.yaml's{did}: {', '.join(codes)}"
