"""The transition gate: the change from a base revision to a tree, judged.

``flaggate check --base REF`` loads the flags at REF and in the tree being
judged (the working tree, or with ``--head`` a commit read from git objects),
matches them by name, and judges every change: state changes with the rules
``transition``, ``evidence``, ``soak`` and ``reason_code``; rule changes as
``amend``s (their modules in ``validator/rules`` document them).

Every yardstick comes from the base and its history, never from the change
being judged: the plan, guards, soak, requirements, policy and owners are the
base's; where a flag stands on its plan, when it entered its step and which
runs were cited come from ``validator.timeline``, never from a transition
block a change can rewrite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validator import history, plan, signing, timeline
from validator.finding import WARNING, Finding
from validator.plan import Position
from validator.records import Policy, Signer
from validator.repo import EVIDENCE_DIR, FLAGS_DIR, POLICY_FILE, RESOURCES_FILE, FlagFile, Snapshot, Tree, load_snapshot
from validator.rules import amend, evidence, reason_code, soak, transition
from validator.rules import history as history_rule

if TYPE_CHECKING:
    from validator import histcache


@dataclass
class Move:
    """One change between the base and the tree judged: a flag's state change, or an amend of rules."""

    flag: str | None
    kind: str
    before: Position | None
    after: Position | None
    base: FlagFile | None
    head: FlagFile | None
    legal: bool = True
    entered_at: datetime | None = None
    entered_commit: str | None = None
    verdict: evidence.Verdict | None = None
    from_step: int | None = None  # the base plan's step a legal move leaves
    to_step: int | None = None  # ... and the step it lands on
    path: str | None = None  # the file amended (a flag file, policy.yaml or resources.yaml)
    changes: list[dict[str, Any]] = field(default_factory=list)  # an amend's fields, before and after

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "flag": self.flag,
            "from": self.before.state if self.before else None,
            "to": self.after.state if self.after else None,
            "from_percentage": self.before.percentage if self.before else None,
            "to_percentage": self.after.percentage if self.after else None,
            "kind": self.kind,
        }
        if self.kind == amend.KIND:
            body["file"] = self.path
            body["changes"] = self.changes
        return body


@dataclass
class Base:
    """The yardstick: a base revision, its files, and where each flag stood there."""

    ref: str
    sha: str
    snapshot: Snapshot
    policy: Policy
    standings: dict[str, timeline.Standing]


@dataclass
class Judgement:
    base_sha: str
    base: Snapshot
    moves: list[Move]
    findings: list[Finding]
    policy: Policy  # the base's: the yardstick of approvals too


def load_base(root: Path, ref: str, head: Snapshot | None = None) -> Base:
    """Resolve ``ref`` once, read its files and its history.

    With ``head`` (the tree to be judged), the history is asked only where the
    flags that move stand: ``judge`` reads a standing for nothing else.
    """
    sha = history.resolve(root, ref)
    base = base_at(root, ref, sha, {})
    if head is None:
        base.standings = timeline.standings_at(root, sha, None)
        return base
    asked = frozenset(name for name in _moving(base.snapshot, head) if _reads_history(base.snapshot, head, name))
    # Nothing to ask (a promotion out of a first step that soaks nothing, a demote, an amend): the history is not even listed.
    base.standings = _standings(root, sha, asked, base.snapshot, head) if asked else {}
    return base


_GO_ON_WITHIN = 2000  # first-parent commits after a kept walk that going on from it reads rather than the quick reading


