"""Signed reconciliation runs: real keys, real git repositories, OpenSSL outside flaggate."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run, run_json
from tests.gitrepo import commit_all, new_repo, set_state

NOW = "2026-11-20T12:00:00Z"

# RFC 8032, section 7.1, TEST 1 to 3: (secret key, public key, message, signature), hex.
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_ed25519_matches_rfc8032(secret: str, public: str, message: str, signature: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from validator import signing
    from validator.records import Signer

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw.hex() == public
    sig_file = signing.sign(key, "rfc", bytes.fromhex(message))
    assert base64.b64decode(json.loads(sig_file)["sig"]).hex() == signature
    signer = Signer(id="rfc", key=signing.encode_public(raw))
    assert signing.verify([signer], "f", bytes.fromhex(message), sig_file).signer == "rfc"
    assert signing.verify([signer], "f", bytes.fromhex(message) + b"x", sig_file).problem


def keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str], keyid: str) -> tuple[Path, str]:
    key = tmp_path / f"{keyid}.pem"
    code, out, err = run(["evidence", "keygen", "--out", str(key), "--id", keyid], capsys)
    assert code == 0, err
    assert "PRIVATE" not in out + err and key.stat().st_mode & 0o777 == 0o600
    private_b64 = "".join(key.read_text().splitlines()[1:-1])
    assert private_b64 not in out + err
    public = out.split("key: ", 1)[1].split()[0]
    return key, public


def add_signer(repo: Path, keyid: str, public: str, flags: list[str] | None = None) -> None:
    policy = repo / "policy.yaml"
    entry = f"  - id: {keyid}\n    key: {public}\n" + (f"    flags: [{', '.join(flags)}]\n" if flags else "")
    text = policy.read_text().replace("\nsigners: []\n", "\nsigners:\n")
    policy.write_text(text + entry if "\nsigners:\n" in text else text + "\nsigners:\n" + entry)


def record(repo: Path, capsys: pytest.CaptureFixture[str], key: Path, keyid: str, seq: int, day: int, **options: Any) -> tuple[int, str]:
    inputs = options.get(
        "inputs", ["ledger_total=1250000.00", "legacy_total=1250000.00", "failed_ledger_writes=0", "total_ledger_writes=120000"]
    )
    argv = [
        "evidence",
        "record",
        "allocation_dual_write",
        "--root",
        str(repo),
        "--state",
        "shadow",
        "--seq",
        str(seq),
        "--started",
        f"2026-11-{day:02d}T01:00:00Z",
        "--finished",
        f"2026-11-{day:02d}T01:12:00Z",
        "--key",
        str(key),
        "--key-id",
        keyid,
    ]
    for item in inputs:
        argv += ["--input", item]
    code, out, err = run([*argv, *options.get("extra", [])], capsys)
    return code, out + err


def record_unlisted(repo: Path, capsys: pytest.CaptureFixture[str], key: Path, keyid: str, seq: int, day: int) -> tuple[int, str]:
    """A run signed by a key policy.yaml does not list: record refuses it, so the author signs it against a
    policy of their own (no signers) and puts the policy back, as an attacker would."""
    policy = repo / "policy.yaml"
    saved = policy.read_text()
    policy.write_text(saved[: saved.index("\nsigners:\n")] + "\nsigners: []\n")
    try:
        return record(repo, capsys, key, keyid, seq, day)
    finally:
        policy.write_text(saved)


@pytest.fixture
def signed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """A repository whose base policy lists one signer, recon-2026."""
    repo = new_repo(tmp_path)
    key, public = keygen(tmp_path, capsys, "recon-2026")
    add_signer(repo, "recon-2026", public)
    commit_all(repo, "policy: the reconciler's key (platform owners approved)", "2026-11-01T06:00:00Z")
    return {"repo": repo, "key": key, "public": public}


def gate(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    return run_json(["check", "--root", str(repo), "--base", "HEAD", "--now", NOW], capsys)


def promote(repo: Path, ids: list[str]) -> None:
    set_state(repo, "allocation_dual_write", "enforce", frm="shadow", justification="3 signed green runs", evidence=ids)


def evidence_errors(report: dict[str, Any]) -> str:
    return " | ".join(e["message"] for e in report["errors"] if e["rule"] == "evidence")


def test_recorded_signed_runs_promote(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    repo, key = signed["repo"], signed["key"]
    for seq, day in ((101, 18), (102, 19), (103, 20)):
        code, out = record(repo, capsys, key, "recon-2026", seq, day)
        assert code == 0, out
    text = (repo / "evidence/allocation_dual_write/rr-0101.json").read_text()
    assert '"$schema": "../../schema/evidence.schema.json"' in text and '"status": "green"' in text
    promote(repo, ["rr-0101", "rr-0102", "rr-0103"])
    code, report = gate(repo, capsys)
    assert (code, report["errors"]) == (0, []), report
    sha = commit_all(repo, "promote", "2026-11-20T12:00:00Z")
    code, out, _ = run(["audit-log", "--root", str(repo)], capsys)
    entry = next(e for e in json.loads(out) if e["commit"] == sha)
    assert entry["signed_by"] == ["recon-2026"]


def test_record_refuses_what_the_gate_refuses(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    repo, key = signed["repo"], signed["key"]
    code, out = record(repo, capsys, key, "recon-2026", 101, 18, inputs=["ledger_total=1,250,000.00", "legacy_total=1250000.00"])
    assert code == 1 and "malformed" in out and "nothing written" in out
    assert not (repo / "evidence").exists()
    assert record(repo, capsys, key, "recon-2026", 101, 18)[0] == 0
    code, out = record(repo, capsys, key, "recon-2026", 101, 18)
    assert code == 2 and "append-only" in out


@pytest.mark.parametrize("attack", ["unsigned", "tampered", "wrong-signer", "not-allowed-for-flag", "signer-added-in-the-pr", "withheld"])
def test_runs_that_do_not_count(attack: str, signed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, key = signed["repo"], signed["key"]
    ids = ["rr-0101", "rr-0102", "rr-0103"]
    expect = ""
    if attack == "withheld":
        for seq, day in ((101, 15), (102, 16), (103, 17), (104, 18), (105, 19), (106, 20)):
            assert record(repo, capsys, key, "recon-2026", seq, day)[0] == 0
        (repo / "evidence/allocation_dual_write/rr-0103.json").unlink()  # the left-out run
        (repo / "evidence/allocation_dual_write/rr-0103.json.sig").unlink()
        ids, expect = ["rr-0104", "rr-0105", "rr-0106"], "seq 103 signed by recon-2026 is missing"
    elif attack in ("wrong-signer", "signer-added-in-the-pr", "not-allowed-for-flag"):
        other, public = keygen(tmp_path, capsys, "rogue")
        if attack == "signer-added-in-the-pr":
            add_signer(repo, "rogue", public)
        saved = ""
        if attack == "not-allowed-for-flag":
            add_signer(repo, "rogue", public, flags=["outbox_enabled"])
            commit_all(repo, "rogue may sign outbox runs", "2026-11-01T07:00:00Z")
            # record refuses such runs; the author signs them against a policy of their own, then puts it back.
            saved = (repo / "policy.yaml").read_text()
            (repo / "policy.yaml").write_text(saved.replace("    flags: [outbox_enabled]\n", ""))
        for seq, day in ((101, 18), (102, 19), (103, 20)):
            sign = record if attack in ("signer-added-in-the-pr", "not-allowed-for-flag") else record_unlisted
            assert sign(repo, capsys, other, "rogue", seq, day)[0] == 0
        if saved:
            (repo / "policy.yaml").write_text(saved)
        expect = "may sign runs of outbox_enabled only" if attack == "not-allowed-for-flag" else "'rogue', which is not a signer"
    else:
        for seq, day in ((101, 18), (102, 19), (103, 20)):
            assert record(repo, capsys, key, "recon-2026", seq, day)[0] == 0
        run_file = repo / "evidence/allocation_dual_write/rr-0102.json"
        if attack == "unsigned":
            (repo / "evidence/allocation_dual_write/rr-0102.json.sig").unlink()
            expect = "is not signed"
        else:
            data = bytearray(run_file.read_bytes())
            data[data.index(b"120000") + 5] = ord("1")  # one byte: 120000 writes become 120001
            run_file.write_bytes(bytes(data))
            expect = "does not verify"
    promote(repo, ids)
    code, report = gate(repo, capsys)
    assert code == 1 and expect in evidence_errors(report), report["errors"]


def test_removing_a_signer_invalidates_its_runs_but_not_history(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    repo, key = signed["repo"], signed["key"]
    for seq, day in ((101, 10), (102, 11), (103, 12)):
        assert record(repo, capsys, key, "recon-2026", seq, day)[0] == 0
    promote(repo, ["rr-0101", "rr-0102", "rr-0103"])
    promoted = commit_all(repo, "promote", "2026-11-12T12:00:00Z")
    # Key leaked: the platform owners replace it at the base.
    set_state(repo, "allocation_dual_write", "shadow", frm="enforce", reason="OPERATOR_DECISION", justification="key leaked")
    policy = repo / "policy.yaml"
    text = policy.read_text()
    policy.write_text(text[: text.index("\nsigners:\n")] + "\nsigners:\n  - id: recon-2027\n    key: ed25519:" + "A" * 43 + "=\n")
    assert "recon-2026" not in policy.read_text()
    commit_all(repo, "demote; rotate the key", "2026-11-13T00:00:00Z")
    for seq, day in ((104, 18), (105, 19), (106, 20)):
        assert record(repo, capsys, key, "recon-2026", seq, day)[0] == 2  # record refuses a key no longer listed
        assert record_unlisted(repo, capsys, key, "recon-2026", seq, day)[0] == 0
    promote(repo, ["rr-0104", "rr-0105", "rr-0106"])
    code, report = gate(repo, capsys)
    assert code == 1 and "'recon-2026', which is not a signer" in evidence_errors(report)
    code, out, _ = run(["audit-log", "--root", str(repo)], capsys)
    entry = next(e for e in json.loads(out) if e["commit"] == promoted)
    assert entry["signed_by"] == ["recon-2026"] and entry["kind"] == "promote"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_signature_verifies_with_openssl(signed: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from validator.signing import public_pem

    repo, key = signed["repo"], signed["key"]
    code, out = record(repo, capsys, key, "recon-2026", 101, 18)
    assert code == 0, out
    run_file = repo / "evidence/allocation_dual_write/rr-0101.json"
    sig = json.loads((repo / "evidence/allocation_dual_write/rr-0101.json.sig").read_text())
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(sig["sig"]))
    # The README's way: the SubjectPublicKeyInfo DER prefix for Ed25519, then the raw key, then openssl.
    der = bytes.fromhex("302a300506032b6570032100") + base64.b64decode(signed["public"].removeprefix("ed25519:"))
    (tmp_path / "pub.der").write_bytes(der)
    converted = subprocess.run(
        ["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(tmp_path / "pub.der"), "-out", str(tmp_path / "pub.pem")],
        capture_output=True,
        text=True,
    )
    assert converted.returncode == 0, converted.stderr
    assert (tmp_path / "pub.pem").read_bytes() == public_pem(signed["public"])
    argv = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin", "-in", str(run_file)]
    good = subprocess.run([*argv, "-sigfile", str(tmp_path / "sig.bin")], capture_output=True, text=True)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout, good.stdout + good.stderr
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(run_file.read_bytes().replace(b"120000", b"120001"))
    argv[-1] = str(tampered)
    bad = subprocess.run([*argv, "-sigfile", str(tmp_path / "sig.bin")], capture_output=True, text=True)
    assert bad.returncode != 0


def test_evidence_verify_command(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    repo, key = signed["repo"], signed["key"]
    assert record(repo, capsys, key, "recon-2026", 101, 18)[0] == 0
    assert record(repo, capsys, key, "recon-2026", 102, 19)[0] == 0
    (repo / "evidence/allocation_dual_write/rr-0102.json.sig").unlink()
    code, out, _ = run(
        [
            "evidence",
            "verify",
            "--root",
            str(repo),
            str(repo / "evidence/allocation_dual_write/rr-0101.json"),
            str(repo / "evidence/allocation_dual_write/rr-0102.json"),
        ],
        capsys,
    )
    assert code == 1
    assert "evidence/allocation_dual_write/rr-0101.json: signed by recon-2026" in out
    assert "evidence/allocation_dual_write/rr-0102.json:1:1: evidence: run rr-0102 is not signed" in out


def test_without_signers_unsigned_runs_still_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.gitrepo import three_runs

    repo = new_repo(tmp_path)
    promote(repo, three_runs(repo))
    assert gate(repo, capsys)[0] == 0


@pytest.mark.parametrize("run_id", ["../../../escaped-run", "../x", "sub/run", "a\\b", ".hidden", " rr-0104", "rr\u202e0104", "rr\n0104"])
def test_record_refuses_a_run_id_that_is_not_a_plain_name(
    run_id: str, signed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 05: --run-id ../../../x wrote a run file and its .sig outside the repository."""
    before = sorted(p for p in tmp_path.rglob("*") if ".git" not in p.parts)
    code, out = record(signed["repo"], capsys, signed["key"], "recon-2026", 104, 20, extra=["--run-id", run_id])
    assert code == 2, out
    assert "is not a run id" in out and out.strip().count("\n") == 0 and "\u202e" not in out
    assert sorted(p for p in tmp_path.rglob("*") if ".git" not in p.parts) == before  # nothing written, inside or outside


