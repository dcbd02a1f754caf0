"""Signed reconciliation runs: Ed25519 detached signatures over a run file's exact bytes.

A run ``evidence/<flag>/<run_id>.json`` is signed by the reconciliation job;
its signature is the file beside it, ``<run_id>.json.sig``::

    {"keyid": "recon-2026", "sig": "<base64 of the 64-byte Ed25519 signature>"}

The signature covers the run file's bytes exactly as committed (no
canonicalisation: one changed byte, a reformatted file or another line ending
is another message).  This is a plain detached Ed25519 signature (RFC 8032),
so anyone can check it without flaggate, for example with OpenSSL 3::

    jq -r .sig rr-0101.json.sig | base64 -d > rr-0101.sig.bin
    openssl pkeyutl -verify -pubin -inkey recon-2026.pem -rawin \\
        -in rr-0101.json -sigfile rr-0101.sig.bin

Public keys are written ``ed25519:<base64 of the 32 raw bytes>`` in
policy.yaml's ``signers``; ``public_pem`` turns one into the PEM that OpenSSL
reads.  The cryptography is ``cryptography``'s (OpenSSL's Ed25519); nothing
here implements any.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from validator.records import Signer

PREFIX = "ed25519:"
SIG_SUFFIX = ".sig"


class SigningError(ValueError):
    pass


@dataclass(frozen=True)
class Check:
    """What a signature came to: the signer it verified with, or why it did not."""

    signer: str | None
    problem: str | None


def encode_public(raw: bytes) -> str:
    return PREFIX + base64.b64encode(raw).decode("ascii")


def decode_public(text: str) -> bytes:
    if not text.startswith(PREFIX):
        raise SigningError(f"a public key starts with {PREFIX}")
    try:
        raw = base64.b64decode(text[len(PREFIX) :], validate=True)
    except binascii.Error:
        raise SigningError("the public key is not base64") from None
    if len(raw) != 32:
        raise SigningError("an Ed25519 public key is 32 bytes")
    return raw


def public_pem(text: str) -> bytes:
    """The SubjectPublicKeyInfo PEM of a policy key, for OpenSSL and other tools."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = Ed25519PublicKey.from_public_bytes(decode_public(text))
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate() -> tuple[bytes, str]:
    """A new key: (private key as unencrypted PKCS#8 PEM, public key as policy.yaml takes it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return pem, encode_public(raw)


def load_private(pem: bytes) -> object:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError("the key is not an Ed25519 key")
    return key


def public_of(private: object) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private, Ed25519PrivateKey):
        raise SigningError("the key is not an Ed25519 key")
    return encode_public(private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def sign(private: object, keyid: str, data: bytes) -> bytes:
    """The ``.sig`` file's bytes for ``data``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private, Ed25519PrivateKey):
        raise SigningError("the key is not an Ed25519 key")
    signature = private.sign(data)
    return (json.dumps({"keyid": keyid, "sig": base64.b64encode(signature).decode("ascii")}) + "\n").encode("ascii")


def verify(signers: list[Signer], flag: str, data: bytes, sig_file: bytes | None) -> Check:
    """Does ``sig_file`` sign ``data`` with a key of ``signers`` allowed for ``flag``?"""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from validator import jsonfile

    if sig_file is None:
        return Check(None, "is not signed (no .sig file beside it); only runs signed by a signer of the base's policy count")
    try:
        doc = jsonfile.loads(sig_file)
    except jsonfile.JSONError as exc:
        return Check(None, f"has an unreadable signature file: {exc.message}")
    body = doc.data
    if not isinstance(body, dict) or set(body) != {"keyid", "sig"} or not all(isinstance(v, str) for v in body.values()):
        return Check(None, 'has a malformed signature file: it holds {"keyid": ..., "sig": ...}')
    keyid = body["keyid"]
    signer = next((s for s in signers if s.id == keyid), None)
    if signer is None:
        return Check(None, f"is signed by {keyid!r}, which is not a signer in the base's policy.yaml")
    if signer.flags is not None and flag not in signer.flags:
        return Check(None, f"is signed by {keyid!r}, which may sign runs of {', '.join(signer.flags)} only, not {flag}")
    try:
        signature = base64.b64decode(body["sig"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(decode_public(signer.key))
        key.verify(signature, data)
    except (binascii.Error, SigningError, ValueError, InvalidSignature):
        return Check(None, f"has a signature by {keyid!r} that does not verify over the file's bytes (changed since it was signed?)")
    return Check(keyid, None)