def _standings(root: Path, sha: str, asked: frozenset[str], base: Snapshot, head: Snapshot) -> dict[str, timeline.Standing]:
    """Where the ``asked`` flags stand at ``sha``: a walk kept for it, else from their newest versions
    (``validator.narrow``, exact where it answers), else the walk of their whole history."""
    from validator import histcache, narrow

    cache = histcache.open_cache(root)
    kept = cache.exact(sha, asked) if cache is not None else None
    if kept is not None:
        return kept.standings
    quick: dict[str, narrow.Ask] = {}
    # One flag only: for several, one flag's old versions can sit at another asked flag's path, where
    # its search does not look (attack: a completed plan reopened, runs reused); and each search is a
    # git process of its own.  Several flags asked go to the whole walk.
    for name in asked if len(asked) == 1 else ():
        files = [f for f in base.files if f.flag is not None and f.flag.name == name]
        now_file = head.flags.get(name)
        block = now_file.flag.transition if now_file is not None and now_file.flag is not None else None
        if len(files) == 1:
            quick[name] = narrow.Ask(files[0].path, tuple(block.evidence) if block is not None else ())
    question = narrow.question(quick)
    # What the newest versions said for this very commit and question (the author's last check of the same change).
    found = cache.answer(sha, question) if cache is not None and quick else None
    if found is not None and set(found) == set(asked):
        return found
    effective: dict[str, int] | None = None
    if cache is not None and cache.keeps_standings():
        # A walk kept for a recent ancestor: going on from it reads only the commits since (the same answer).
        effective = history.effective_times(root, sha)
        near = cache.nearest(effective, asked)
        if near is not None and len(effective) - list(effective).index(near.sha) <= _GO_ON_WITHIN:
            return timeline.Follower(root, effective, asked, cache=cache).standings(sha)
    if found is None:
        found = narrow.standings_of(root, sha, quick, effective)
        if cache is not None and found:
            cache.save_answer(sha, question, found)
    rest = asked - set(found)
    if rest:
        found.update(timeline.standings_at(root, sha, frozenset(rest)))
    return found


def _moving(base: Snapshot, head: Snapshot) -> frozenset[str]:
    """The flags readable on both sides whose state, percentage or rules differ (an amend asks where the flag stands too)."""
    moving = set()
    for name, now_file in head.flags.items():
        was = base.flags.get(name)
        if was is None or was.flag is None or now_file.flag is None:
            continue
        if plan.position(was.flag) != plan.position(now_file.flag) or _flag_amend(was, now_file) is not None:
            moving.add(name)
    return frozenset(moving)


def _reads_history(base: Snapshot, head: Snapshot, name: str) -> bool:
    """Does judging ``name``'s change read anything of its standing that its file at the base does not tell?

    ``judge`` reads, of a moving flag's standing: its step, which the base
    file's position names whenever that position is one step of the plan
    (``_base_step``); when it entered the step, read only by a legal
    promotion out of a step that soaks (soak, and the pull request's soak
    line) or out of any step but the first (evidence); and the runs already
    cited, read only by the latter.  Two files naming the flag at the base:
    asked, whatever the move.
    """
    files = [f for f in base.files if f.flag is not None and f.flag.name == name]
    was, now_file = base.flags.get(name), head.flags.get(name)
    if len(files) != 1 or was is None or was.flag is None or now_file is None or now_file.flag is None:
        return True
    steps, here = plan.steps(was.flag), plan.position(was.flag)
    if steps.count(here) != 1:
        return True  # the backfill's first and last off look the same in the file: only the history tells them apart
    at = steps.index(here)
    legal = plan.classify(steps, at, plan.position(now_file.flag), kill_switch=was.flag.kill_switch)
    if legal is None or legal[0] != plan.PROMOTE:
        return False
    return at != 0 or bool(was.flag.rollout[at].soak_days)


def _base_step(was: FlagFile, standing: timeline.Standing | None) -> int | None:
    """The step of the base's plan the flag is at: its position's, the one nearest the history's step where it appears twice.

    The history's step is the yardstick only between steps at the same
    position (the backfill's first and last off); a step the base file's
    position is not at (left by files of the same name that came and went
    unseen by the events) never makes a legal move illegal or the reverse.
    """
    if was.flag is None:
        return None
    steps, here = plan.steps(was.flag), plan.position(was.flag)
    if standing is None:
        return plan.locate(steps, here)
    return timeline.relocate(steps, standing.step, here)


