"""The service-side client: read the published config.json and evaluate flags.

Standard library only, and importing it imports nothing else of this package's
dependencies: a service can vendor this one file.

    from validator.client import FlagClient

    flags = FlagClient("https://acme-payments.github.io/flags/config.json", cache_path="/var/cache/flags.json")
    if flags.is_active("allocation_read_switch", representative_id):
        ...

Bucketing is fixed forever and reproducible in any language::

    bucket(id) = int.from_bytes(sha256(id.encode("utf-8")).digest()[:8], "big") % 100

A flag is active for a representative iff ``bucket(id) < percentage``, where the
published percentage is 0 for off, the canary's value, and 100 otherwise, so
cohorts nest: everyone in the 5% canary is in the 25% canary, across flags too.

When anything goes wrong (network error, HTTP error, truncated or invalid
body, digest or schema-version mismatch) the client keeps serving the last
good config and reports how stale it is; it never raises into the caller's
request path.  With no config at all (first start, host down, no cache),
every flag is off.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
OFF = "off"


def bucket(representative_id: str) -> int:
    """The representative's bucket, 0..99: the same in every process, language and restart."""
    return int.from_bytes(hashlib.sha256(representative_id.encode("utf-8")).digest()[:8], "big") % 100


class ConfigError(ValueError):
    """A config that must not be served (the last good one stays)."""


@dataclass(frozen=True)
class Config:
    """One verified config: flag -> (state, percentage)."""

    flags: dict[str, tuple[str, int]]
    commit: str | None = None
    digest: str | None = None
    raw: bytes = field(default=b"", repr=False)


EMPTY = Config({})


