"""``flaggate``: the command line.  ``main(argv) -> int``; exit 0 clean, 1 findings, 2 cannot decide.

Each command's module is imported only when that command runs, so that
``flaggate check`` (the pre-commit hook) never pays for PyGithub.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from validator import __version__, completion, term
from validator.errors import FatalError
from validator.report import FORMATS, escape


def _digits(value: str) -> int:
    """A whole number written with the digits 0-9 (``int`` also takes "+3", "1_000" and other scripts' digits,
    which a run file read back by the strict reader, or by another language, would not say the same way)."""
    if not (value.isascii() and value.isdigit()):
        raise argparse.ArgumentTypeError(f"'{escape(value)}' is not a whole number written with the digits 0-9")
    return int(value, 10)


def _now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (example: 2026-11-20T01:00:00Z)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{text!r} is outside years 0001-9999 in UTC") from None


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", help="the flag repository (default: the nearest directory holding policy.yaml)")
    parser.add_argument("--no-color", action="store_true", help="no colour in text output (also: the NO_COLOR environment variable)")


def _add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=_now, default=None, metavar="TIME", help="fix 'now' (ISO 8601, UTC if no zone) for reproducible runs")


def _add_flag(parser: argparse.ArgumentParser, what: str) -> None:
    action = parser.add_argument("flag", metavar="FLAG", help=f"{what} (the name: flags/FLAG.yaml)")
    action.complete = completion.FLAG  # type: ignore[attr-defined]


def _add_base(parser: argparse.ArgumentParser, what: str) -> None:
    action = parser.add_argument(
        "--base",
        metavar="REF",
        help=f"{what} (default: the branch's upstream, else origin/HEAD, else HEAD: what the pull request will be judged against)",
    )
    action.complete = completion.REF  # type: ignore[attr-defined]


def _add_github(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--retries", type=int, default=3, metavar="N", help="retries of a GitHub 5xx (default 3; 0 = none)")
    parser.add_argument("--timeout", type=float, default=15, metavar="SECONDS", help="seconds to wait for GitHub (default 15)")
    parser.add_argument(
        "--throttle", type=float, default=None, metavar="SECONDS", help="seconds between GitHub requests (default: PyGithub's)"
    )


_NO_REASONS = "  (run in a flag repository to list them)"


class _Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples keep their lines."""