def _disagreement(was: FlagFile, now_file: FlagFile, standing: timeline.Standing | None) -> Finding | None:
    """A finding when the history's step is not at the base file's position.

    Only a direct push can leave that (files naming the flag that came and
    went, outside any pull request).  The file's position still names the
    step where it names one (``_base_step``), but when the flag entered it
    and the runs it cited are the history's other step's, and between equal
    steps (the backfill's first and last off) the history cannot tell which:
    a move that reads any of that is refused until the record is whole again.
    A move that reads none of it (``_reads_history`` false) is never asked,
    so the narrowed and the whole history judge alike.
    """
    if was.flag is None or standing is None or standing.step is None:
        return None
    steps, here = plan.steps(was.flag), plan.position(was.flag)
    if 0 <= standing.step < len(steps) and steps[standing.step] == here:
        return None
    recorded = steps[standing.step] if 0 <= standing.step < len(steps) else "a step its plan no longer has"
    return now_file.finding(
        ("state",),
        history_rule.RULE,
        f"{was.flag.name}: the base's history has it at {recorded} but its file at {here}: files naming it came and went "
        "outside any pull request, so when it entered its step and what it cited cannot be told; demote it one step "
        "(a demote reads none of that, and restarts its record), or revert the commits that added the other file",
    )


def base_at(root: Path, ref: str, sha: str, standings: dict[str, timeline.Standing]) -> Base:
    snapshot = load_snapshot(history.GitTree(root, sha))
    if snapshot.findings or snapshot.policy is None:
        first = snapshot.findings[0] if snapshot.findings else None
        more = f" (and {len(snapshot.findings) - 1} more)" if len(snapshot.findings) > 1 else ""
        cause = f"{first.file}:{first.line}:{first.column}: {first.rule}: {first.message}{more}" if first else "no policy"
        raise history.HistoryError(f"the base revision {ref} ({sha[:12]}) cannot be read, so no change can be judged against it: {cause}")
    return Base(ref, sha, snapshot, snapshot.policy, standings)


@dataclass
class Early:
    """git's answers ``judge`` will need, asked early (``ask_early``) so git works while the tree's own rules run."""

    evidence_changes: history.Background[list[tuple[str, str, str]]]


def ask_early(root: Path, base: Base, head: Snapshot, tree: Tree) -> Early:
    """Start the git questions ``judge`` will ask: what the change does to ``evidence/``, and which run files
    of a flag it may promote git holds as they are (the newest-runs rule reads every run of the flag)."""
    expect = getattr(tree, "expect_blob_ids", None)
    if expect is not None:
        for name in _moving(base.snapshot, head):
            if _reads_history(base.snapshot, head, name):
                expect(f"{EVIDENCE_DIR}/{name}")
    rev = tree.rev
    return Early(history.Background(lambda: history.changed_paths(root, base.sha, rev, f"{EVIDENCE_DIR}/")))


