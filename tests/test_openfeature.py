"""The OpenFeature provider, through the real OpenFeature SDK (api, clients, hooks) and a real HTTP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagEvaluationDetails, Reason
from openfeature.hook import Hook, HookContext, HookHints
from openfeature.provider import ProviderStatus

from tests.test_client import V1, V2, ConfigServer, config
from validator.client import FlagClient, bucket
from validator.openfeature import FlaggateProvider

IDS = [f"rep-{i}" for i in range(2000)]


class Recorder(Hook):
    """A real SDK hook: what the after/error stages saw."""

    def __init__(self) -> None:
        self.seen: list[FlagEvaluationDetails[Any]] = []
        self.failed: list[Exception] = []

    def after(self, hook_context: HookContext, details: FlagEvaluationDetails[Any], hints: HookHints) -> None:
        self.seen.append(details)

    def error(self, hook_context: HookContext, exception: Exception, hints: HookHints) -> None:
        self.failed.append(exception)


@pytest.fixture
def server() -> Iterator[ConfigServer]:
    srv = ConfigServer()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def clean_api() -> Iterator[None]:
    yield
    api.clear_hooks()
    api.shutdown()
    api.clear_providers()


def ctx(rep: str | None) -> EvaluationContext:
    return EvaluationContext(targeting_key=rep)


def test_boolean_is_is_active_over_http(server: ConfigServer) -> None:
    server.script = [("200", config(V1))]
    provider = FlaggateProvider.from_source(server.url, refresh_interval=60)
    api.set_provider_and_wait(provider)
    recorder = Recorder()
    client = api.get_client()
    client.add_hooks([recorder])
    assert client.get_provider_status() == ProviderStatus.READY
    for rep in IDS:
        details = client.get_boolean_details("allocation_read_switch", False, ctx(rep))
        assert details.value is (bucket(rep) < 5) is provider.client.is_active("allocation_read_switch", rep)
        assert details.reason == Reason.TARGETING_MATCH and details.variant == ("on" if details.value else "off")
    assert len(recorder.seen) == len(IDS) and not recorder.failed
    meta = recorder.seen[0].flag_metadata
    assert meta == {"state": "canary", "percentage": 5, "source_commit": "abc"}
    dual = client.get_boolean_details("allocation_dual_write", False, ctx("rep-1"))
    assert (dual.value, dual.reason, dual.flag_metadata["percentage"]) == (True, Reason.STATIC, 100)
    outbox = client.get_boolean_details("outbox_enabled", True, ctx("rep-1"))
    assert (outbox.value, outbox.reason) == (False, Reason.STATIC)


def test_string_is_the_state(server: ConfigServer) -> None:
    server.script = [("200", config(V1))]
    api.set_provider(FlaggateProvider.from_source(server.url), "strings")  # initialized in the background
    client = api.get_client("strings")
    ready = threading.Event()
    client.add_handler(ProviderEvent.PROVIDER_READY, lambda details: ready.set())  # runs at once if already ready
    assert ready.wait(5) and client.get_provider_status() == ProviderStatus.READY
    for key in ("allocation_read_switch", "allocation_read_switch.state"):
        details = client.get_string_details(key, "?")
        assert (details.value, details.variant, details.reason, details.error_code) == ("canary", "canary", Reason.STATIC, None)
        assert details.flag_metadata["percentage"] == 5
    assert client.get_string_value("outbox_enabled", "?", None) == "off"


def test_errors_carry_the_right_codes(server: ConfigServer) -> None:
    server.script = [("200", config(V1))]
    api.set_provider_and_wait(FlaggateProvider.from_source(server.url))
    recorder = Recorder()
    api.add_hooks([recorder])
    client = api.get_client()
    unknown = client.get_boolean_details("no_such_flag", True, ctx("rep-1"))
    assert (unknown.value, unknown.error_code, unknown.reason) == (True, ErrorCode.FLAG_NOT_FOUND, Reason.ERROR)
    missing = client.get_boolean_details("allocation_read_switch", True, EvaluationContext())
    assert (missing.value, missing.error_code) == (True, ErrorCode.TARGETING_KEY_MISSING)
    # Required at 0 and 100% too: the service learns before the canary starts.
    assert client.get_boolean_details("outbox_enabled", False).error_code == ErrorCode.TARGETING_KEY_MISSING
    assert client.get_string_details("no_such_flag", "?").error_code == ErrorCode.FLAG_NOT_FOUND
    for kind in (client.get_integer_details, client.get_float_details):
        assert kind("allocation_read_switch", 7).error_code == ErrorCode.TYPE_MISMATCH  # type: ignore[operator]
    assert client.get_object_details("allocation_read_switch", {}).error_code == ErrorCode.TYPE_MISMATCH
    assert len(recorder.failed) == 7


def test_no_config_is_every_flag_off_with_reason_default(server: ConfigServer) -> None:
    server.script = [("500", b"")]
    api.set_provider_and_wait(FlaggateProvider.from_source(server.url), "down")
    client = api.get_client("down")
    assert client.get_provider_status() == ProviderStatus.READY  # serving the safe default, not failing
    details = client.get_boolean_details("allocation_dual_write", True, ctx("rep-1"))
    assert (details.value, details.reason, details.error_code) == (False, Reason.DEFAULT, None)
    assert client.get_string_value("allocation_dual_write", "?") == "off"


def test_stale_config_says_so_and_keeps_serving(server: ConfigServer) -> None:
    server.script = [("200", config(V1)), ("200", config(V2))]
    provider = FlaggateProvider.from_source(server.url, stale_after=0.2, refresh_interval=3600)
    api.set_provider_and_wait(provider, "stale")
    client = api.get_client("stale")
    assert client.get_boolean_details("allocation_read_switch", False, ctx("rep-1")).reason == Reason.TARGETING_MATCH
    server.stop()  # the host goes down; nothing reconfirms the config
    time.sleep(0.3)
    provider.client.refresh()
    assert provider.client.last_error is not None
    rep = next(r for r in IDS if bucket(r) < 5)
    details = client.get_boolean_details("allocation_read_switch", False, ctx(rep))
    assert (details.value, details.reason, details.error_code) == (True, Reason.STALE, None)
    assert client.get_string_details("allocation_read_switch", "?").reason == Reason.STALE


def test_a_new_config_is_served_after_a_poll(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(config(V1))
    flags = FlagClient(path, refresh_interval=0.01)
    api.set_provider_and_wait(FlaggateProvider(flags, poll=True), "poll")
    client = api.get_client("poll")
    assert client.get_boolean_details("allocation_read_switch", False, ctx("x")).flag_metadata["percentage"] == 5
    path.write_bytes(config(V2))
    deadline = time.monotonic() + 5
    while flags.percentage("allocation_read_switch") != 25 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.get_boolean_details("allocation_read_switch", False, ctx("x")).flag_metadata["percentage"] == 25
    assert flags._thread is not None and flags._thread.is_alive()
    api.shutdown()
    assert not flags._thread.is_alive()