def _sub(sub: Any, name: str, summary: str, description: str, examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(  # type: ignore[no-any-return]
        name,
        help=summary,
        description=f"{summary[0].upper()}{summary[1:]}.\n\n{description}",
        epilog=f"examples:\n{examples}",
        formatter_class=_Help,
    )


def _check_parser(sub: Any) -> None:
    check = _sub(
        sub,
        "check",
        "check the flag files (and, with --base, the change against REF)",
        "Without --base: every file on its own and the set as a whole (yaml, schema, consistency, dependency).\n"
        "With --base REF: also every state change since REF (transition, evidence, soak, reason_code).",
        "  flaggate check\n  flaggate check --base origin/main --format json\n  flaggate check flags/outbox_enabled.yaml",
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="flag files or directories (default: flags/)")
    check.add_argument(
        "--base", metavar="REF", help="judge every change against git revision REF (its rules and history)"
    ).complete = completion.REF  # type: ignore[attr-defined]
    check.add_argument(
        "--head",
        metavar="REF",
        help="with --base: judge the commit REF as git stores it, not the working tree (what CI does)",
    ).complete = completion.REF  # type: ignore[attr-defined]
    check.add_argument(
        "--format", choices=FORMATS, default="auto", help="output format (default: auto: github in GitHub Actions, else text)"
    )
    check.add_argument("--summary", type=Path, metavar="FILE", help="also append a markdown summary to FILE ($GITHUB_STEP_SUMMARY)")
    _add_now(check)
    _add_common(check)


def _status_parser(sub: Any) -> None:
    status = _sub(
        sub,
        "status",
        "every flag at a glance: state, place on its plan, soak, whether the next step is ready",
        "One line per flag: its state and percentage, its plan with the current step in brackets, time in the step\n"
        "and soak left, whether the next promotion is ready (and what is missing), and the last change with its\n"
        "reason code.  With --base REF: what the working tree changes against REF, as check --base judges it.",
        "  flaggate status\n  flaggate status --format json\n  flaggate status --base origin/main",
    )
    status.add_argument("--format", choices=("text", "json"), default="text", help="text for people, json for scripts (default: text)")
    status.add_argument(
        "--base", metavar="REF", help="also show what the working tree changes against git revision REF"
    ).complete = completion.REF  # type: ignore[attr-defined]
    _add_now(status)
    _add_common(status)


def _new_parser(sub: Any) -> None:
    new = _sub(
        sub,
        "new",
        "scaffold a new flag file that passes check",
        "Writes flags/NAME.yaml: its states, a rollout plan starting at the first state (off), guards and\n"
        "rollback triggers from the chosen metrics, and its owners.  Prompts for what is missing only on a\n"
        "terminal; every answer can be given as an option.  The new flag is judged like any other change\n"
        "(a create needs a platform owner's approval).",
        "  flaggate new partial_allocation_ui --owner acme-payments/billing-core --states off,canary,full \\\n"
        "      --percentages 5,25 --soak-days 3 --guard drift_ppm --description 'UI for partial allocations'",
    )
    new.add_argument("name", metavar="NAME", help="the new flag's name (lower case, digits and _; the file is flags/NAME.yaml)")
    new.add_argument("--description", metavar="TEXT", help="what the flag switches (prompted on a terminal)")
    new.add_argument(
        "--owner", action="append", default=[], metavar="OWNER", help="a GitHub login or org/team that approves promotions; repeat for more"
    )
    new.add_argument("--states", metavar="LIST", help="comma-separated states, first one off (default: off,on)")
    new.add_argument("--percentages", metavar="LIST", help="comma-separated canary percentages for a percentage state (e.g. 5,25)")
    new.add_argument(
        "--soak-days", type=int, default=None, metavar="DAYS", help="days to soak in every step between the first and the last (default: 7)"
    )
    new.add_argument(
        "--guard",
        action="append",
        default=[],
        metavar="METRIC",
        help="a metric that guards promotions and triggers a rollback; repeat for more",
    ).complete = completion.METRIC  # type: ignore[attr-defined]
    new.add_argument(
        "--resource", action="append", default=[], metavar="NAME", help="a resource of resources.yaml the flag needs while not off"
    )
    new.add_argument("--dry-run", action="store_true", help="print the file, write nothing")
    _add_common(new)


def _diff_parser(sub: Any) -> None:
    diff = _sub(
        sub,
        "diff",
        "what changed between two revisions or two published config.json files, as moves",
        "Each flag that moved, as the same kinds check --base reports (create, promote, demote, disable, delete),\n"
        "plus changes of owners or states that are not moves.  A and B are git revisions or config.json files.",
        "  flaggate diff origin/main HEAD\n  flaggate diff old/config.json public/config.json --format json",
    )
    diff.add_argument("a", metavar="A", help="the older side: a git revision or a published config.json file").complete = completion.REF  # type: ignore[attr-defined]
    diff.add_argument("b", metavar="B", help="the newer side: a git revision or a published config.json file").complete = completion.REF  # type: ignore[attr-defined]
    diff.add_argument("--format", choices=("text", "json"), default="text", help="text for people, json for scripts (default: text)")
    _add_common(diff)


def _schema_parser(sub: Any) -> None:
    schema = _sub(
        sub,
        "schema",
        "write or check schema/*.json, generated from the models",
        "The JSON Schemas in schema/ are generated from validator/model.py; commit both together.",
        "  flaggate schema --check\n  flaggate schema --write",
    )
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed schemas are out of date (default)")
    mode.add_argument("--write", action="store_true", help="regenerate the committed schemas")
    _add_common(schema)


def _promote_parser(sub: Any) -> None:
    promote = _sub(
        sub,
        "promote",
        "move a flag one step forward, writing the transition block",
        "Edits flags/FLAG.yaml (state, percentage, transition block; every other byte stays) after judging the\n"
        "result as check --base would.  A change the gate would refuse is never written.",
        '  flaggate promote allocation_dual_write --justification "3 green runs, 7 days soaked" \\\n'
        "      --evidence rr-0101 rr-0102 rr-0103",
    )
    _add_flag(promote, "the flag to promote")
    promote.add_argument("--justification", required=True, metavar="TEXT", help="why: shown to reviewers and in the audit log")
    promote.add_argument(
        "--evidence",
        nargs="*",
        default=[],
        metavar="RUN_ID",
        help="reconciliation run ids (evidence/FLAG/RUN_ID.json); `flaggate plan` suggests them",
    ).complete = completion.RUN  # type: ignore[attr-defined]
    promote.add_argument("--dry-run", action="store_true", help="print the edit, write nothing")
    _add_base(promote, "judge the promotion against git revision REF")
    _add_now(promote)
    _add_common(promote)


def _demote_parser(sub: Any, reason_listing: str = _NO_REASONS, reason_source: str = "") -> None:
    demote = _sub(
        sub,
        "demote",
        "move a flag back: one step (an emergency demote), or straight to off with --to off (a kill switch)",
        "Edits flags/FLAG.yaml with the reason code and justification; needs no evidence.  The move back from the\n"
        "plan's second step to its first (shadow -> off) is a disable; so is --to off from any later step, legal\n"
        "only for a flag with `kill_switch: true`.  Every flag whose requirement the move would break moves too,\n"
        "in the same change with the same reason code (the cascade, printed before anything is written), so the\n"
        "result passes check, check --base, the pre-commit hook and publish.  Nothing is written if it would not.\n\n"
        f"reason codes (--reason; from policy.yaml{reason_source}):\n{reason_listing}",
        '  flaggate demote allocation_dual_write --reason DRIFT_BREACH --justification "drift 812 ppm at 02:10" \\\n'
        "      --metrics drift_ppm=812\n"
        '  flaggate demote allocation_read_switch --to off --reason DRIFT_BREACH --justification "drift on full"',
    )
    _add_flag(demote, "the flag to demote")
    demote.add_argument(
        "--reason", required=True, metavar="CODE", help="a reason code of the base's policy.yaml (listed above)"
    ).complete = completion.REASON  # type: ignore[attr-defined]
    demote.add_argument(
        "--justification", required=True, metavar="TEXT", help="why: what was seen, shown to reviewers and in the audit log"
    )
    demote.add_argument(
        "--to", metavar="STATE", help="the state to move to: the step back (default), or off for a flag with kill_switch: true"
    )
    demote.add_argument(
        "--metrics",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="what was seen, recorded in the transition block and the audit log (e.g. drift_ppm=812)",
    )
    demote.add_argument(
        "--samples", type=Path, metavar="FILE", help="record the worst value of each metric in these samples (JSON lines; - = stdin)"
    )
    demote.add_argument("--dry-run", action="store_true", help="print the edit, write nothing")
    _add_base(demote, "judge the demote against git revision REF (its policy's reason codes too)")
    _add_now(demote)
    _add_common(demote)


def _plan_parser(sub: Any) -> None:
    plan = _sub(
        sub,
        "plan",
        "what the next step of a flag needs, and what is still missing",
        "Judges the next promotion exactly as check --base would (against the same base), suggests the newest\n"
        "streak of usable green runs (never one an earlier promotion cited), and prints the command to run.\n"
        "Exit 0 when ready, 1 when something is missing.",
        "  flaggate plan allocation_dual_write\n  flaggate plan allocation_dual_write --base origin/main --now 2026-11-21T00:00:00Z",
    )
    _add_flag(plan, "the flag to plan for")
    _add_base(plan, "judge the next step against git revision REF")
    _add_now(plan)
    _add_common(plan)


def _audit_log_parser(sub: Any) -> None:
    log = _sub(
        sub,
        "audit-log",
        "the JSON audit log of every state change, from git history",
        "Walks the first-parent history of REV; shows progress on a terminal for a long history.",
        "  flaggate audit-log\n  flaggate audit-log --rev origin/main --out /tmp/audit-log.json",
    )
    log.add_argument(
        "--rev", default="HEAD", metavar="REV", help="walk this revision's first-parent history (default: HEAD)"
    ).complete = completion.REF  # type: ignore[attr-defined]
    log.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (atomically) instead of standard output")
    _add_common(log)


def _publish_parser(sub: Any) -> None:
    publish = _sub(
        sub,
        "publish",
        "write config.json and audit-log.json for services, if the commit passes check",
        "Nothing is written unless REV passes flaggate check and every first-parent step since the last publish\n"
        "passes the gate (approvals aside); the files are replaced atomically.",
        "  flaggate publish --out public\n  flaggate publish --out public --rev v1.2 --since v1.1",
    )
    publish.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="the directory to write config.json and audit-log.json into"
    )
    publish.add_argument("--rev", default="HEAD", metavar="REV", help="the commit to publish (default: HEAD)").complete = completion.REF  # type: ignore[attr-defined]
    publish.add_argument(
        "--since",
        metavar="REF",
        help="judge every first-parent step since REF (default: the commit of the config.json in --out; without one, the last step)",
    ).complete = completion.REF  # type: ignore[attr-defined]
    _add_common(publish)