def judge(
    root: Path, base: Base, head: Snapshot, tree: Tree, now: datetime, *, one_step: bool = False, early: Early | None = None
) -> Judgement:
    """Every move from ``base`` to ``head`` and what the rules say of it.

    ``one_step``: ``head`` is one first-parent step of a history judged step by step (``publish``):
    whatever its commits did is in the history as steps of their own only if they are on that line,
    and then they are judged there, so they are not replayed here (each replay walked the whole
    history again: a first publish of 800 merged pull requests took minutes)."""
    policy = base.policy
    findings: list[Finding] = []
    moves: list[Move] = []

    base_flags, head_flags = base.snapshot.flags, head.flags
    unreadable_paths = {f.path for f in head.files if f.flag is None}
    unreadable_names = head.unreadable_names()
    for name in sorted(set(base_flags) | set(head_flags)):
        was, now_file = base_flags.get(name), head_flags.get(name)
        if was is not None and now_file is None:
            if was.path in unreadable_paths or name in unreadable_names:
                continue  # the head file's own errors are reported; it is not a deletion
            move, found = _deletion(was, head)
            moves.append(move)
            findings.extend(found)
            continue
        if was is None or was.flag is None:
            if now_file is not None:
                move, found = _creation(now_file)
                moves.append(move)
                findings.extend(found)
            continue
        if now_file is None or now_file.flag is None:
            continue
        standing = base.standings.get(name)
        if standing is not None and not _reads_history(base.snapshot, head, name):
            standing = None  # its move reads nothing of it (load_base does not even ask): judged alike with every flag's history
        amended = _flag_amend(was, now_file)
        if amended is not None:
            moves.append(amended)
            findings.extend(_completion_kept(was, now_file, standing))
        if plan.position(was.flag) == plan.position(now_file.flag):
            continue
        at = _base_step(was, standing)
        disagreement = _disagreement(was, now_file, standing)
        if disagreement is not None:
            # When it entered and what it cited belong to the history's step, not the file's: not used.
            findings.append(disagreement)
            standing = None
        move, found = _move(was, now_file, at, standing)
        findings.extend(found)
        moves.append(move)
        if amended is not None and move.kind == plan.PROMOTE:
            findings.append(
                now_file.finding(
                    ("state",),
                    amend.RULE,
                    f"{name}: this change amends the flag's rules ({'; '.join(amend.describe(c) for c in amended.changes[:3])}"
                    f"{'; ...' if len(amended.changes) > 3 else ''}) and promotes it; an amend is never combined with a promotion "
                    "of the same flag: amend in one pull request (approved by the platform owners), promote in a later one",
                )
            )
        if move.legal:
            findings.extend(transition.block_findings(move))
            if move.kind == plan.PROMOTE:
                cited = standing.cited if standing is not None else {}
                findings.extend(_check_promotion(move, policy, tree, now, cited))
            elif move.kind in (plan.DEMOTE, plan.DISABLE):
                findings.extend(reason_code.check(move, policy, head.policy.reason_codes if head.policy else None))

    moves.extend(_file_amends(base.snapshot, head))
    changes = early.evidence_changes.result() if early is not None else None  # None too where git failed there: asked again
    evidence_changes = changes if changes is not None else history.changed_paths(root, base.sha, tree.rev, f"{EVIDENCE_DIR}/")
    findings.extend(_evidence_rewrites(base, evidence_changes))
    findings.extend(_evidence_added(tree, moves, evidence_changes, list(policy.signers)))
    if tree.rev is not None and tree.rev != base.sha and not one_step:
        # Several commits: where every flag stands, not just the moving ones, is compared with what
        # the change's own commits would write into the history if rebased onto the base (a rebase
        # merge; merges left out, as git's rebase leaves them out).  Only flags such a commit
        # touches: a merge's diff brings in what the base did after the branch started (GitHub's
        # "Update branch"), and no merge method writes a merge's own diff into the history as commits.
        own = history.own_commits(root, base.sha, tree.rev, timeline.PATHS)
        touched = {c.path for commit in own for c in commit.changes if c.path.startswith(f"{FLAGS_DIR}/")}
        if touched:
            names = frozenset(f.flag.name for f in [*head.files, *base.snapshot.files] if f.path in touched and f.flag is not None)
            replayed = timeline.standings_after_rebase(root, base.sha, own, names)
            if replayed is not None:
                at_base, after, asked = replayed
                findings.extend(_hidden_steps(replace(base, standings=at_base), head, after, moves, asked))
            else:
                # No rebase can write these commits (a change does not apply): nothing to compare, but said,
                # so a merge attribute or a conflict that stops the replay never passes in silence.
                findings.extend(_not_replayed(head, names))

    findings.extend(transition.promotions_per_change(moves, policy))
    return Judgement(base.sha, base.snapshot, moves, findings, policy)


def _flag_amend(was: FlagFile, now_file: FlagFile) -> Move | None:
    if was.flag is None or now_file.flag is None:
        return None
    changes = amend.changes(amend.rules_of(was.flag, amend.FLAG_FIELDS), amend.rules_of(now_file.flag, amend.FLAG_FIELDS))
    if not changes:
        return None
    here = plan.position(was.flag)
    return Move(now_file.flag.name, amend.KIND, here, here, was, now_file, path=now_file.path, changes=changes)


