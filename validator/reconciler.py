"""``flaggate evidence``: the reconciliation job's side of the tool.

* ``keygen``: a new Ed25519 key; the private key goes to a file only its owner
  can read (mode 0600, never printed), the public key is printed as
  ``policy.yaml``'s ``signers`` takes it.
* ``record``: one run file computed from raw inputs with the gate's own
  formulas and checks, written and signed atomically; a run the gate would
  refuse is never written, and an existing run is never overwritten
  (evidence is append-only).
* ``verify``: check run files' signatures against the signers of
  ``policy.yaml``, as the gate does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from validator import clock, metrics, names, plan, signing
from validator.errors import FatalError
from validator.finding import Finding
from validator.inert import escape
from validator.plan import Position
from validator.records import Flag, Policy, Step
from validator.repo import EVIDENCE_DIR, load_policy, read_flag
from validator.rules import evidence

SCHEMA_HINT = "../../schema/evidence.schema.json"
# Which inputs are amounts (decimal strings) and which are counts (whole numbers), from the formulas.
INPUT_KINDS: dict[str, str] = {field: kind for metric in metrics.METRICS.values() for field, kind in metric.inputs}


def check_signer_id(keyid: str, public: str, option: str = "--id") -> None:
    """Refuse a key id ``policy.yaml`` would not take: the rule is the model's own (``Signer.id``)."""
    from validator.record import Invalid
    from validator.records import READERS, Signer

    try:
        READERS[Signer]({"id": keyid, "key": public})
    except Invalid:
        raise FatalError(
            f"{option} '{escape(keyid)}' is not a signer id: 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit "
            "(policy.yaml's signers and every .sig name it)"
        ) from None


def check_run_id(run_id: str) -> None:
    """Refuse a run id that is not a plain file name in evidence/<flag>/, by the rule the gate applies to cited runs."""
    if not evidence.plain_run_id(run_id):
        raise FatalError(
            f"--run-id '{escape(run_id)}' is not a run id: a plain file name in evidence/<flag>/ "
            "(no '/', no '\\', no leading '.', nothing invisible), e.g. rr-0104"
        )


