"""``flaggate``: the command line.  ``main(argv) -> int``; exit 0 clean, 1 findings, 2 cannot decide.

Each command's module is imported only when that command runs, so that
``flaggate check`` (the pre-commit hook) never pays for PyGithub.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from validator import __version__
from validator.errors import FatalError
from validator.report import FORMATS, escape


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


def _root(args: argparse.Namespace) -> Path:
    from validator.repo import find_root

    if args.root is not None:
        root = Path(args.root)
        if not (root / "policy.yaml").is_file():
            raise FatalError(f"{root} holds no policy.yaml: not a flaggate repository")
        return root.resolve()
    return find_root(Path.cwd())


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", help="the flag repository (default: the nearest directory holding policy.yaml)")


def _add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", type=_now, default=None, help="fix 'now' (ISO 8601, UTC if no zone) for reproducible runs")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flaggate", description="Validate, gate and publish feature flags kept as YAML in git.")
    parser.add_argument("--version", action="version", version=f"flaggate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    check = sub.add_parser("check", help="check the flag files (and, with --base, the change against REF)")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="flag files or directories (default: flags/)")
    check.add_argument("--base", metavar="REF", help="judge every state change against git revision REF")
    check.add_argument("--format", choices=FORMATS, default="auto", help="output format (default: auto)")
    check.add_argument("--summary", type=Path, metavar="FILE", help="also append a markdown summary to FILE ($GITHUB_STEP_SUMMARY)")
    _add_now(check)
    _add_common(check)

    schema = sub.add_parser("schema", help="write or check schema/*.json, generated from the models")
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed schemas are out of date (default)")
    mode.add_argument("--write", action="store_true", help="regenerate the committed schemas")
    _add_common(schema)

    promote = sub.add_parser("promote", help="move a flag one step forward, writing the transition block")
    promote.add_argument("flag")
    promote.add_argument("--justification", required=True, help="why: shown to reviewers and in the audit log")
    promote.add_argument("--evidence", nargs="*", default=[], metavar="RUN_ID", help="reconciliation run ids (evidence/<flag>/<id>.json)")
    promote.add_argument("--dry-run", action="store_true", help="print the edit, write nothing")
    _add_now(promote)
    _add_common(promote)

    demote = sub.add_parser("demote", help="move a flag one step back (emergency demote; from the first step: disable)")
    demote.add_argument("flag")
    demote.add_argument("--reason", required=True, metavar="CODE", help="a reason code of policy.yaml")
    demote.add_argument("--justification", required=True)
    demote.add_argument("--dry-run", action="store_true", help="print the edit, write nothing")
    _add_now(demote)
    _add_common(demote)

    plan = sub.add_parser("plan", help="what the next step of a flag needs, and what is still missing")
    plan.add_argument("flag")
    _add_now(plan)
    _add_common(plan)

    log = sub.add_parser("audit-log", help="the JSON audit log of every state change, from git history")
    log.add_argument("--rev", default="HEAD", help="walk this revision's first-parent history (default: HEAD)")
    log.add_argument("--out", type=Path, help="write to FILE (atomically) instead of standard output")
    _add_common(log)

    publish = sub.add_parser("publish", help="write config.json and audit-log.json for services, if the commit passes check")
    publish.add_argument("--out", type=Path, required=True, metavar="DIR")
    publish.add_argument("--rev", default="HEAD", help="the commit to publish (default: HEAD)")
    _add_common(publish)

    pr = sub.add_parser("pr-check", help="report on a pull request: approvals, one summary comment, the flaggate status")
    pr.add_argument("--repo", metavar="OWNER/NAME", help="default: from GITHUB_EVENT_PATH / GITHUB_REPOSITORY")
    pr.add_argument("--pr", type=int, metavar="N", help="pull request number (default: from GITHUB_EVENT_PATH)")
    pr.add_argument("--retries", type=int, default=3, help="retries of a GitHub 5xx (default 3; 0 = none)")
    pr.add_argument("--timeout", type=float, default=15, help="seconds to wait for GitHub (default 15)")
    pr.add_argument("--throttle", type=float, default=None, help="seconds between requests (default: PyGithub's)")
    pr.add_argument("--dry-run", action="store_true", help="print the comment and the verdict, post nothing")
    _add_now(pr)
    _add_common(pr)

    owners = sub.add_parser("codeowners", help="write or check .github/CODEOWNERS from the flags' owners")
    owners.add_argument("--check", action="store_true", help="exit 1 (and show the diff) if the file is out of date")
    _add_common(owners)

    rb = sub.add_parser("rollback-check", help="evaluate a flag's rollback triggers over metric samples (JSON lines)")
    rb.add_argument("flag")
    rb.add_argument("--samples", type=Path, required=True, metavar="FILE", help='JSON lines: {"at": ..., "metrics"|"inputs": {...}}')
    rb.add_argument("--since", type=_now, help="when the flag entered its state, for timeout triggers (default: from git history)")
    rb.add_argument("--apply", action="store_true", help="when a trigger fires, write the emergency demote as `flaggate demote` does")
    rb.add_argument("--open-pr", action="store_true", help="with --apply: push a branch and open an emergency pull request")
    rb.add_argument("--repo", metavar="OWNER/NAME", help="for --open-pr (default: GITHUB_REPOSITORY)")
    rb.add_argument("--remote", default="origin", help="git remote to push the branch to (default: origin)")
    rb.add_argument("--label", default="emergency", help="label of the pull request (default: emergency)")
    rb.add_argument("--retries", type=int, default=3)
    rb.add_argument("--timeout", type=float, default=15)
    rb.add_argument("--throttle", type=float, default=None)
    _add_now(rb)
    _add_common(rb)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check":
        return _check(args)
    if args.command == "schema":
        return _schema(args)
    if args.command in ("promote", "demote"):
        return _move(args)
    if args.command == "plan":
        return _plan(args)
    if args.command == "audit-log":
        return _audit_log(args)
    if args.command == "publish":
        return _publish(args)
    if args.command == "pr-check":
        return _pr_check(args)
    if args.command == "codeowners":
        return _codeowners(args)
    if args.command == "rollback-check":
        return _rollback_check(args)
    raise FatalError(f"unknown command {args.command}")  # pragma: no cover - argparse refuses first


def _check(args: argparse.Namespace) -> int:
    from validator import check
    from validator.finding import Finding
    from validator.repo import WorkTree
    from validator.report import Result, reporter, resolve

    root = _root(args)
    tree = WorkTree(root)
    entries = tree.entries_for(args.paths) if args.paths else None
    now = args.now or datetime.now(UTC)
    try:
        result = check.run(root, tree, entries=entries, base=args.base, now=now)
    except FatalError as exc:
        # Cannot decide: still speak the requested format, so CI shows why.
        rule = getattr(exc, "rule", "history")
        if resolve(args.format) != "text":
            print(reporter(args.format)(Result([Finding(".", 1, 1, rule, str(exc))])))
        print(f"flaggate: error: {rule}: {escape(exc)}", file=sys.stderr)
        return 2
    print(reporter(args.format)(result))
    if args.summary is not None:
        _append(args.summary, reporter("markdown")(result))
    return 0 if result.ok else 1


def _append(path: Path, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise FatalError(f"cannot write the summary to {path}: {exc.strerror}") from None


def _schema(args: argparse.Namespace) -> int:
    from validator import schema_files

    root = _root(args)
    if args.write:
        for name in schema_files.write(root):
            print(f"wrote {name}")
        return 0
    stale = schema_files.drift(root)
    for name in stale:
        print(f"{name}: schema: out of date with validator/model.py; run `flaggate schema --write`")
    return 1 if stale else 0


def _move(args: argparse.Namespace) -> int:
    from validator import edit
    from validator.report import text

    root = _root(args)
    now = args.now or datetime.now(UTC)
    try:
        change = edit.prepare(
            root,
            args.flag,
            args.command,
            justification=args.justification,
            evidence=getattr(args, "evidence", []),
            reason=getattr(args, "reason", None),
        )
    except edit.NoMove as refused:
        print(f"flags/{args.flag}.yaml:1:1: transition: {refused}")
        print(f"flaggate: {args.command} refused: nothing written", file=sys.stderr)
        return 1
    result = edit.judge(root, change, now)
    if args.dry_run:
        print(edit.diff(change), end="")
    if not result.ok:
        print(text(result))
        print(f"flaggate: {args.command} refused: nothing written", file=sys.stderr)
        return 1
    if not args.dry_run:
        edit.write_atomically(root / change.path, change.new_text.encode("utf-8"))
        print(f"{change.kind}: {change.flag}: {change.before} -> {change.after} (wrote {change.path}; commit it and open a pull request)")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from validator import edit

    root = _root(args)
    report, ready = edit.plan_report(root, args.flag, args.now or datetime.now(UTC))
    print(report)
    return 0 if ready else 1


def _audit_log(args: argparse.Namespace) -> int:
    from validator import audit, jsonout, publish

    root = _root(args)
    text = jsonout.dumps(audit.entries(root, args.rev))
    if args.out is None:
        sys.stdout.write(text)
    else:
        publish.write(args.out.parent if str(args.out.parent) else Path("."), {args.out.name: text})
    return 0


def _publish(args: argparse.Namespace) -> int:
    from validator import publish
    from validator.report import Result, text

    root = _root(args)
    try:
        config, log = publish.build(root, args.rev)
    except publish.Refused as refused:
        print(text(Result(refused.findings)))
        print(f"flaggate: publish refused: {args.rev} does not pass flaggate check; nothing written", file=sys.stderr)
        return 1
    publish.write(args.out, {publish.AUDIT_LOG: log, publish.CONFIG: config})
    print(f"published {args.out / publish.CONFIG} and {args.out / publish.AUDIT_LOG}")
    return 0


def _pr_check(args: argparse.Namespace) -> int:
    from validator import github  # the only module that imports PyGithub

    return github.run(
        _root(args),
        repo=args.repo,
        number=args.pr,
        now=args.now or datetime.now(UTC),
        retries=args.retries,
        timeout=args.timeout,
        throttle=args.throttle,
        dry_run=args.dry_run,
    )


def _codeowners(args: argparse.Namespace) -> int:
    from validator import codeowners
    from validator.edit import write_atomically

    root = _root(args)
    if args.check:
        diff = codeowners.check(root)
        if diff:
            print(diff, end="")
            print(f"{codeowners.PATH}: out of date with the flags' owners; run `flaggate codeowners`", file=sys.stderr)
            return 1
        return 0
    target = root / codeowners.PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, codeowners.render(root).encode("utf-8"))
    print(f"wrote {codeowners.PATH}")
    return 0


def _entered_at(root: Path, flag: str, position: object) -> datetime | None:
    """When the flag entered its current step, from git history; None outside git."""
    from validator import history
    from validator.gate import history_facts

    try:
        entered, _ = history_facts(root, "HEAD")
    except history.HistoryError:
        return None
    found = entered.get((flag, position))  # type: ignore[arg-type]
    return found[0] if found else None


def _rollback_check(args: argparse.Namespace) -> int:
    from validator import edit, plan, rollback
    from validator.repo import read_flag
    from validator.report import text

    root = _root(args)
    file = read_flag(root, args.flag)
    assert file.flag is not None
    samples = rollback.read_samples(args.samples)
    since = args.since or _entered_at(root, file.flag.name, plan.position(file.flag))
    report = rollback.evaluate(file.flag, samples, since=since, now=args.now)
    print(rollback.render(report))
    if not report.fired:
        return 0
    if not (args.apply or args.open_pr):
        return 1
    firing = report.fired[0]
    change = edit.prepare(
        root,
        args.flag,
        "demote",
        justification=rollback.justification(firing),
        evidence=[],
        reason=firing.trigger.reason_code,
        metrics=firing.snapshot(),
    )
    result = edit.judge(root, change, args.now or datetime.now(UTC))
    if not result.ok:
        print(text(result))
        raise FatalError("the emergency demote would not pass flaggate check --base HEAD; nothing written")
    edit.write_atomically(root / change.path, change.new_text.encode("utf-8"))
    print(f"applied: {change.kind} {change.flag}: {change.before} -> {change.after} ({firing.trigger.reason_code}); wrote {change.path}")
    if args.open_pr:
        from validator import github, history

        stamp = firing.at.strftime("%Y%m%dT%H%M%SZ")
        branch = f"flaggate/rollback-{change.flag}-{stamp}"
        base = history.current_branch(root)
        title = f"Emergency demote: {change.flag} {change.before} -> {change.after} ({firing.trigger.reason_code})"
        history.push_branch(root, branch, [change.path], title, args.remote)
        body = f"{title}\n\nOpened by `flaggate rollback-check`.\n\n```text\n{rollback.render(report)}\n```\n"
        url = github.open_emergency_pr(
            repo=args.repo,
            head=branch,
            base=base,
            title=title,
            body=body,
            label=args.label,
            retries=args.retries,
            timeout=args.timeout,
            throttle=args.throttle,
        )
        print(f"opened {url} from branch {branch}")
    return 1