def _completion_kept(was: FlagFile, now_file: FlagFile, standing: timeline.Standing | None) -> list[Finding]:
    """An amend never reopens a completed plan (the backfill's last off): no approval overrides that."""
    if was.flag is None or now_file.flag is None or standing is None or standing.step is None:
        return []
    old_plan, new_plan = plan.steps(was.flag), plan.steps(now_file.flag)
    disagreement = _disagreement(was, now_file, standing)
    if disagreement is not None:
        return [disagreement]  # which of its equal steps it is at cannot be told: a completed plan must not reopen by chance
    at = _base_step(was, standing)
    if at is None or not plan.is_complete(old_plan, at):
        return []
    step = timeline.relocate(new_plan, at, plan.position(now_file.flag))
    if step is not None and plan.is_complete(new_plan, step):
        return []
    findings: list[Finding] = []
    findings.append(
        now_file.finding(
            ("rollout",),
            amend.RULE,
            f"{now_file.flag.name} has completed its plan (it is at the last {plan.position(was.flag)}); this amend would put it back "
            "on a step it could be promoted from; keep the plan's completing last step",
        )
    )
    return findings


def _file_amends(base: Snapshot, head: Snapshot) -> list[Move]:
    found = []
    for path, before, after in ((POLICY_FILE, base.policy, head.policy), (RESOURCES_FILE, base.resources, head.resources)):
        if before is None or after is None:
            continue  # an unreadable file is reported by its own findings
        changes = amend.changes(amend.rules_of(before), amend.rules_of(after))
        if changes:
            found.append(Move(None, amend.KIND, None, None, None, None, path=path, changes=changes))
    return found


def _not_replayed(head: Snapshot, names: frozenset[str]) -> list[Finding]:
    """A warning on each flag the change's commits touch: their steps could not be replayed onto the base."""
    found = []
    for name in sorted(names):
        file = head.flags.get(name)
        if file is not None and file.flag is not None:
            found.append(
                file.finding(
                    ("state",),
                    transition.RULE,
                    f"{name}: the commits of this change do not apply onto the base one by one (a conflict, as a rebase would "
                    "stop), so where they take it on the way was not looked at; merge with a merge commit or squash, never rebase",
                    severity=WARNING,
                )
            )
    return found


def _hidden_steps(
    base: Base, head: Snapshot, after: dict[str, timeline.Standing], moves: list[Move], names: frozenset[str]
) -> list[Finding]:
    """The commits of a change must not take a flag where the change as a whole does not show.

    The change is judged as a whole (base to head), but merged without a merge
    commit its commits become the first-parent history, and the history is
    where the next change's yardstick comes from: a completed plan deleted and
    re-created in two commits would restart at off with no move to judge.
    ``after``: where the flags stand once the change's own commits are rebased onto the base;
    ``names``: the flags a file of those commits names (the others are not asked about).
    """
    moved = {m.flag: m for m in moves if m.flag is not None and m.kind != amend.KIND}
    findings: list[Finding] = []
    for name, file in head.flags.items():
        if name not in names:
            continue
        was, standing, now = base.snapshot.flags.get(name), base.standings.get(name), after.get(name)
        if was is None or was.flag is None or file.flag is None or standing is None:
            continue
        if now is None:  # the commits drop the flag from its history although both ends have it
            findings.append(
                file.finding(
                    ("state",),
                    transition.RULE,
                    f"{name}: the commits of this change delete it on the way (its history would forget where it stands); "
                    "squash the branch into one commit (or rebase it onto the base rather than merging the base into it)",
                )
            )
            continue
        move = moved.get(name)
        if move is not None and not move.legal:
            continue  # reported as an illegal move already
        expected = move.to_step if move is not None else standing.step
        expected = timeline.relocate(plan.steps(file.flag), expected, plan.position(file.flag))
        if now.step != expected:
            findings.append(
                file.finding(
                    ("state",),
                    transition.RULE,
                    f"{name}: the commits of this change take it where the change as a whole does not show (deleted and re-created, "
                    f"or moved and moved back): its history would put it at step {_step_name(file, now.step)}, the change at step "
                    f"{_step_name(file, expected)}; squash the branch into one commit (or rebase it onto the base rather than merging the base into it)",
                )
            )
    return findings


