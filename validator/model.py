"""The declared form of the flag repository: one source of truth.

These pydantic models declare what a flag, the policy, the resources and a
run are.  The JSON Schemas in ``schema/`` are generated from them
(``flaggate schema --write``), and so are the records every command reads
files with (``validator/records.py``, ``python -m validator.codegen``: plain
classes and readers, no pydantic to import on the ``check`` path); tests fail
when either drifts, and hold the readers to these models on thousands of
mutated files.  The models are strict: no coercion of ``"off"`` into a bool,
no unknown keys.  Rules that relate one field to another (a state among the
declared states, a percentage exactly when the state needs one) are in
``validator/rules``, so that what the schema says and what is accepted stay
the same.
"""

from __future__ import annotations

import sys
import types
from decimal import Decimal
from typing import Annotated, Any, Literal

from validator.metrics import METRIC_NAMES


def _no_pydantic_plugins() -> None:
    """Load no pydantic plugins, whatever the environment has installed.

    A plugin found through the environment's entry points hooks every validation, so two machines
    with different packages installed could read the same flag file differently; flaggate reads it
    one way.  Discovery is also the costliest part of building the first model on the `check` path
    (it imports importlib.metadata and scans every installed distribution).  pydantic imports its
    loader when it builds the first model, so a loader that finds nothing, put in its place before
    that, is all it takes; a pydantic that no longer has this module simply never asks for it.
    """
    name = "pydantic.plugin._loader"
    if name not in sys.modules:
        loader = types.ModuleType(name)
        loader.__dict__["get_plugins"] = tuple
        sys.modules[name] = loader


_no_pydantic_plugins()

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema  # noqa: E402

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_VERSION = 1

Identifier = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description="a lowercase name: letters, digits and _"),
]
StateName = Identifier
FlagName = Identifier
ResourceName = Identifier
ReasonCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64, description="an upper-case code such as DRIFT_BREACH")]
RunId = Annotated[str, Field(min_length=1, max_length=128)]
Owner = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$",
        description="a GitHub login (alice) or a team (org/team-slug)",
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Percentage = Annotated[int, Field(ge=0, le=100)]
# Numbers stay exact: the loader reads 0.01 as Decimal("0.01"), never a float.
Number = Annotated[int | Decimal, WithJsonSchema({"type": "number"})]
MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]


def _empty_list() -> list[Any]:
    # Python functions, not the builtins: pydantic reads a default factory's signature, and a
    # builtin's is parsed from its text by the tokenizer (about 5 ms of every start-up).
    return []


def _empty_dict() -> dict[Any, Any]:
    return {}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


class Guard(_Strict):
    """A bound a reconciliation run must meet to count as green (inclusive)."""

    metric: MetricName
    min: Number | None = None
    max: Number | None = None
    why: Text | None = None


class Step(_Strict):
    """One step of a rollout plan."""

    state: StateName
    percentage: Percentage | None = Field(default=None, description="only for percentage states such as canary")
    soak_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        default=None, description="days the flag must stay in this step before it is promoted out of it"
    )
    guards: list[Guard] = Field(
        default_factory=_empty_list,
        description="extra guards for promoting out of this step, on top of the flag's guards",
    )


class FlagRequirement(_Strict):
    """While this flag is in one of ``when``, flag ``flag`` must be in one of ``in``."""

    flag: FlagName
    in_: list[StateName] = Field(alias="in", min_length=1)
    when: list[StateName] = Field(min_length=1)


class Requires(_Strict):
    flags: list[FlagRequirement] = Field(default_factory=_empty_list)
    resources: list[ResourceName] = Field(
        default_factory=_empty_list, description="infrastructure that must be provisioned before the flag leaves off"
    )


class Trigger(_Strict):
    """A rollback trigger: when it fires, the flag is demoted one step.

    ``consecutive``: fires on that many breaching samples in a row (1 = any).
    ``sustained_minutes``: fires when every sample over that long breaches.
    ``timeout_hours``: fires when the condition is still breached that long
    after the flag entered its state.
    """

    metric: MetricName
    op: Literal[">", ">=", "<", "<="]
    threshold: Number
    consecutive: Annotated[int, Field(ge=1, le=100)] = 1
    sustained_minutes: Annotated[int, Field(ge=1, le=525_600)] | None = None  # at most a year
    timeout_hours: Annotated[int, Field(ge=1, le=87_600)] | None = None  # at most ten years
    states: list[StateName] | None = Field(default=None, description="states the trigger watches; all but off if absent")
    reason_code: ReasonCode
    why: Text | None = None