def _pr_check_parser(sub: Any) -> None:
    pr = _sub(
        sub,
        "pr-check",
        "report on a pull request: approvals, one summary comment, the flaggate status",
        "In a workflow: reads the pull request (GITHUB_TOKEN), judges it, updates one summary comment and sets the\n"
        "flaggate commit status.  With --dry-run and no GITHUB_TOKEN: an offline preview of the comment, judged\n"
        "from local git against --base (approvals marked as not read); nothing is contacted.",
        "  flaggate pr-check --dry-run --base origin/main          # offline preview, before pushing\n"
        "  flaggate pr-check --repo acme-payments/flags --pr 7     # in CI, with GITHUB_TOKEN",
    )
    pr.add_argument("--repo", metavar="OWNER/NAME", help="the repository (default: from GITHUB_EVENT_PATH / GITHUB_REPOSITORY)")
    pr.add_argument("--pr", type=int, metavar="N", help="pull request number (default: from GITHUB_EVENT_PATH)")
    _add_base(pr, "offline preview (--dry-run without GITHUB_TOKEN): judge against git revision REF")
    _add_github(pr)
    pr.add_argument("--dry-run", action="store_true", help="print the comment and the verdict, post nothing (offline without GITHUB_TOKEN)")
    _add_now(pr)
    _add_common(pr)


