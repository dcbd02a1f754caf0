from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem at one place. Findings are data: collected, sorted, reported."""

    file: str
    line: int
    column: int
    rule: str
    message: str
    flag: str | None = None
    severity: str = ERROR

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "flag": self.flag,
            "message": self.message,
        }


def sort_key(finding: Finding) -> tuple[str, int, int, str, str]:
    return (finding.file, finding.line, finding.column, finding.rule, finding.message)
