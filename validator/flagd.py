"""``flagd.json``: the published flags in flagd's flag definition format, with flaggate's cohorts.

A flagd sidecar (or any flagd provider in file or in-process mode) syncs this
file from the published URL, so services in any language evaluate the same
flags through OpenFeature.  Two flagd flags per flaggate flag:

- ``<flag>`` (boolean, variants ``on``/``off``): exactly ``is_active(flag, id)``;
- ``<flag>.state`` (string, one variant per state): the flag's state.

Cohorts.  flagd's own ``fractional`` operator buckets with murmur3 over its own
key, so it would put different representatives in the canary than flaggate's
``bucket()``.  It is not used.  Instead the service passes flaggate's bucket,
``sha256(id)[:8] % 100``, in the evaluation context as ``flaggate_bucket`` (an
integer 0..99) and the targeting only compares that number with the
percentage: ``on`` when the bucket is one of 0..p-1, ``off`` when it is one of
p..99.  Membership in explicit lists, not ``<``, so a bucket that is a string,
a float such as 4.5, out of range or missing matches neither list and the
evaluation falls back to ``defaultVariant`` (``off``, reason DEFAULT): an
unusable bucket never enables a canary.  Off (0) and 100 need no bucket at all
(a static variant, reason STATIC), as ``is_active`` needs no hash there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCHEMA = "https://flagd.dev/schema/v0/flags.json"
BUCKET = "flaggate_bucket"
STATE_SUFFIX = ".state"
FLAG_SET_ID = "flaggate"
FILE = "flagd.json"


def cohort(percentage: int) -> dict[str, Any]:
    """Targeting that answers ``on`` exactly when ``flaggate_bucket < percentage``."""
    bucket = {"var": BUCKET}
    return {
        "if": [
            {"in": [bucket, list(range(percentage))]},
            "on",
            {"in": [bucket, list(range(percentage, 100))]},
            "off",
            None,
        ]
    }


def _metadata(name: str, flag: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    # flagd metadata values are scalars only, so the owners are one comma-separated string.
    meta: dict[str, Any] = {
        "flaggate_flag": name,
        "state": flag["state"],
        "percentage": flag["percentage"],
        "owners": ", ".join(flag.get("owners", [])),
    }
    if isinstance(source.get("commit"), str):
        meta["source_commit"] = source["commit"]
    return meta


def export(config: Mapping[str, Any]) -> dict[str, Any]:
    """flagd's flag definitions for a published config dict (the content of config.json)."""
    source = config.get("source") or {}
    flags: dict[str, Any] = {}
    for name, flag in sorted(config["flags"].items()):
        percentage = flag["percentage"]
        meta = _metadata(name, flag, source)
        boolean: dict[str, Any] = {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "on" if percentage >= 100 else "off",
            "metadata": meta,
        }
        if 0 < percentage < 100:
            boolean["targeting"] = cohort(percentage)
        flags[name] = boolean
        flags[name + STATE_SUFFIX] = {
            "state": "ENABLED",
            "variants": {state: state for state in flag["states"]},
            "defaultVariant": flag["state"],
            "metadata": meta,
        }
    set_meta: dict[str, Any] = {"flagSetId": FLAG_SET_ID}
    for key, value in (("version", source.get("commit")), ("committed_at", source.get("committed_at")), ("digest", config.get("digest"))):
        if isinstance(value, str):
            set_meta[key] = value
    return {"$schema": SCHEMA, "metadata": set_meta, "flags": flags}