def _codeowners_parser(sub: Any) -> None:
    owners = _sub(
        sub,
        "codeowners",
        "write or check .github/CODEOWNERS from the flags' owners",
        "Each flag file and its evidence directory are owned by the flag's owners; the rest by platform_owners.",
        "  flaggate codeowners\n  flaggate codeowners --check",
    )
    owners.add_argument("--check", action="store_true", help="exit 1 (and show the diff) if the file is out of date")
    _add_common(owners)


def _hooks_parser(sub: Any) -> None:
    hooks = _sub(
        sub,
        "hooks",
        "check, schema --check and codeowners --check in one process (the pre-commit hook)",
        "Runs `flaggate check`, then `flaggate schema --check` (in flaggate's own repository, where schema/ is generated) "
        "and `flaggate codeowners --check` (when .github/CODEOWNERS exists), in one process, so a commit pays flaggate's "
        "start-up once. Exit 2 if any could not decide, else 1 if any found something, else 0.",
        "  flaggate hooks",
    )
    _add_common(hooks)


def _rollback_check_parser(sub: Any) -> None:
    rb = _sub(
        sub,
        "rollback-check",
        "evaluate a flag's rollback triggers over metric samples (JSON lines)",
        "Exit 0 only when every trigger watching the flag's state was judged on enough samples and none fired;\n"
        "1 when a trigger fired (every fired trigger is reported); 2 when a trigger cannot be judged (no sample\n"
        "of its metric, or too few for its consecutive / sustained_minutes / timeout_hours) or on bad input.\n"
        "Near misses are reported (how close, how long).\n\n"
        "--apply: when a trigger fired, write the emergency demote to the working tree as `flaggate demote`\n"
        "does (cascade included; reason code of the first trigger that fired, every fired trigger in the\n"
        "justification, every breaching metric's worst value in the metrics snapshot).\n"
        "--open-pr: implies --apply; first checks GITHUB_TOKEN, the repository, the remote and a clean working\n"
        "tree (nothing is written if one is missing), then commits the demote on a new branch named per run,\n"
        "pushes it and opens a pull request labelled --label.  A failed run leaves the tree as it was; retry it.",
        "  flaggate rollback-check allocation_dual_write --samples drift.jsonl\n"
        "  collect-metrics | flaggate rollback-check allocation_dual_write --samples -\n"
        "  flaggate rollback-check allocation_dual_write --samples drift.jsonl --apply\n"
        "  flaggate rollback-check allocation_dual_write --samples drift.jsonl --open-pr --repo acme-payments/flags",
    )
    _add_flag(rb, "the flag whose rollback triggers to evaluate")
    rb.add_argument(
        "--samples",
        type=Path,
        required=True,
        metavar="FILE",
        help='JSON lines: {"at": ..., "metrics"|"inputs": {...}}; - reads standard input',
    )
    rb.add_argument(
        "--since",
        type=_now,
        metavar="TIME",
        help="when the flag entered its state, where git history cannot tell (a later time only narrows the window)",
    )
    rb.add_argument("--apply", action="store_true", help="when a trigger fires, write the emergency demote (and its cascade)")
    rb.add_argument("--open-pr", action="store_true", help="implies --apply: commit it on a new branch, push, open a pull request")
    rb.add_argument("--repo", metavar="OWNER/NAME", help="for --open-pr (default: GITHUB_REPOSITORY)")
    rb.add_argument("--remote", default="origin", metavar="NAME", help="git remote to push the branch to (default: origin)")
    rb.add_argument("--label", default="emergency", metavar="LABEL", help="label of the pull request (default: emergency)")
    _add_github(rb)
    _add_now(rb)
    _add_common(rb)