class Transition(_Strict):
    """The last state change, written by ``flaggate promote`` / ``demote``."""

    from_: StateName | None = Field(alias="from")
    to: StateName
    from_percentage: Percentage | None = None
    to_percentage: Percentage | None = None
    justification: Text
    evidence: list[RunId] = Field(
        default_factory=_empty_list, max_length=100, description="reconciliation run ids, files in evidence/<flag>/ (at most 100)"
    )
    reason_code: ReasonCode | None = Field(default=None, description="required for demotes and disables")
    metrics: dict[MetricName, Number] | None = Field(default=None, description="metrics snapshot for a demote")


class Flag(_Strict):
    """One feature flag: its definition and its current state."""

    name: FlagName
    description: Text
    owners: list[Owner] = Field(min_length=1)
    states: list[StateName] = Field(min_length=2)
    state: StateName
    # The range (0..100, one of the plan's values) is the consistency rule's: it relates to the plan.
    percentage: int | None = Field(default=None, description="only in a percentage state: one of the plan's percentages for it")
    rollout: list[Step] = Field(min_length=2)
    requires: Requires = Field(default_factory=Requires)
    guards: list[Guard] = Field(default_factory=_empty_list)
    rollback: list[Trigger] = Field(default_factory=_empty_list)
    kill_switch: bool = Field(
        default=False,
        description="true: a disable from any step straight to off is a legal emergency move (flaggate demote FLAG --to off)",
    )
    transition: Transition | None = None


class Resource(_Strict):
    kind: Literal["table", "cache", "queue", "service"]
    description: Text
    provisioned: bool


class Resources(_Strict):
    """``resources.yaml``: the infrastructure flags depend on."""

    resources: dict[ResourceName, Resource]


PublicKey = Annotated[
    str,
    Field(
        pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$",
        description="an Ed25519 public key: ed25519: and the base64 of its 32 raw bytes (flaggate evidence keygen prints it)",
    ),
]


class Signer(_Strict):
    """A key allowed to sign reconciliation runs."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="the key id a signature names")]
    key: PublicKey
    flags: list[FlagName] | None = Field(default=None, description="the flags it may sign runs for; all if absent")
    why: Text | None = None


class Policy(_Strict):
    """``policy.yaml``: the rules that hold for every flag."""

    green_runs: Annotated[int, Field(ge=1, le=100)] = 3
    max_evidence_age_days: Annotated[int, Field(ge=1, le=365)] = 7
    max_promotions_per_change: Annotated[int, Field(ge=1)] = 1
    reason_codes: list[ReasonCode] = Field(min_length=1)
    platform_owners: list[Owner] = Field(min_length=1)
    on_call: list[Owner] = Field(default_factory=_empty_list)
    approvals: Annotated[int, Field(ge=1, le=10)] = 1
    final_step_approvals: Annotated[int, Field(ge=1, le=10)] = 1
    teams: dict[Owner, list[Owner]] = Field(
        default_factory=_empty_dict, description="team members, used when the token cannot read team membership"
    )
    signers: list[Signer] = Field(
        default_factory=_empty_list,
        description="keys allowed to sign reconciliation runs; when any is listed, only signed runs count as green",
    )


class Run(_Strict):
    """``evidence/<flag>/<run_id>.json``: one reconciliation run (the gate reads it with its own strict JSON parser)."""

    # Built on first use: ``flaggate check`` without a base never reads a run, so it never pays for this model.
    model_config = ConfigDict(defer_build=True)

    schema_: str | None = Field(default=None, alias="$schema", description="for editors: ../../schema/evidence.schema.json")
    run_id: Annotated[str, Field(min_length=1, max_length=128, description="equals the file name without .json")]
    flag: FlagName
    seq: Annotated[int, Field(ge=0, description="the reconciler's sequence number for this flag: unique, no gaps")]
    flag_state: StateName
    flag_percentage: Percentage | None = Field(default=None, description="required for a percentage state such as canary")
    status: Annotated[str, Field(description="green, red, failed, running, pending ...: only green counts")]
    started_at: Annotated[str, Field(description="ISO 8601 with a zone; after the flag entered the state")]
    finished_at: Annotated[str, Field(description="ISO 8601 with a zone")]
    inputs: dict[str, Annotated[str, Field(pattern=r"^-?[0-9]{1,30}(\.[0-9]{1,12})?$")] | Annotated[int, Field(ge=0)]] = Field(
        description="raw amounts (decimal strings) and counts (whole numbers) the metrics are recomputed from"
    )
    metrics: dict[MetricName, Number] | None = Field(default=None, description="claimed metrics; each must agree with the recomputed one")


SCHEMAS: dict[str, type[BaseModel]] = {
    "flag.schema.json": Flag,
    "policy.schema.json": Policy,
    "resources.schema.json": Resources,
    "evidence.schema.json": Run,
}


def json_schema(model: type[BaseModel], filename: str) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": f"https://flaggate.invalid/schema/{filename}", **schema}