def _step_name(file: FlagFile, step: int | None) -> str:
    if step is None or file.flag is None or step >= len(file.flag.rollout):
        return "?"
    return f"{step + 1} ({plan.steps(file.flag)[step]})"


def _evidence_added(tree: Tree, moves: list[Move], changes: list[tuple[str, str, str]], signers: list[Signer]) -> list[Finding]:
    """What a change adds under ``evidence/`` is a well-formed run of its directory's flag, or a run's signature.

    The newest-runs rule reads every run of a flag to find one newer than
    those cited, and a run it cannot read is only a warning when it is on the
    base (evidence is append-only, so a malformed run already there would
    otherwise block the flag for good).  A change must not add one: a red run
    written with a string seq or percentage, or under an odd name, would hide
    from that rule.  Runs cited by this change's promotions are judged there.
    """
    # Runs the evidence rule reads itself: those cited by a legal promotion out of a step past the
    # first.  Out of the first step (off) nothing is reconciled, so a run cited there is judged here
    # like any other (attack: a truncated red run cited out of off passed).
    cited = {
        (m.flag, run_id)
        for m in moves
        if m.kind == plan.PROMOTE
        and m.legal
        and m.from_step
        and m.head is not None
        and m.head.flag is not None
        and m.head.flag.transition is not None
        for run_id in m.head.flag.transition.evidence
    }
    # From git's comparison of the trees (unchanged directories are skipped), not a listing of every run;
    # links and special files are the layout rule's.
    added = sorted({path for path, status, mode in changes if status == "A" and mode in ("100644", "100755")})
    prefetch = getattr(tree, "prefetch", None)  # git objects: every file added, and its run or signature, through one git process
    if prefetch is not None and added:
        # Listed whole first (the layout rule lists it too): every file is then read by its object id,
        # and a run or signature that is not there is known missing without asking git for it by name.
        tree.entries_under(EVIDENCE_DIR)
        prefetch([*added, *(_companion(path) for path in added)])
    findings: list[Finding] = []
    numbered: dict[str, list[tuple[str, int]]] = {}  # flag -> (run id, seq) of each well-formed run added, uncited
    for path in added:
        parts = path.split("/")
        flag = parts[1] if len(parts) > 2 else None
        name = parts[-1]
        run_file = name[: -len(signing.SIG_SUFFIX)] if name.endswith(signing.SIG_SUFFIX) else name
        run_id = run_file[: -len(".json")] if run_file.endswith(".json") else None
        if flag is None or len(parts) != 3 or run_id is None or not evidence.plain_run_id(run_id):
            findings.append(
                Finding(
                    path,
                    1,
                    1,
                    evidence.RULE,
                    f"{path} is not a run: evidence/<flag>/ holds <run>.json files (and their {signing.SIG_SUFFIX}) only, "
                    "so that every run is read; rename it or remove it",
                    flag,
                )
            )
            continue
        if name != run_file:
            if tree.read(f"{EVIDENCE_DIR}/{flag}/{run_file}") is None:
                findings.append(Finding(path, 1, 1, evidence.RULE, f"{path} signs no run: {run_file} is not in evidence/{flag}/", flag))
            continue
        if (flag, run_id) in cited:
            continue
        raw = tree.read(path)
        run = evidence.load_run(flag, run_id, raw if raw is not None else b"")
        problems = list(run.problems)
        named = run.data.get("flag")
        if isinstance(named, str) and named != flag:
            problems.append(Finding(path, 1, 1, evidence.RULE, f"run {run_id}: is a run of {named}, in evidence/{flag}/", flag))
        findings.extend(
            replace(p, message=f"{p.message} (every run added must be well-formed, cited or not: the newest-runs rule reads them all)")
            for p in problems
        )
        if not problems and signers:
            # With signers, a run nobody signed is not evidence, and once on the base (append-only) it
            # would still be read by the newest-runs rule: a made-up red run blocked the flag for good.
            check = signing.verify(signers, flag, raw if raw is not None else b"", tree.read(path + signing.SIG_SUFFIX))
            if check.signer is None:
                findings.append(
                    Finding(
                        path,
                        1,
                        1,
                        evidence.RULE,
                        f"run {run_id} {check.problem}; every run added must be signed (flaggate evidence record), cited or not",
                        flag,
                    )
                )
                continue
        seq = run.data.get("seq")
        if not problems and isinstance(seq, int) and not isinstance(seq, bool):
            numbered.setdefault(flag, []).append((run_id, seq))
    for flag_name, runs in sorted(numbered.items()):
        findings.extend(evidence.seq_taken(tree, flag_name, runs))
    return findings