def _evidence_parser(sub: Any) -> None:
    ev = _sub(
        sub,
        "evidence",
        "the reconciliation job's commands: keygen, record (compute, write and sign a run), verify",
        "Create signing keys, record signed reconciliation runs, verify run signatures (see the README's\nsection on signed runs).",
        "  flaggate evidence keygen --out recon.pem --id recon-2026\n"
        "  flaggate evidence record allocation_dual_write --state shadow --seq 104 --started 2026-11-20T01:00:00Z \\\n"
        "      --finished 2026-11-20T01:12:00Z --input ledger_total=1250000.00 --input legacy_total=1250000.00 \\\n"
        "      --key recon.pem --key-id recon-2026\n"
        "  flaggate evidence verify evidence/allocation_dual_write/rr-0104.json",
    )
    ev_sub = ev.add_subparsers(dest="evidence_command", metavar="ACTION", help="keygen, record or verify")
    ev_sub.required = True
    keygen = _sub(
        ev_sub,
        "keygen",
        "new Ed25519 key: the private key to FILE (mode 0600, never printed), the public key printed",
        "The printed entry goes into policy.yaml's signers (an amend the platform owners approve).",
        "  flaggate evidence keygen --out recon.pem --id recon-2026",
    )
    keygen.add_argument("--out", type=Path, required=True, metavar="FILE", help="where the private key goes (never overwritten)")
    keygen.add_argument("--id", default="reconciler", metavar="ID", help="the key id runs will name (default: reconciler)")
    record = _sub(
        ev_sub,
        "record",
        "compute a run from raw inputs with the gate's formulas, write it and sign it",
        "A run the gate would refuse is never written; an existing run is never overwritten.",
        "  flaggate evidence record allocation_dual_write --state shadow --seq 104 --started 2026-11-20T01:00:00Z \\\n"
        "      --finished 2026-11-20T01:12:00Z --input ledger_total=1250000.00 --input legacy_total=1250000.00 \\\n"
        "      --input failed_ledger_writes=0 --input total_ledger_writes=120000 --key recon.pem --key-id recon-2026",
    )
    record.add_argument("flag", help="the flag the run reconciles").complete = completion.FLAG  # type: ignore[attr-defined]
    record.add_argument("--state", required=True, metavar="STATE", help="the state the flag was in while the run ran")
    record.add_argument("--percentage", type=_digits, metavar="N", help="the canary percentage, for a percentage state")
    record.add_argument("--seq", type=_digits, required=True, metavar="N", help="the reconciler's sequence number for this flag (no gaps)")
    record.add_argument("--started", type=_now, required=True, metavar="TIME", help="when the run started (ISO 8601)")
    record.add_argument("--finished", type=_now, required=True, metavar="TIME", help="when the run finished (ISO 8601)")
    record.add_argument("--input", action="append", default=[], metavar="NAME=VALUE", help="a raw input, e.g. ledger_total=1250000.00")
    record.add_argument("--status", metavar="STATUS", help="the run's status (default: green when every guard holds, else red)")
    record.add_argument("--run-id", metavar="ID", help="the run id and file name (default: rr-<seq>)")
    record.add_argument("--key", type=Path, required=True, metavar="FILE", help="the private key (flaggate evidence keygen)")
    record.add_argument("--key-id", default="reconciler", metavar="ID", help="the key id in policy.yaml's signers (default: reconciler)")
    _add_common(record)
    verify = _sub(
        ev_sub,
        "verify",
        "check run files' signatures against policy.yaml's signers",
        "Each run file gets one line: who signed it, or why it does not count (exit 1).",
        "  flaggate evidence verify evidence/allocation_dual_write/rr-0104.json",
    )
    verify.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="run files evidence/<flag>/<run_id>.json")
    verify.add_argument(
        "--base",
        metavar="REF",
        help="verify against the signers of policy.yaml at REF (default: HEAD, as committed; never the working tree)",
    )
    _add_common(verify)


