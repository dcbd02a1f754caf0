"""flagd.json in the real flagd evaluator (openfeature-provider-flagd, file mode): the same cohorts as FlagClient.

Every flag is walked through every step of its plan (0, 5, 25, 100: four
publishes of a real git repository), each published flagd.json is loaded by
the real flagd provider through the real OpenFeature SDK, and 10,000
representatives are evaluated on every flag at every step: zero
disagreements with ``FlagClient.is_active`` and ``state``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEvent
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from tests.conftest import run
from tests.gitrepo import commit_all, flag_path, new_repo, set_state
from validator import flagd, jsonout
from validator.client import FlagClient

IDS = [f"representative-{i}" for i in range(10_000)]


def sha_bucket(rep: str) -> int:
    """What a non-Python service computes (README), written independently of validator.client."""
    return int(hashlib.sha256(rep.encode("utf-8")).hexdigest()[:16], 16) % 100


CONTEXTS = [EvaluationContext(targeting_key=rep, attributes={flagd.BUCKET: sha_bucket(rep)}) for rep in IDS]


def plans(repo: Path) -> dict[str, list[tuple[str, int | None]]]:
    from validator.repo import WorkTree, load_snapshot

    flags = load_snapshot(WorkTree(repo)).flags
    return {name: [(step.state, step.percentage) for step in file.flag.rollout] for name, file in flags.items() if file.flag}


def walk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[Path]:
    """Publish the repository once per plan step: in round k every flag is at step k (or its last)."""
    repo = new_repo(tmp_path)
    # The backfill's requirement (dual write in shadow) would forbid the round where both are at
    # step 2; requirements are not what is tested here, cohorts are.
    backfill = flag_path(repo, "ledger_backfill_mode")
    backfill.write_text(re.sub(r"^requires:\n(?:[ #].*\n)*", "", backfill.read_text(), flags=re.M))
    commit_all(repo, "no requirement", "2026-11-02T00:00:00Z")
    steps = plans(repo)
    outs = []
    for k in range(max(len(s) for s in steps.values())):
        for name, plan in steps.items():
            if k >= len(plan):
                continue  # stays at its last step
            (frm, frm_pct), (to, to_pct) = plan[k - 1] if k else (None, None), plan[k]
            set_state(repo, name, to, percentage=to_pct, frm=frm, from_pct=frm_pct, evidence=[])
        commit_all(repo, f"round {k}", f"2026-11-{3 + k:02d}T00:00:00Z")
        out = tmp_path / f"public-{k}"
        # The rounds jump flags by hand, not by legal steps: cohorts are tested here, not the gate,
        # so each round is published as trusted (--since the commit itself).
        code, _, err = run(["publish", "--root", str(repo), "--out", str(out), "--since", "HEAD"], capsys)
        assert code == 0, err
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    class Capsys:  # the module-scoped fixture runs the CLI without pytest's per-test capsys
        def readouterr(self) -> tuple[str, str]:
            return "", ""

    return walk(tmp_path_factory.mktemp("flagd"), Capsys())  # type: ignore[arg-type]


@pytest.fixture
def flagd_client(caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """A factory: the real flagd provider in file mode on a published flagd.json, via the SDK."""
    providers: list[FlagdProvider] = []
    errors: list[Any] = []

    def on_error(details: Any) -> None:
        errors.append(details)

    api.add_handler(ProviderEvent.PROVIDER_ERROR, on_error)

    def make(path: Path, domain: str) -> Any:
        provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=str(path))
        providers.append(provider)
        api.set_provider_and_wait(provider, domain)
        client = api.get_client(domain)
        deadline = time.monotonic() + 10
        while client.get_provider_status() != ProviderStatus.READY and time.monotonic() < deadline:
            time.sleep(0.01)
        assert client.get_provider_status() == ProviderStatus.READY, errors
        return client

    caplog.set_level(logging.WARNING)  # what is asserted below; a DEBUG record per evaluation cost more than the evaluation
    yield make
    api.remove_handler(ProviderEvent.PROVIDER_ERROR, on_error)
    for provider in providers:
        provider.shutdown()
    api.clear_providers()
    assert errors == []
    # flagd's own logs: no error or warning while loading or evaluating the published file.
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]


STEPS = range(4)  # the longest plan's steps: 0, 5, 25, 100


def test_one_round_per_step_of_the_longest_plan(published: list[Path]) -> None:
    assert len(published) == len(STEPS)


@pytest.mark.heavy(1)
@pytest.mark.parametrize("k", STEPS, ids=lambda k: f"step-{k}")
def test_parity_with_the_real_flagd_evaluator_at_every_step(published: list[Path], flagd_client: Any, k: int) -> None:
    """One step per test, so the steps' 70,000 evaluations each run side by side on the workers."""
    out = published[k]
    disagreements = 0
    client = flagd_client(out / "flagd.json", f"flaggate-step-{k}")
    flags = FlagClient(out / "config.json")
    assert flags.loaded
    for name in json.loads((out / "config.json").read_text())["flags"]:
        pct = flags.percentage(name)
        state = client.get_string_details(name + flagd.STATE_SUFFIX, "?")
        assert (state.value, state.error_code) == (flags.state(name), None)
        assert state.flag_metadata["percentage"] == pct
        active = 0
        # Every id through flagd's own evaluator (the provider's resolve, what the SDK calls after its
        # hooks); the first hundred through the SDK client too, which must say the same.
        resolve = client.provider.resolve_boolean_details
        for i, (rep, context) in enumerate(zip(IDS, CONTEXTS)):
            expected = flags.is_active(name, rep)
            details = resolve(name, not expected, context)
            if details.error_code is not None or details.reason not in (Reason.STATIC, Reason.TARGETING_MATCH):
                pytest.fail(f"{name} at {pct}%: {details}")
            if i < 100:
                through_sdk = client.get_boolean_details(name, not expected, context)
                assert (through_sdk.value, through_sdk.reason, through_sdk.error_code) == (details.value, details.reason, None)
            disagreements += details.value != expected
            active += details.value
        # The cohort is the sha256 one: about pct% of 10,000, exactly the ids FlagClient enables.
        assert abs(active - pct * 100) <= 300
    assert disagreements == 0


