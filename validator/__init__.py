"""flaggate: feature flags as YAML in git, with a validator that makes a green check mean something."""

from __future__ import annotations

__version__ = "0.1.0"