def keygen(out: Path, keyid: str) -> str:
    """Write a new private key to ``out`` (0600, never overwriting) and return the policy entry to paste."""
    pem, public = signing.generate()
    # Checked before the key is written: the snippet printed below must be the entry policy.yaml takes.
    check_signer_id(keyid, public)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise FatalError(f"{out} exists; keygen never overwrites a key") from None
    except OSError as exc:
        raise FatalError(f"cannot create {out}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return f"signers:\n  - id: {keyid}\n    key: {public}\n"


@dataclass
class Recorded:
    path: str
    text: bytes
    findings: list[Finding]
    flag: str = ""


def parse_inputs(pairs: list[str]) -> dict[str, object]:
    """``name=value`` pairs: amounts stay exact decimal strings, counts become whole numbers."""
    inputs: dict[str, object] = {}
    for pair in pairs:
        name, value = names.name_value(pair, "--input", "ledger_total=1250000.00", list(INPUT_KINDS), inputs)
        kind = INPUT_KINDS[name]
        if kind == metrics.AMOUNT:
            inputs[name] = value
        else:
            # Digits 0-9 only: int() also takes "+3", " 3", "1_000" and other scripts' digits, which the run
            # file's strict reader (and a reader in another language) would not.
            if not (value.isascii() and value.isdigit()):
                raise FatalError(f"--input {escape(name)}={escape(value)}: a count is a whole number written with the digits 0-9")
            inputs[name] = int(value, 10)
    return inputs


def record(
    root: Path,
    flag_name: str,
    *,
    state: str,
    percentage: int | None,
    seq: int,
    started: datetime,
    finished: datetime,
    inputs: dict[str, object],
    status: str | None,
    run_id: str | None,
) -> Recorded:
    """The run file for these inputs, judged exactly as the gate judges a cited run."""
    flag_file = read_flag(root, flag_name)
    flag = flag_file.flag
    if flag is None:
        raise FatalError(f"flags/{flag_name}.yaml cannot be read")
    left = Position(state, percentage)
    step = _step(flag, left)
    if left != plan.position(flag):
        raise FatalError(
            f"{flag.name} is {plan.position(flag)}: a run of {left} could never count for it; record runs of the step it is in"
        )
    if finished > datetime.now(UTC):
        raise FatalError(f"--finished {clock.iso(finished)} is in the future: record a run once it has finished")
    guards = [*flag.guards, *step.guards]
    run_id = run_id or f"rr-{seq:04d}"
    check_run_id(run_id)
    _seq_unused(root, flag.name, seq, run_id)
    computed: dict[str, Decimal] = {}
    for name, metric in metrics.METRICS.items():
        if all(field in inputs for field, _ in metric.inputs):
            try:
                computed[name] = metrics.compute(name, inputs)
            except metrics.MetricError:
                pass  # reported below by the gate's own judgement of the run
    breached = any(
        g.metric in computed and ((g.max is not None and computed[g.metric] > g.max) or (g.min is not None and computed[g.metric] < g.min))
        for g in guards
    )
    body: dict[str, object] = {
        "$schema": SCHEMA_HINT,
        "run_id": run_id,
        "flag": flag.name,
        "seq": seq,
        "flag_state": state,
    }
    if percentage is not None:
        body["flag_percentage"] = percentage
    body.update(
        {
            "status": status or ("red" if breached else evidence.GREEN),
            "started_at": clock.iso(started),
            "finished_at": clock.iso(finished),
            "inputs": inputs,
            "metrics": {name: value for name, value in sorted(computed.items())},
        }
    )
    text = _dumps(body)
    run = evidence.load_run(flag.name, run_id, text)
    evidence.judge_run(run, flag.name, left, guards)
    findings = list(run.problems)
    if body["status"] != evidence.GREEN:
        # A red run is recorded as it is: its status, and the guard breaches that made it red, are what
        # it records (the newest-runs rule needs every red run on file), not reasons to refuse it.
        findings = [f for f in findings if "only a finished green run counts" not in f.message and "breaches the guard" not in f.message]
    return Recorded(run.path, text, findings, flag.name)


def _seq_unused(root: Path, flag: str, seq: int, run_id: str) -> None:
    """The gate refuses a run that takes another run's seq (``evidence.seq_taken``): so does record, before writing."""
    from validator.repo import WorkTree

    taken = evidence.seq_taken(WorkTree(root), flag, [(run_id, seq)])
    if taken:
        raise FatalError(f"{escape(taken[0].message)}; nothing written")


def _step(flag: Flag, here: Position) -> Step:
    steps = plan.steps(flag)
    index = plan.locate(steps, here)
    if index is None:
        legal = ", ".join(str(s) for s in steps)
        raise FatalError(f"{here} is not a step of {flag.name}'s plan ({legal}); --state (and --percentage) name the step the run ran in")
    return flag.rollout[index]


def _dumps(body: dict[str, object]) -> bytes:
    from validator import jsonout

    return jsonout.dumps(body).encode("utf-8")


def write(root: Path, recorded: Recorded, key_file: Path, keyid: str) -> tuple[Path, Path]:
    """Sign and write the run and its signature; neither file is left half-written, nothing is overwritten."""
    from validator import files

    try:
        pem = key_file.read_bytes()
    except OSError as exc:
        raise FatalError(f"cannot read the key {key_file}: {exc.strerror}") from None
    try:
        private = signing.load_private(pem)
        public = signing.public_of(private)
    except signing.SigningError as exc:
        raise FatalError(f"{key_file}: {exc}") from None
    check_signer_id(keyid, public, "--key-id")
    policy = load_policy(root)
    listed = next((s for s in policy.signers if s.id == keyid), None)
    if policy.signers and listed is None:
        raise FatalError(f"{keyid} is not among policy.yaml's signers: a run it signs would not count; nothing written")
    if listed is not None and listed.key != public:
        raise FatalError(f"{key_file} is not the key policy.yaml lists as {keyid}")
    if listed is not None and listed.flags is not None and recorded.flag not in listed.flags:
        raise FatalError(f"policy.yaml lets {keyid} sign runs of {', '.join(listed.flags)} only, not {recorded.flag}; nothing written")
    signature = signing.sign(private, keyid, recorded.text)
    run_path = root / recorded.path
    sig_path = root / (recorded.path + signing.SIG_SUFFIX)
    if run_path.exists() or sig_path.exists():
        raise FatalError(f"{recorded.path} exists: evidence is append-only; record the run with a new seq and run id")
    for directory in (root / EVIDENCE_DIR, run_path.parent):
        if directory.is_symlink():
            raise FatalError(f"{directory.relative_to(root)} is a symbolic link: runs live in the repository itself; nothing written")
    run_path.parent.mkdir(parents=True, exist_ok=True)
    # Both written before either is renamed, the signature first: a run file never appears unsigned.
    files.write_all({sig_path: signature, run_path: recorded.text})
    return run_path, sig_path


def verify(root: Path, paths: list[Path], base: str | None = None) -> tuple[list[str], bool]:
    """One line per run file: who signed it, or why it does not count, as the gate would say.

    The signers are the policy's at ``base`` (a git revision; default: HEAD, as
    committed), never the working tree's: a change that swaps a signer's key
    must not vouch for runs signed with the new one.
    """
    policy = _policy_at(root, base)
    if not policy.signers:
        raise FatalError("policy.yaml lists no signers: there is nothing to verify against (see the README's evidence section)")
    lines, ok = [], True
    for path in paths:
        absolute = path if path.is_absolute() else Path.cwd() / path
        try:
            relative = absolute.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            relative = path.as_posix()
        parts = relative.split("/")
        if len(parts) != 3 or parts[0] != EVIDENCE_DIR or not parts[2].endswith(".json"):
            lines.append(f"{relative}:1:1: evidence: not a run file evidence/<flag>/<run_id>.json")
            ok = False
            continue
        try:
            data = absolute.read_bytes()
        except OSError as exc:
            lines.append(f"{relative}:1:1: evidence: cannot read it: {exc.strerror}")
            ok = False
            continue
        flag, run_id = parts[1], parts[2][: -len(".json")]
        run = evidence.load_run(flag, run_id, data)
        if run.doc is not None and isinstance(run.data.get("flag"), str) and run.data["flag"] != flag:
            run.add(("flag",), f"is a run of {run.data['flag']}, not {flag} (its directory)", flag)
        sig = absolute.with_name(absolute.name + signing.SIG_SUFFIX)
        check = signing.verify(list(policy.signers), flag, data, sig.read_bytes() if sig.is_file() else None)
        problems = [
            f"{p.line}:{p.column}: evidence: {p.message}" for p in run.problems if "run_id" in p.message or "is a run of" in p.message
        ]
        if check.problem:
            problems.append(f"1:1: evidence: run {run_id} {check.problem}")
        if problems:
            lines.extend(f"{relative}:{p}" for p in problems)
            ok = False
        else:
            lines.append(f"{relative}: signed by {check.signer}")
    return lines, ok


def _policy_at(root: Path, base: str | None) -> Policy:
    from validator import history
    from validator.repo import load_snapshot

    try:
        sha = history.resolve(root, base or "HEAD")
    except history.HistoryError:
        if base is not None:
            raise
        return load_policy(root)  # not a git repository: the files are all there is
    snapshot = load_snapshot(history.GitTree(root, sha))
    if snapshot.policy is None:
        raise FatalError(f"policy.yaml at {base or 'HEAD'} cannot be read")
    return snapshot.policy