def _companion(path: str) -> str:
    """A run's signature, or the run a signature signs."""
    return path[: -len(signing.SIG_SUFFIX)] if path.endswith(signing.SIG_SUFFIX) else path + signing.SIG_SUFFIX


def _evidence_rewrites(base: Base, changes: list[tuple[str, str, str]]) -> list[Finding]:
    """Evidence is append-only: a run file that exists at the base is never modified, renamed or deleted."""
    findings = []
    for path, status, _ in changes:
        if status == "A":
            continue
        what = {"D": "deleted (or renamed)", "T": "replaced by another kind of file"}.get(status, "modified")
        parts = path.split("/")
        flag = parts[1] if len(parts) > 2 else None
        findings.append(
            Finding(
                path,
                1,
                1,
                evidence.RULE,
                f"{path} exists at the base and is {what} here; evidence is append-only: restore it "
                f"(git checkout {base.sha[:12]} -- {path}) and add a new run instead",
                flag,
            )
        )
    return findings


def _move(was: FlagFile, now_file: FlagFile, at: int | None, standing: timeline.Standing | None) -> tuple[Move, list[Finding]]:
    """The move of one flag; ``at`` is its step at the base and ``standing`` when it got there, from history."""
    base_flag, head_flag = was.flag, now_file.flag
    if base_flag is None or head_flag is None:
        raise ValueError("a move needs both flag files read")
    steps = plan.steps(base_flag)
    before, after = plan.position(base_flag), plan.position(head_flag)
    kill = base_flag.kill_switch  # the base's: a change cannot arm the switch it uses
    entered: dict[str, Any] = {"entered_at": standing.entered_at, "entered_commit": standing.entered_commit} if standing is not None else {}
    legal = plan.classify(steps, at, after, kill_switch=kill)
    if legal is None:
        kind, _, _ = timeline.move_kind(steps, at, after, kill_switch=kill)
        move = Move(head_flag.name, kind, before, after, was, now_file, legal=False, **entered)
        refused = now_file.finding(
            ("state",),
            transition.RULE,
            f"{head_flag.name}: {before} -> {after} is not a legal step of its rollout plan; "
            f"from {before} the legal next steps are: {plan.describe_moves(steps, at, kill_switch=kill)}"
            + ("" if kill or at is None or at < 2 else f" (straight to {steps[0]} only for a flag with kill_switch: true at the base)"),
        )
        return move, [refused]
    kind, to_step = legal
    return Move(head_flag.name, kind, before, after, was, now_file, from_step=at, to_step=to_step, **entered), []