def _completion_parser(sub: Any) -> None:
    comp = _sub(
        sub,
        "completion",
        "print a shell completion script (bash, zsh or fish)",
        "Generated by shtab from this parser; flag names, reason codes and run ids complete from the repository\n"
        "you are in.  Load it in your shell's start-up file.",
        '  eval "$(flaggate completion bash)"                       # ~/.bashrc\n'
        "  flaggate completion zsh > ~/.zfunc/_flaggate             # then compinit\n"
        "  flaggate completion fish > ~/.config/fish/completions/flaggate.fish",
    )
    comp.add_argument("shell", choices=completion.SHELLS, help="the shell to complete in")


# Each command's arguments, in the order `flaggate --help` lists them.
_SUBPARSERS: dict[str, Callable[..., None]] = {
    "check": _check_parser,
    "status": _status_parser,
    "new": _new_parser,
    "diff": _diff_parser,
    "schema": _schema_parser,
    "promote": _promote_parser,
    "demote": _demote_parser,
    "plan": _plan_parser,
    "audit-log": _audit_log_parser,
    "publish": _publish_parser,
    "pr-check": _pr_check_parser,
    "codeowners": _codeowners_parser,
    "hooks": _hooks_parser,
    "rollback-check": _rollback_check_parser,
    "evidence": _evidence_parser,
    "completion": _completion_parser,
}


