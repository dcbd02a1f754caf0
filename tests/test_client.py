"""The service client: bucketing vectors, and a real HTTP server on 127.0.0.1 misbehaving."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.fakegithub import QuietServer
from validator.client import FlagClient, bucket, canonical_digest

# Golden vectors, published in the README; any language must reproduce them.
VECTORS = [
    ("", 52),
    ("rep-0001", 88),
    ("rep-0002", 54),
    ("representative-42", 20),
    ("R-1000", 22),
    ("Zoë", 48),
    ("代表-7", 72),
    ("🙂", 36),
    ("a" * 100, 11),
]


@pytest.mark.parametrize(("rep", "expected"), VECTORS)
def test_bucket_vectors(rep: str, expected: int) -> None:
    assert bucket(rep) == expected
    # The rule spelled out, independently of the implementation:
    assert int(hashlib.sha256(rep.encode("utf-8")).hexdigest()[:16], 16) % 100 == expected


def test_vectors_are_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for rep, expected in VECTORS[:8]:
        assert f"| `{json.dumps(rep, ensure_ascii=False)}` | {expected} |" in readme


def test_bucket_is_stable_across_processes() -> None:
    code = "from validator.client import bucket; print([bucket(f'rep-{i}') for i in range(50)])"
    runs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": seed, "PATH": ""}, cwd=REPO
        ).stdout
        for seed in ("1", "2", "random")
    }
    assert len(runs) == 1


def test_cohorts_nest_and_distribute() -> None:
    ids = [f"representative-{i}" for i in range(100_000)]
    buckets = [bucket(i) for i in ids]
    at5 = {i for i, b in zip(ids, buckets) if b < 5}
    at25 = {i for i, b in zip(ids, buckets) if b < 25}
    assert at5 <= at25
    assert 4_500 <= len(at5) <= 5_500


def test_importing_the_client_imports_no_dependency() -> None:
    code = (
        "import sys; import validator.client; "
        "print(sorted(m for m in ('yaml', 'pydantic', 'github', 'jsonschema', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout
    assert out.strip() == "[]"


def config(flags: dict[str, Any], *, digest: str | None = None, version: int = 1) -> bytes:
    body = {
        "schema_version": version,
        "source": {"commit": "abc", "committed_at": "2026-11-20T00:00:00Z"},
        "digest": digest or canonical_digest(flags),
        "flags": flags,
    }
    return json.dumps(body, sort_keys=True, indent=2).encode()


V1 = {
    "allocation_read_switch": {"state": "canary", "percentage": 5, "states": ["off", "canary", "full"], "owners": ["o/t"]},
    "allocation_dual_write": {"state": "shadow", "percentage": 100, "states": ["off", "shadow", "enforce"], "owners": ["o/t"]},
    "outbox_enabled": {"state": "off", "percentage": 0, "states": ["off", "on"], "owners": ["o/t"]},
}
V2 = {**V1, "allocation_read_switch": {**V1["allocation_read_switch"], "percentage": 25}}


class ConfigServer:
    """Serves a script of answers, one per request."""

    def __init__(self) -> None:
        self.script: list[tuple[str, bytes]] = []
        self.seen_etags: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.seen_etags.append(self.headers.get("If-None-Match"))
                kind, body = server.script.pop(0) if server.script else ("500", b"")
                if kind == "200":
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif kind == "304":
                    self.send_response(304)
                    self.end_headers()
                elif kind == "truncated":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.send_response(int(kind))
                    self.send_header("Content-Length", "0")
                    self.end_headers()

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        # Polled for stop() every 10 ms (serve_forever's default, 0.5 s, was waited out by every stop).
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/config.json"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_client_keeps_the_last_good_config_through_every_fault(tmp_path: Path) -> None:
    server = ConfigServer()
    server.script = [
        ("200", config(V1)),
        ("304", b""),
        ("500", b""),
        ("truncated", config(V2)),
        ("200", config(V2, digest="sha256:" + "0" * 64)),
        ("200", b"{not json"),
        ("200", config(V2, version=9)),
    ]
    client = FlagClient(server.url, cache_path=tmp_path / "cache.json", timeout=2)
    assert client.loaded and client.percentage("allocation_read_switch") == 5
    assert client.refresh() is False and client.last_error is None  # 304
    assert server.seen_etags[1] is not None
    for expected in ("HTTPError", "IncompleteRead", "digest", "JSON", "schema_version"):
        assert client.refresh() is False
        assert expected in (client.last_error or ""), client.last_error
        assert client.percentage("allocation_read_switch") == 5 and client.state("allocation_read_switch") == "canary"
    server.stop()  # the host goes away
    assert client.refresh() is False and "URLError" in (client.last_error or "")
    before = client.staleness
    time.sleep(0.05)
    assert client.staleness is not None and before is not None and client.staleness > before
    # A restart while the host is down: the on-disk cache still has the flags.
    restarted = FlagClient(server.url, cache_path=tmp_path / "cache.json", timeout=1)
    assert restarted.loaded and restarted.percentage("allocation_read_switch") == 5


def test_a_new_config_replaces_the_old_one() -> None:
    server = ConfigServer()
    server.script = [("200", config(V1)), ("200", config(V2))]
    client = FlagClient(server.url)
    assert client.refresh() is True and client.percentage("allocation_read_switch") == 25
    server.stop()


def test_safe_default_without_any_config(tmp_path: Path) -> None:
    client = FlagClient(tmp_path / "missing.json")
    assert not client.loaded and client.staleness is None
    assert client.state("allocation_dual_write") == "off" and client.percentage("allocation_dual_write") == 0
    assert client.is_active("allocation_dual_write", "rep-1") is False


def test_is_active_follows_the_percentage(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(config(V1))
    client = FlagClient(path)
    ids = [f"rep-{i}" for i in range(1000)]
    assert all(client.is_active("allocation_dual_write", i) for i in ids)  # shadow: 100
    assert not any(client.is_active("outbox_enabled", i) for i in ids)  # off: 0
    assert {i for i in ids if client.is_active("allocation_read_switch", i)} == {i for i in ids if bucket(i) < 5}
    assert client.is_active("no_such_flag", "rep-1") is False


def test_an_id_without_utf8_bytes_is_off_and_never_raises(tmp_path: Path) -> None:
    """A lone surrogate (what json.loads makes of "\\ud800") once raised out of is_active (attack)."""
    path = tmp_path / "config.json"
    path.write_bytes(config(V1))
    client = FlagClient(path)
    lone = json.loads('"\\ud800-rep"')
    assert client.is_active("allocation_read_switch", lone) is False  # canary 5%: the safe side
    assert client.is_active("allocation_read_switch", None) is False  # type: ignore[arg-type]
    assert client.is_active("allocation_dual_write", lone) is True  # 100%: everyone, no bucket needed


def test_concurrent_readers_during_refresh(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(config(V1))
    client = FlagClient(path, refresh_interval=0.001)
    seen: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.add(client.percentage("allocation_read_switch"))
                client.is_active("allocation_read_switch", "rep-7")
        except BaseException as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    # Four busy readers hold the GIL for the whole default switch interval (5 ms) each time the
    # writer wakes: a shorter one hands it over sooner, and the threads interleave more often.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        for thread in threads:
            thread.start()
        with client:
            for i in range(50):
                path.write_bytes(config(V2 if i % 2 else V1))
                time.sleep(0.002)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors and seen <= {5, 25}


def test_readme_service_example_runs(tmp_path: Path) -> None:
    """The ten-line example of the README, run as written against a published config.json."""
    import re

    readme = (REPO / "README.md").read_text()
    example = re.search(r"<!-- service-example -->\n```python\n(.*?)```", readme, re.S)
    assert example is not None
    code = example.group(1)
    assert len(code.strip().splitlines()) <= 12
    path = tmp_path / "config.json"
    path.write_bytes(config(V1))
    code = code.replace("https://acme-payments.github.io/flags/config.json", str(path))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "allocation_read_switch" in result.stdout and "None" not in result.stdout
