"""Benchmark: what the state history costs on long-lived repositories (``audit-log``, ``check --base``).

Generates (``git fast-import``, see ``audit_log.py``) histories of N
state-changing commits, then times whole processes side by side, interleaved
round by round (A B C A B C ...), each row's median and peak memory
(``/usr/bin/time -f %M``), and each ratio to a reference row of the same run:

* ``git log --first-parent -p --no-renames -- flags``: the floor (git alone,
  every diff of the flags); the same over the whole tree (evidence included)
  is shown beside it, once, since it grows faster than linearly;
* ``flaggate audit-log`` cold (``FLAGGATE_NO_CACHE=1``: the history read
  from git alone), after one new commit (the log kept for its parent, as
  ``publish`` finds after a merge), and again on the same commit;
* ``flaggate check --base HEAD`` with one flag promoted in the working tree,
  cold and as the same check again (what the check before kept: the answer
  for that commit and those runs, and its readings of the flag's runs),
  beside plain ``flaggate check``: a promotion out of off whose rules read no
  history, and one out of shadow with three new runs, whose soak and evidence
  read when it entered shadow and whether its runs were cited before
  (``--reference`` adds the cold rows of another build, e.g. the code before a change).

Usage: python benchmarks/history.py [--commits 10000 50000] [--runs 5] [--keep DIR] [--skip-audit] [--reference FLAGGATE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_log import generate  # noqa: E402
from common import tool  # noqa: E402

Row = tuple[str, list[str], dict[str, str], Callable[[], None] | None]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one whole-process run."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wall = time.perf_counter() - started
    return wall, int(done.stderr.strip().splitlines()[-1])


def side_by_side(rows: list[Row], cwd: Path, runs: int) -> dict[str, tuple[float, int]]:
    """Median wall and median peak memory of each row, rows interleaved round by round after a warm-up round."""
    got: dict[str, list[tuple[float, int]]] = {name: [] for name, *_ in rows}
    for round_ in range(runs + 1):
        for name, command, env, setup in rows:
            if setup is not None:
                setup()
            result = timed(command, cwd, env)
            if round_:
                got[name].append(result)
    return {name: (statistics.median(w for w, _ in r), int(statistics.median(m for _, m in r))) for name, r in got.items()}


def table(results: dict[str, tuple[float, int]], reference: str) -> str:
    ref = results[reference][0]
    lines = [f"| run | median | peak memory | ratio to {reference} |", "|---|---|---|---|"]
    for name, (wall, kib) in results.items():
        lines.append(f"| {name} | {wall * 1000:.0f} ms | {kib / 1024:.0f} MiB | {wall / ref:.2f}x |")
    return "\n".join(lines)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def prepare(repo: Path, commits: int) -> None:
    """The generated history, plus one last commit so "one new commit" can be measured."""
    if (repo / ".git").is_dir():
        return
    generate(repo, commits)
    flag = repo / "flags" / "outbox_enabled.yaml"
    flag.write_text(flag.read_text().replace("Reliable telegram", "Reliable, tested telegram"))
    git(repo, "commit", "-qam", "wording")


def audit_rows(repo: Path, flaggate: str) -> list[Row]:
    cache = repo / ".git" / "flaggate"
    head, parent = git(repo, "rev-parse", "HEAD").strip(), git(repo, "rev-parse", "HEAD~1").strip()
    shutil.rmtree(cache, ignore_errors=True)
    subprocess.run([flaggate, "audit-log", "--rev", parent], cwd=repo, check=True, stdout=subprocess.DEVNULL)

    def only_parent_kept() -> None:
        (cache / f"audit-{head}.json").unlink(missing_ok=True)

    return [
        (
            "git log --first-parent -p --no-renames -- flags (floor)",
            ["git", "log", "--first-parent", "-p", "--no-renames", "--", "flags"],
            {},
            None,
        ),
        ("flaggate audit-log, cold (FLAGGATE_NO_CACHE=1)", [flaggate, "audit-log"], {"FLAGGATE_NO_CACHE": "1"}, None),
        ("flaggate audit-log, one commit after the kept log", [flaggate, "audit-log"], {}, only_parent_kept),
        ("flaggate audit-log, same commit again", [flaggate, "audit-log"], {}, None),
    ]


def _promoted(text: str, frm: str, to: str, evidence: list[str]) -> str:
    head = text[: text.index("\ntransition:") + 1] if "\ntransition:" in text else text
    head = head.replace(f"\nstate: {frm}\n", f"\nstate: {to}\n")
    return head + f'transition:\n  from: "{frm}"\n  to: "{to}"\n  justification: "benchmark"\n  evidence: [{", ".join(evidence)}]\n'


SHADOW_NEXT = {"allocation_dual_write": "enforce", "event_stream_enabled": "full"}  # the generated history moves these two


def check_rows(repo: Path, flaggate: str, reference: str | None = None) -> list[Row]:
    """``check --base HEAD`` with one flag promoted in the working tree, two ways.

    outbox_enabled off -> on: out of a first step that soaks nothing, so its
    rules read nothing of the history.  Out of shadow (dual write or event
    stream, whichever the history left in shadow) with three new green runs:
    soak and evidence read when it entered shadow and every run cited since
    its creation (from its newest versions, ``validator.narrow``), and the
    newest-runs rule reads every run of the flag: from git alone (nothing
    kept), or as the check before kept them (the warm-up round keeps them).
    """
    outbox = repo / "flags" / "outbox_enabled.yaml"
    outbox_base = git(repo, "show", "HEAD:flags/outbox_enabled.yaml")
    texts = {name: git(repo, "show", f"HEAD:flags/{name}.yaml") for name in SHADOW_NEXT}
    moving = next(name for name, text in texts.items() if "\nstate: shadow\n" in text)
    flag, flag_base = repo / "flags" / f"{moving}.yaml", texts[moving]
    runs = {f"rr-{900001 + i}": 900001 + i for i in range(3)}
    run_dir = repo / "evidence" / moving
    template = json.loads((run_dir / sorted(p.name for p in run_dir.glob("rr-*.json"))[-1]).read_text())

    def promote_outbox() -> None:
        outbox.write_text(_promoted(outbox_base, "off", "on", []))
        flag.write_text(flag_base)
        for run_id in runs:
            (run_dir / f"{run_id}.json").unlink(missing_ok=True)

    def promote_shadow() -> None:
        outbox.write_text(outbox_base)
        flag.write_text(_promoted(flag_base, "shadow", SHADOW_NEXT[moving], list(runs)))
        for run_id, seq in runs.items():
            (run_dir / f"{run_id}.json").write_text(json.dumps({**template, "run_id": run_id, "seq": seq}, indent=1))

    cold = {"FLAGGATE_NO_CACHE": "1"}
    base = [flaggate, "check", "--base", "HEAD"]
    out_of_shadow = f"{moving} shadow -> {SHADOW_NEXT[moving]}"
    rows: list[Row] = [
        ("flaggate check (plain), outbox promoted", [flaggate, "check"], {}, promote_outbox),
        ("flaggate check --base HEAD, outbox off -> on, nothing kept (FLAGGATE_NO_CACHE=1)", base, cold, promote_outbox),
        ("flaggate check --base HEAD, outbox off -> on, kept walks allowed", base, {}, promote_outbox),
        (f"flaggate check (plain), {moving} promoted", [flaggate, "check"], {}, promote_shadow),
        (f"flaggate check --base HEAD, {out_of_shadow}, nothing kept (FLAGGATE_NO_CACHE=1)", base, cold, promote_shadow),
        (f"flaggate check --base HEAD, {out_of_shadow}, kept by the check before (its answer and run readings)", base, {}, promote_shadow),
    ]
    if reference is not None:  # the same cold rows by another build (the code before a change), side by side
        again = [reference, "check", "--base", "HEAD"]
        rows += [
            ("reference build: check --base HEAD, outbox off -> on, nothing kept", again, cold, promote_outbox),
            (f"reference build: check --base HEAD, {out_of_shadow}, nothing kept", again, cold, promote_shadow),
        ]
    return rows


def restore(repo: Path) -> None:
    git(repo, "checkout", "-q", "--", "flags")
    for name in SHADOW_NEXT:
        for path in (repo / "evidence" / name).glob("rr-9?????.json"):
            path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate the repositories here and reuse them next time")
    parser.add_argument("--skip-whole-log", action="store_true", help="skip the (slow) evidence-including git log")
    parser.add_argument("--skip-audit", action="store_true", help="only the check --base rows")
    parser.add_argument("--reference", help="another build's flaggate: its cold check --base rows side by side")
    args = parser.parse_args()
    flaggate = tool("flaggate")
    with tempfile.TemporaryDirectory() as tmp:
        where = args.keep or Path(tmp)
        for commits in args.commits:
            repo = where / f"history-{commits}"
            prepare(repo, commits)
            print(f"\n## {commits} state-changing commits, median of {args.runs} interleaved runs\n")
            if not args.skip_whole_log and not args.skip_audit:
                wall, kib = timed(["git", "log", "--first-parent", "-p", "--no-renames"], repo, {})
                print(f"git log --first-parent -p --no-renames (evidence included), one run: {wall * 1000:.0f} ms, {kib / 1024:.0f} MiB\n")
            if not args.skip_audit:
                results = side_by_side(audit_rows(repo, flaggate), repo, args.runs)
                print(table(results, "git log --first-parent -p --no-renames -- flags (floor)") + "\n")
            restore(repo)
            results = side_by_side(check_rows(repo, flaggate, args.reference), repo, args.runs)
            print(table(results, "flaggate check (plain), outbox promoted"))
            restore(repo)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