def test_every_percentage_of_every_plan_is_published(published: list[Path]) -> None:
    seen: dict[str, set[int]] = {}
    for out in published:
        flags = FlagClient(out / "config.json")
        assert flags.loaded
        for name in json.loads((out / "config.json").read_text())["flags"]:
            seen.setdefault(name, set()).add(flags.percentage(name))
    # Every flag went through every percentage of its plan; together they cover 0, 5, 25 and 100.
    assert seen["allocation_read_switch"] == {0, 5, 25, 100}
    assert seen["allocation_dual_write"] == {0, 100}
    assert set().union(*seen.values()) == {0, 5, 25, 100}


def test_flagd_fractional_would_pick_other_people(published: list[Path], flagd_client: Any, tmp_path: Path) -> None:
    """Why flagd.json does not use flagd's murmur3 ``fractional``: the 5% canary would be other people."""
    out = published[1]
    definition = json.loads((out / "flagd.json").read_text())
    definition["flags"]["allocation_read_switch"]["targeting"] = {"fractional": [{"var": "targetingKey"}, ["on", 5], ["off", 95]]}
    naive = tmp_path / "naive.json"
    naive.write_text(json.dumps(definition))
    client = flagd_client(naive, "naive")
    flags = FlagClient(out / "config.json")
    assert flags.percentage("allocation_read_switch") == 5
    wrong = sum(
        client.get_boolean_value("allocation_read_switch", False, context) != flags.is_active("allocation_read_switch", rep)
        for rep, context in zip(IDS, CONTEXTS)
    )
    assert wrong > 500  # both pick about 500 people, and almost never the same ones


@pytest.mark.parametrize("bucket", ["3", 4.5, -1, 100, None, [1], {"b": 1}])
def test_an_unusable_bucket_is_off_by_default(published: list[Path], flagd_client: Any, bucket: Any) -> None:
    client = flagd_client(published[1] / "flagd.json", "bad-bucket")
    attributes = {} if bucket is None else {flagd.BUCKET: bucket}
    details = client.get_boolean_details("allocation_read_switch", True, EvaluationContext(targeting_key="rep-0001", attributes=attributes))
    assert (details.value, details.variant, details.reason, details.error_code) == (False, "off", Reason.DEFAULT, None)


def test_flagd_json_is_deterministic_and_carries_the_source(published: list[Path]) -> None:
    out = published[2]
    config = json.loads((out / "config.json").read_text())
    text = (out / "flagd.json").read_text()
    assert text == jsonout.dumps(flagd.export(config))
    data = json.loads(text)
    assert data["metadata"] == {
        "flagSetId": "flaggate",
        "version": config["source"]["commit"],
        "committed_at": config["source"]["committed_at"],
        "digest": config["digest"],
    }
    switch = data["flags"]["allocation_read_switch"]
    assert switch["metadata"]["percentage"] == 25 and switch["metadata"]["state"] == "canary"
    assert switch["metadata"]["owners"] == "acme-payments/ledger-platform, acme-payments/billing-core"
    assert "fractional" not in text
    assert set(data["flags"]) == {n for name in config["flags"] for n in (name, name + ".state")}