def build_parser(reason_listing: str = _NO_REASONS, reason_source: str = "", only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` the parser of that one command (every start of flaggate
    pays for the commands it builds: argparse looks up a translation for every help text)."""
    parser = argparse.ArgumentParser(
        prog="flaggate",
        description="Validate, gate and publish feature flags kept as YAML in git.",
        epilog="examples:\n  flaggate status\n  flaggate check --base origin/main\n  flaggate COMMAND --help",
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"flaggate {__version__}", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help="run `flaggate COMMAND --help` for its options and examples")
    sub.required = True
    for name, add in _SUBPARSERS.items():
        if only in (None, name):
            if name == "demote":
                _demote_parser(sub, reason_listing, reason_source)
            else:
                add(sub)
    return parser


def _reason_help(argv: Sequence[str]) -> dict[str, str]:
    """The reason codes for `demote --help`, read only when that help is asked for (never on the check path)."""
    if not argv or argv[0] != "demote" or not ({"-h", "--help"} & set(argv)):
        return {}
    from validator import reasons
    from validator.repo import find_root

    try:
        root = Path(argv[argv.index("--root") + 1]) if "--root" in argv[:-1] else find_root(Path.cwd())
        known = reasons.at(root.resolve(), "HEAD")
    except (FatalError, OSError):
        return {}
    return {"reason_listing": known.listing(), "reason_source": f" at {known.source.split(' at ')[-1]}" if " at " in known.source else ""}


def _only(argv: Sequence[str]) -> str | None:
    """The one command whose parser is enough: the first word names it, and it is not `completion`
    (which prints the whole parser).  Anything else (--help, --version, a typo) gets every command,
    so that argparse's own messages list them all."""
    if argv and argv[0] in _SUBPARSERS and argv[0] != "completion":
        return argv[0]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(**_reason_help(words), only=_only(words))
    args = parser.parse_args(argv)
    if getattr(args, "no_color", False):
        term.disable()
    try:
        if args.command == "completion":
            print(completion.script(parser, args.shell))
            return 0
        return _dispatch(args)
    except FatalError as exc:
        print(f"flaggate: error: {escape(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 2
    except Exception as exc:  # a bug must still not look like a verdict
        if os.environ.get("FLAGGATE_DEBUG"):
            raise
        print(f"flaggate: internal error: {type(exc).__name__}: {escape(exc)} (set FLAGGATE_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2
    finally:
        # What a command froze (repo.load_snapshot) is garbage like anything else once it ends,
        # for a caller that runs several commands in one process.
        gc.unfreeze()


# Each command's module, imported only when it runs (``check`` never pays for PyGithub).
COMMANDS = {
    "check": "check",
    "schema": "schema",
    "promote": "promote",
    "demote": "demote",
    "plan": "plan",
    "audit-log": "audit_log",
    "publish": "publish",
    "pr-check": "pr_check",
    "codeowners": "codeowners",
    "hooks": "hooks",
    "rollback-check": "rollback_check",
    "evidence": "evidence",
    "status": "status",
    "new": "new",
    "diff": "diff",
}


def _dispatch(args: argparse.Namespace) -> int:
    import importlib

    name = COMMANDS.get(args.command)
    if name is None:  # pragma: no cover - argparse refuses first
        raise FatalError(f"unknown command {args.command}")
    module = importlib.import_module(f"validator.commands.{name}")
    code: int = module.run(args)
    return code
