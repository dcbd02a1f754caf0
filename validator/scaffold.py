"""``flaggate new NAME``: a new flag file that passes ``flaggate check``.

The file gets the flag's states, a rollout plan that starts at the first
state (off), a soak on every step between the first and the last, a guard
and a rollback trigger for each chosen metric (the threshold in the metric's
direction: ``max`` for lower-is-better metrics, ``min`` for higher), its
owners, its resources and the transition block of a creation.  It asks for
what is missing only when standard input is a terminal; in scripts and CI
every answer is an option, and a missing one is an error (exit 2).

The file is checked, together with the rest of the repository, before it is
written; a file that would not pass is never written.  In a pull request the
new flag is a ``create`` move, judged as any other (a platform owner approves).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from validator.errors import FatalError
from validator.names import FLAG_NAME

PERCENTAGE_STATE = "canary"

# The spec's thresholds: a sensible starting point, edited in the file with a reason.
DEFAULT_THRESHOLDS = {
    "drift_ppm": "500",
    "write_error_rate": "0.01",
    "synthetic_completeness": "1",
    "backfill_progress": "1",
    "replay_accuracy": "0.999",
    "repair_success_rate": "0.95",
    "repair_fail_ratio": "0.05",
    "delivery_success_rate": "0.99",
}
DEFAULT_REASONS = {
    "drift_ppm": "DRIFT_BREACH",
    "write_error_rate": "WRITE_ERRORS",
    "synthetic_completeness": "BACKFILL_INCOMPLETE",
    "backfill_progress": "BACKFILL_INCOMPLETE",
    "replay_accuracy": "REPLAY_MISMATCH",
    "repair_success_rate": "REPAIR_FAILURES",
    "repair_fail_ratio": "REPAIR_FAILURES",
    "delivery_success_rate": "DELIVERY_FAILURES",
}


class Refused(FatalError):
    """An answer that cannot make a valid flag (exit 2, nothing written)."""


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ask(question: str, reader: Callable[[str], str]) -> str:
    try:
        return reader(f"{question}: ").strip()
    except EOFError:
        return ""


def answers(args: argparse.Namespace, interactive: bool, reader: Callable[[str], str] = input) -> argparse.Namespace:
    """Fill what the options left out: by asking on a terminal, else refuse naming the option."""

    def need(value: object, option: str, question: str) -> str:
        if value:
            return str(value)
        if interactive:
            answer = _ask(question, reader)
            if answer:
                return answer
        raise Refused(f"{option} is needed ({question}); give it as an option, or run on a terminal to be asked")

    args.description = need(args.description, "--description", "Description (what the flag switches)")
    if not args.owner:
        args.owner = _split(need(None, "--owner", "Owners (GitHub logins or org/team, comma-separated)"))
    if not args.states:
        args.states = (_ask("States, comma-separated [off,on]", reader) if interactive else "") or "off,on"
    if not args.guard and interactive:
        args.guard = _split(_ask(f"Guard metrics, comma-separated ({', '.join(DEFAULT_THRESHOLDS)}) [none]", reader))
    return args


def render(args: argparse.Namespace, reason_codes: list[str]) -> str:
    name = args.name
    states = _split(args.states or "off,on")
    if len(states) < 2 or len(set(states)) != len(states):
        raise Refused(f"--states needs at least two different states, the first one off (got {args.states!r})")
    try:
        percentages = [int(p) for p in _split(args.percentages)] if args.percentages else []
    except ValueError:
        raise Refused(f"--percentages must be whole numbers separated by commas, such as 5,25 (got {args.percentages!r})") from None
    if any(not 0 < p < 100 for p in percentages) or percentages != sorted(set(percentages)):
        raise Refused(f"--percentages must rise strictly, each between 1 and 99 (got {args.percentages!r})")
    pct_state = PERCENTAGE_STATE if PERCENTAGE_STATE in states else (states[1] if len(states) > 2 else None)
    if percentages and (pct_state is None or pct_state in (states[0], states[-1])):
        raise Refused("--percentages needs a middle state for the canary (e.g. --states off,canary,full)")
    steps: list[tuple[str, int | None]] = [(states[0], None)]
    for state in states[1:]:
        if state == pct_state and percentages:
            steps.extend((state, p) for p in percentages)
        else:
            steps.append((state, None))
    soak = 7 if args.soak_days is None else args.soak_days
    guards = []
    for item in args.guard:
        metric, _, threshold = item.partition("=")
        metric = metric.strip()
        if metric not in DEFAULT_THRESHOLDS:
            import difflib

            guess = difflib.get_close_matches(metric, list(DEFAULT_THRESHOLDS), n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else f"; metrics: {', '.join(DEFAULT_THRESHOLDS)}"
            raise Refused(f"--guard {metric!r} is not a metric{hint}")
        value = threshold.strip() or DEFAULT_THRESHOLDS[metric]
        try:
            Decimal(value)
        except ArithmeticError:
            raise Refused(f"--guard {item!r}: {value!r} is not a number (write METRIC or METRIC=THRESHOLD)") from None
        guards.append((metric, value))

    from validator.edit import scalar
    from validator.metrics import METRICS

    owners = "".join(f"  - {scalar(o)}\n" for o in args.owner)
    lines = [
        "# yaml-language-server: $schema=../schema/flag.schema.json",
        f"name: {name}",
        f"description: {scalar(args.description)}",
        "owners:",
        owners.rstrip("\n"),
        f"states: [{', '.join(scalar(s) for s in states)}]",
        f"state: {scalar(states[0])}",
        "rollout:",
    ]
    for i, (state, pct) in enumerate(steps):
        lines.append(f"  - state: {scalar(state)}")
        if pct is not None:
            lines.append(f"    percentage: {pct}")
        if 0 < i < len(steps) - 1 and soak:
            lines.append(f"    soak_days: {soak}")
    if args.resource:
        lines += ["requires:", f"  resources: [{', '.join(scalar(r) for r in args.resource)}]"]
    if guards:
        lines += ["guards:", "  # A run is green only inside these bounds (inclusive); promotions cite green runs."]
        for metric, value in guards:
            bound = "min" if METRICS[metric].higher_is_better else "max"
            lines += [f"  - metric: {metric}", f"    {bound}: {value}"]
        lines += ["rollback:", "  # A breach of the guard's threshold on any sample demotes the flag (flaggate rollback-check)."]
        for metric, value in guards:
            op = "<" if METRICS[metric].higher_is_better else ">"
            code = DEFAULT_REASONS[metric]
            if code not in reason_codes:
                code = "OPERATOR_DECISION" if "OPERATOR_DECISION" in reason_codes else reason_codes[0]
            lines += [f"  - metric: {metric}", f'    op: "{op}"', f"    threshold: {value}", f"    reason_code: {code}"]
    lines += [
        "transition:",
        "  from: null",
        f"  to: {scalar(states[0])}",
        f"  justification: {scalar('Flag created: ' + args.description)}",
        "  evidence: []",
    ]
    return "\n".join(lines) + "\n"


def main(root: Path, args: argparse.Namespace) -> int:
    from validator.check import check_snapshot
    from validator.edit import OverlayTree, write_atomically
    from validator.repo import FILE, FLAG_SUFFIX, FLAGS_DIR, Entry, load_policy
    from validator.report import text

    if not FLAG_NAME.match(args.name):
        raise Refused(f"{args.name!r} is not a flag name: lower case letters, digits and _, starting with a letter, at most 64")
    path = f"{FLAGS_DIR}/{args.name}{FLAG_SUFFIX}"
    if (root / path).exists() or (root / path).is_symlink():
        raise Refused(f"{path} already exists; change that flag with flaggate promote/demote, or pick another name")
    if (root / FLAGS_DIR).is_symlink():
        raise Refused(f"{FLAGS_DIR}/ is a symbolic link: flag files live in the repository itself (flaggate check refuses it too)")
    answers(args, sys.stdin.isatty())
    body = render(args, list(load_policy(root).reason_codes))
    tree = OverlayTree(root, {path: body.encode("utf-8")})
    (root / FLAGS_DIR).mkdir(exist_ok=True)
    _, findings = check_snapshot(tree, [Entry(path, FILE)])
    mine = [f for f in findings if f.file == path or f.flag == args.name]
    if args.dry_run or mine:
        print(body, end="")
    if mine:
        from validator.report import Result

        print(text(Result(mine, checked=1)))
        print(f"flaggate: new {args.name} refused: nothing written", file=sys.stderr)
        return 1
    if not args.dry_run:
        write_atomically(root / path, body.encode("utf-8"))
        print(
            f"created {path}: {args.name} starts in {_split(args.states)[0]}; commit it and open a pull request (a platform owner approves a create)"
        )
    return 0