def canonical_digest(flags: Any) -> str:
    """``sha256:`` + the hex SHA-256 of the flags as compact JSON, sorted keys, UTF-8 (publish writes it, services check it)."""
    body = json.dumps(flags, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def parse(raw: bytes) -> Config:
    """Verify and read config.json; ConfigError for anything not to be served."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError("not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError("config is not a JSON object")
    version = data.get("schema_version")
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ConfigError(f"schema_version {version!r} is not supported (supported: {sorted(SUPPORTED_SCHEMA_VERSIONS)})")
    flags = data.get("flags")
    if not isinstance(flags, dict):
        raise ConfigError("config has no flags object")
    if data.get("digest") != canonical_digest(flags):
        raise ConfigError("digest does not match the flags: refusing a corrupted or tampered config")
    table: dict[str, tuple[str, int]] = {}
    for name, flag in flags.items():
        if not isinstance(flag, dict):
            raise ConfigError(f"flag {name!r} is not an object")
        state, pct = flag.get("state"), flag.get("percentage")
        if not isinstance(state, str) or type(pct) is not int or not 0 <= pct <= 100:
            raise ConfigError(f"flag {name!r} has no valid state and percentage")
        table[name] = (state, pct)
    source = data.get("source")
    commit = source.get("commit") if isinstance(source, dict) else None
    return Config(table, commit, data["digest"], raw)


class FlagClient:
    """Thread-safe flag evaluation over the last good published config.

    ``source`` is a file path or an http(s) URL.  ``refresh_interval`` seconds
    between polls (with ``If-None-Match``) once ``start()`` runs a background
    poller; ``refresh()`` polls once, now.  ``cache_path`` keeps the last good
    config on disk, so a restart while the host is down still has flags.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        refresh_interval: float = 30.0,
        cache_path: str | os.PathLike[str] | None = None,
        timeout: float = 5.0,
        load: bool = True,
    ) -> None:
        self.source = os.fspath(source)
        self.refresh_interval = refresh_interval
        self.cache_path = Path(cache_path) if cache_path is not None else None
        self.timeout = timeout
        self._config: Config = EMPTY
        self._etag: str | None = None
        self._fresh_at: float | None = None  # monotonic time the served config was last confirmed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        if self.cache_path is not None:
            self._load_cache()
        if load:
            self.refresh()

    # --- evaluation (the request path: never raises, never blocks) ------------------------
    def state(self, flag: str) -> str:
        """The flag's state; ``off`` for an unknown flag or when no config was ever loaded."""
        entry = self._config.flags.get(flag)
        return entry[0] if entry is not None else OFF

    def percentage(self, flag: str) -> int:
        entry = self._config.flags.get(flag)
        return entry[1] if entry is not None else 0

    def is_active(self, flag: str, representative_id: str) -> bool:
        entry = self._config.flags.get(flag)
        if entry is None:
            return False
        pct = entry[1]
        if pct <= 0:
            return False
        if pct >= 100:
            return True
        try:
            return bucket(representative_id) < pct
        except (UnicodeEncodeError, AttributeError):
            # An id with a lone surrogate has no UTF-8 bytes (so no bucket in any language), and a
            # non-string is no id: the safe side, never an exception into the request path.
            return False

    # --- freshness --------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._config is not EMPTY

    @property
    def config(self) -> Config:
        """The config being served (EMPTY before any was loaded); replaced whole, never mutated."""
        return self._config

    @property
    def commit(self) -> str | None:
        return self._config.commit

    @property
    def staleness(self) -> float | None:
        """Seconds since the served config was last confirmed current; None if never loaded."""
        return None if self._fresh_at is None else time.monotonic() - self._fresh_at

    # --- refreshing -------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Poll the source once.  True when a new config is now served; never raises."""
        with self._lock:
            try:
                raw, etag = self._fetch()
            except Exception as exc:  # noqa: BLE001 - any fault keeps the last good config
                self.last_error = f"{type(exc).__name__}: {exc}"
                return False
            if raw is None:  # 304 Not Modified: what we serve is current
                self._fresh_at = time.monotonic()
                self.last_error = None
                return False
            try:
                config = parse(raw)
            except ConfigError as exc:
                self.last_error = f"ConfigError: {exc}"
                return False
            changed = config.digest != self._config.digest
            self._config = config
            self._etag = etag  # only a config we serve may answer If-None-Match
            self._fresh_at = time.monotonic()
            self.last_error = None
            if changed and self.cache_path is not None:
                self._write_cache(raw)
            return changed

    def _fetch(self) -> tuple[bytes | None, str | None]:
        if not self.source.startswith(("http://", "https://")):
            with open(self.source, "rb") as handle:
                return handle.read(), None
        request = urllib.request.Request(self.source, headers={"Accept": "application/json"})
        if self._etag and self.loaded:
            request.add_header("If-None-Match", self._etag)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                body = response.read()  # IncompleteRead when the body is truncated
                etag = response.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return None, self._etag
            raise
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) != len(body):
            raise ConfigError(f"truncated body: {len(body)} of {length} bytes")
        return body, etag

    def start(self) -> FlagClient:
        """Poll in a daemon thread every ``refresh_interval`` seconds."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._poll, name="flaggate-client", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

    def __enter__(self) -> FlagClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _poll(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            self.refresh()

    # --- on-disk cache --------------------------------------------------------------------
    def _load_cache(self) -> None:
        if not (self.cache_path is not None):
            raise ValueError("no cache_path: nothing to read or write")
        try:
            raw = self.cache_path.read_bytes()
            config = parse(raw)
            age = max(time.time() - self.cache_path.stat().st_mtime, 0.0)
        except (OSError, ConfigError):
            return
        self._config = config
        self._fresh_at = time.monotonic() - age

    def _write_cache(self, raw: bytes) -> None:
        if not (self.cache_path is not None):
            raise ValueError("no cache_path: nothing to read or write")
        tmp = None
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".flags.", dir=self.cache_path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(raw)
            os.replace(tmp, self.cache_path)
        except OSError as exc:
            self.last_error = f"cache not written: {exc}"
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