def test_record_accepts_a_plain_run_id(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = record(signed["repo"], capsys, signed["key"], "recon-2026", 104, 20, extra=["--run-id", "nightly-2026.11.20"])
    assert code == 0, out
    assert (signed["repo"] / "evidence/allocation_dual_write/nightly-2026.11.20.json.sig").is_file()


@pytest.mark.parametrize(
    "keyid",
    [
        "recon-2026\n    key: ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n  - id: second",
        "recon-2026\n",
        "-recon",
        "recon 2026",
        "r" * 65,
        "recon\u202e",
        "",
    ],
)
def test_keygen_refuses_an_id_policy_yaml_would_not_take(keyid: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 10: an id with newlines printed a signers snippet with an extra, attacker-shaped signer."""
    key = tmp_path / "k.pem"
    code, out, err = run(["evidence", "keygen", "--out", str(key), f"--id={keyid}"], capsys)
    assert code == 2, out + err
    assert out == "" and "is not a signer id" in err and err.strip().count("\n") == 0 and "\u202e" not in err
    assert not key.exists()


def test_record_refuses_a_key_id_policy_yaml_would_not_take(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = record(signed["repo"], capsys, signed["key"], "recon-2026\n  - id: x", 104, 20)
    assert code == 2 and "--key-id" in out and "is not a signer id" in out, out
    assert not (signed["repo"] / "evidence/allocation_dual_write/rr-0104.json").exists()


def test_record_refuses_a_seq_the_flag_already_has(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """A second run with seq 103 would make every promotion citing rr-0103 refused, for good (attack)."""
    repo = signed["repo"]
    assert record(repo, capsys, signed["key"], "recon-2026", 103, 18)[0] == 0
    before = sorted((repo / "evidence/allocation_dual_write").iterdir())
    code, out = record(repo, capsys, signed["key"], "recon-2026", 103, 19, extra=["--run-id", "rr-0103-again"])
    assert code == 2 and "seq 103 is already the seq of run rr-0103" in out and "nothing written" in out, out
    assert sorted((repo / "evidence/allocation_dual_write").iterdir()) == before


def test_record_refuses_a_key_the_policy_limits_to_other_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The gate refuses runs signed by a key policy.yaml allows for other flags only: record must not write them (attack)."""
    repo = new_repo(tmp_path)
    key, public = keygen(tmp_path, capsys, "recon-2026")
    add_signer(repo, "recon-2026", public, flags=["ledger_backfill_mode"])
    commit_all(repo, "policy: the backfill reconciler's key", "2026-11-01T06:00:00Z")
    code, out = record(repo, capsys, key, "recon-2026", 101, 18)
    assert code == 2 and "lets recon-2026 sign runs of ledger_backfill_mode only, not allocation_dual_write" in out, out
    assert not (repo / "evidence/allocation_dual_write").exists() or not any((repo / "evidence/allocation_dual_write").iterdir())


def test_record_writes_a_red_run_the_newest_runs_rule_then_reads(signed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """A breach must be on file: record once refused every red run, so only greens were ever committed (attack)."""
    repo, key = signed["repo"], signed["key"]
    for seq, day in ((101, 15), (102, 16), (103, 17)):
        assert record(repo, capsys, key, "recon-2026", seq, day)[0] == 0
    breach = ["ledger_total=1010000.00", "legacy_total=1000000.00", "failed_ledger_writes=0", "total_ledger_writes=120000"]
    code, out = record(repo, capsys, key, "recon-2026", 104, 18, inputs=breach)
    assert code == 0, out
    red = json.loads((repo / "evidence/allocation_dual_write/rr-0104.json").read_text())
    assert red["status"] == "red" and (repo / "evidence/allocation_dual_write/rr-0104.json.sig").is_file()
    promote(repo, ["rr-0101", "rr-0102", "rr-0103"])
    code, report = gate(repo, capsys)
    assert code == 1 and "rr-0104 (seq 104, status red)" in evidence_errors(report), report["errors"]


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--state", "enforce"], "a run of enforce could never count"),
        (["--finished", "2099-01-01T00:00:00Z"], "is in the future"),
    ],
    ids=["a-state-it-is-not-in", "finished-in-the-future"],
)
def test_record_refuses_runs_that_could_never_count(
    extra: list[str], said: str, signed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = signed["repo"]
    code, out = record(repo, capsys, signed["key"], "recon-2026", 101, 18, extra=extra)
    assert code == 2 and said in out, out
    assert not (repo / "evidence/allocation_dual_write").exists() or not any((repo / "evidence/allocation_dual_write").iterdir())


def test_record_refuses_a_key_id_policy_does_not_list(signed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other, _ = keygen(tmp_path, capsys, "rogue")
    code, out = record(signed["repo"], capsys, other, "rogue", 101, 18)
    assert code == 2 and "rogue is not among policy.yaml's signers" in out, out


def test_record_never_writes_through_a_symbolic_link(signed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = signed["repo"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "evidence").symlink_to(outside)
    code, out = record(repo, capsys, signed["key"], "recon-2026", 101, 18)
    assert code == 2 and "is a symbolic link" in out, out
    assert not any(outside.rglob("*"))


@pytest.mark.parametrize(
    ("extra", "inputs"),
    [
        (["--seq", "+104"], None),
        (["--seq", "1_04"], None),
        (["--seq", "\u0661\u0660\u0664"], None),  # Arabic-Indic digits: int() reads 104
        ([], ["ledger_total=1250000.00", "legacy_total=1250000.00", "failed_ledger_writes=+3", "total_ledger_writes=120000"]),
        ([], ["ledger_total=1250000.00", "legacy_total=1250000.00", "failed_ledger_writes=\u0663", "total_ledger_writes=120000"]),
    ],
    ids=["plus", "underscore", "arabic-indic", "count-plus", "count-arabic-indic"],
)
def test_record_takes_whole_numbers_written_with_ascii_digits(
    signed: dict[str, Any], capsys: pytest.CaptureFixture[str], extra: list[str], inputs: list[str] | None
) -> None:
    """int() reads "+3", "1_04" and other scripts' digits; what the run file says must be what was typed, plainly."""
    options: dict[str, Any] = {"extra": extra} if extra else {}
    if inputs is not None:
        options["inputs"] = inputs
    try:
        code, out = record(signed["repo"], capsys, signed["key"], "recon-2026", 104, 20, **options)
    except SystemExit as exc:  # argparse refuses an option's value itself, as for any command
        captured = capsys.readouterr()
        code, out = int(str(exc.code)), captured.out + captured.err
    assert code == 2 and "digits 0-9" in out, out
    assert not (signed["repo"] / "evidence/allocation_dual_write/rr-0104.json").exists()
