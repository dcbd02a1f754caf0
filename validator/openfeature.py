"""An OpenFeature provider over ``FlagClient``: flaggate flags through the CNCF evaluation API.

    from openfeature import api
    from validator.openfeature import FlaggateProvider

    api.set_provider(FlaggateProvider.from_source("https://acme-payments.github.io/flags/config.json"))
    flags = api.get_client()
    flags.get_boolean_value("allocation_read_switch", False, EvaluationContext(targeting_key="rep-0001"))

- boolean evaluation is ``is_active(flag, targeting_key)``: the representative
  id is the OpenFeature targeting key, and it is required (error
  ``TARGETING_KEY_MISSING``), also while the flag is at 0 or 100%, so a
  service that forgets it finds out before the canary, not during it;
- string evaluation of ``flag`` (or ``flag.state``, the key flagd.json uses)
  is the flag's state;
- integer, float and object evaluations are ``TYPE_MISMATCH``; an unknown
  flag is ``FLAG_NOT_FOUND`` (the SDK then returns the caller's default).

Reasons: ``TARGETING_MATCH`` for a canary (0 < percentage < 100), ``STATIC``
at 0 and 100%, ``STALE`` when the served config was last confirmed more than
``stale_after`` seconds ago (the value is still the last good config's), and
``DEFAULT`` when no config was ever loaded: then every flag is off, as with
``FlagClient``, whatever default the caller passed, because off (the legacy
path) is the safe side of this migration.  Flag metadata: ``state``,
``percentage``, ``source_commit``.

Needs the ``openfeature`` extra (``pip install 'flaggate[openfeature]'``);
``validator.client`` itself stays standard-library only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagMetadata, FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from validator.client import EMPTY, OFF, Config, FlagClient

STATE_SUFFIX = ".state"
NAME = "flaggate"


class FlaggateProvider(AbstractProvider):
    """OpenFeature provider answering from a ``FlagClient``'s last good config."""

    def __init__(self, client: FlagClient, *, stale_after: float | None = None, poll: bool = False) -> None:
        super().__init__()
        self.client = client
        # A config not reconfirmed for three polls (at least a minute) is reported stale.
        self.stale_after = stale_after if stale_after is not None else max(3 * client.refresh_interval, 60.0)
        self._poll = poll
        self._metadata_of: Config | None = None
        self._metadata: dict[str, FlagMetadata] = {}

    @classmethod
    def from_source(cls, source: str | os.PathLike[str], *, stale_after: float | None = None, **client_options: Any) -> FlaggateProvider:
        """A provider over a new ``FlagClient`` (a URL or a path), polling from ``initialize`` to ``shutdown``."""
        return cls(FlagClient(source, load=False, **client_options), stale_after=stale_after, poll=True)

    # --- lifecycle ------------------------------------------------------------------------------
    def get_metadata(self) -> Metadata:
        return Metadata(name=NAME)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        # Never raises: with no config every flag is off (reason DEFAULT), the documented safe side.
        if not self.client.loaded:
            self.client.refresh()
        if self._poll:
            self.client.start()

    def shutdown(self) -> None:
        if self._poll:
            self.client.stop()

    # --- evaluation -------------------------------------------------------------------------------
    def _flag_metadata(self, config: Config, flag: str) -> FlagMetadata:
        # Built once per served config: the request path only looks it up.
        if self._metadata_of is not config:
            table: dict[str, FlagMetadata] = {}
            for name, (state, percentage) in config.flags.items():
                meta: dict[str, bool | int | float | str] = {"state": state, "percentage": percentage}
                if isinstance(config.commit, str):
                    meta["source_commit"] = config.commit
                table[name] = meta
            self._metadata, self._metadata_of = table, config
        return self._metadata[flag]

    def _reason(self, percentage: int) -> Reason:
        staleness = self.client.staleness
        if staleness is not None and staleness > self.stale_after:
            return Reason.STALE
        return Reason.TARGETING_MATCH if 0 < percentage < 100 else Reason.STATIC

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        config = self.client.config
        entry = config.flags.get(flag_key)
        if entry is None:
            if config is EMPTY:
                return FlagResolutionDetails(False, reason=Reason.DEFAULT, variant="off")
            return _error(default_value, ErrorCode.FLAG_NOT_FOUND, f"flag {flag_key!r} is not in the published config")
        key = evaluation_context.targeting_key if evaluation_context is not None else None
        if key is None:
            return _error(default_value, ErrorCode.TARGETING_KEY_MISSING, "the targeting key (the representative id) is required")
        if not isinstance(key, str):
            return _error(default_value, ErrorCode.INVALID_CONTEXT, "the targeting key must be a string")
        value = self.client.is_active(flag_key, key)
        return FlagResolutionDetails(
            value,
            reason=self._reason(entry[1]),
            variant="on" if value else "off",
            flag_metadata=self._flag_metadata(config, flag_key),
        )

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        config = self.client.config
        name = flag_key[: -len(STATE_SUFFIX)] if flag_key.endswith(STATE_SUFFIX) and flag_key not in config.flags else flag_key
        entry = config.flags.get(name)
        if entry is None:
            if config is EMPTY:
                return FlagResolutionDetails(OFF, reason=Reason.DEFAULT, variant=OFF)
            return _error(default_value, ErrorCode.FLAG_NOT_FOUND, f"flag {name!r} is not in the published config")
        state = entry[0]
        reason = self._reason(entry[1])
        return FlagResolutionDetails(
            state,
            reason=Reason.STALE if reason is Reason.STALE else Reason.STATIC,
            variant=state,
            flag_metadata=self._flag_metadata(config, name),
        )

    def _not_typed(self, flag_key: str, default_value: Any, kind: str) -> FlagResolutionDetails[Any]:
        config = self.client.config
        if flag_key not in config.flags and config is not EMPTY:
            return _error(default_value, ErrorCode.FLAG_NOT_FOUND, f"flag {flag_key!r} is not in the published config")
        return _error(default_value, ErrorCode.TYPE_MISMATCH, f"flaggate flags are boolean (is active) or string (state), not {kind}")

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._not_typed(flag_key, default_value, "integer")

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._not_typed(flag_key, default_value, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._not_typed(flag_key, default_value, "object")


def _error(default_value: Any, code: ErrorCode, message: str) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(default_value, error_code=code, error_message=message, reason=Reason.ERROR)