def _creation(file: FlagFile) -> tuple[Move, list[Finding]]:
    flag = file.flag
    if not (flag is not None):
        raise ValueError("the gate was handed a move without the files it describes")
    first = plan.steps(flag)[0]
    starts = plan.position(flag) == first
    move = Move(flag.name, plan.CREATE, None, plan.position(flag), None, file, legal=starts)
    findings: list[Finding] = []
    if not starts:
        findings.append(
            file.finding(
                ("state",),
                transition.RULE,
                f"new flag {flag.name} must start in its plan's first step ({first}), not {plan.position(flag)}",
            )
        )
    if flag.transition is not None and flag.transition.from_ is not None:
        findings.append(
            file.finding(
                ("transition", "from"),
                transition.RULE,
                f"new flag {flag.name}: transition.from must be null (there is no earlier state), not {flag.transition.from_!r}",
            )
        )
    return move, findings


def _deletion(was: FlagFile, head: Snapshot) -> tuple[Move, list[Finding]]:
    flag = was.flag
    if not (flag is not None):
        raise ValueError("the gate was handed a move without the files it describes")
    problems = []
    if flag.state != flag.rollout[0].state:
        problems.append(f"it was {plan.position(flag)} at the base; demote it to {flag.rollout[0].state} first")
    dependents = sorted(f.flag.name for f in head.flags.values() if f.flag and any(r.flag == flag.name for r in f.flag.requires.flags))
    if dependents:
        problems.append(f"{', '.join(dependents)} require{'s' if len(dependents) == 1 else ''} it")
    move = Move(flag.name, plan.DELETE, plan.position(flag), None, was, None, legal=not problems)
    if problems:
        return move, [Finding(was.path, 1, 1, transition.RULE, f"flag {flag.name} cannot be deleted: {'; '.join(problems)}", flag.name)]
    return move, []


def _check_promotion(move: Move, policy: Policy, tree: Tree, now: datetime, cited: dict[str, str]) -> list[Finding]:
    """Soak and evidence of one legal promotion, by the base's plan, guards and policy."""
    base, head = move.base, move.head
    if not (base is not None and base.flag is not None and head is not None and head.flag is not None and head.doc is not None):
        raise ValueError("the gate was handed a move without the files it describes")
    at = move.from_step
    if not (at is not None):
        raise ValueError("the gate was handed a move without the files it describes")
    step = base.flag.rollout[at]
    findings = soak.check(move, head, step.soak_days or 0, now)
    if at == 0:
        return findings  # out of the first step (off): nothing ran yet to reconcile
    block = head.flag.transition
    before, flag = move.before, move.flag
    if before is None or flag is None:
        raise ValueError("a promotion leaves a position of a named flag")
    promotion = evidence.Promotion(
        file=head,
        flag=flag,
        run_ids=list(block.evidence) if block else [],
        left=before,
        guards=[*base.flag.guards, *step.guards],
        entered_at=move.entered_at,
        already_cited=cited,
        on_file=evidence.run_ids(tree, flag),
    )
    prefetch = getattr(tree, "prefetch", None)  # git objects: every run the rule reads, through one git process
    if prefetch is not None:
        # Cited runs too, missing ones included: each read of a path not fetched starts a git process.
        run_ids = list(dict.fromkeys([*promotion.on_file, *filter(evidence.plain_run_id, promotion.run_ids)]))
        sigs = [f"{evidence.evidence_path(flag, i)}{signing.SIG_SUFFIX}" for i in run_ids] if policy.signers else []
        prefetch([*(evidence.evidence_path(flag, i) for i in run_ids), *sigs])
    kept = _kept_runs(tree, flag)
    verdict = evidence.check_promotion(promotion, tree, policy, now, kept)
    if kept is not None:
        kept.save()
    move.verdict = verdict
    return [*findings, *verdict.findings]


def _kept_runs(tree: Tree, flag: str) -> histcache.KeptRuns | None:
    """What the newest-runs rule read of ``flag``'s runs before, where the tree can say which files git holds."""
    from validator import histcache

    root: Path | None = getattr(tree, "root", None)
    blob_ids: Callable[[list[str]], dict[str, str]] | None = getattr(tree, "blob_ids", None)
    if root is None or blob_ids is None:
        return None
    cache = histcache.open_cache(root)
    return histcache.KeptRuns(cache, flag, blob_ids, getattr(tree, "blob_digest", None)) if cache is not None else None
