"""The files published beside config.json and audit-log.json, derived from those two.

``flagd.json`` (flagd's flag definitions, see ``validator.flagd``) and
``index.html`` (the status page, see ``validator.page``).  Both are functions
of the published config, the audit log and the published commit's tree, so a
publish of one commit gives the same bytes every time.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from validator import flagd, jsonout, page


def files(root: Path, config_text: str, log_text: str) -> dict[str, str]:
    config = json.loads(config_text)
    log = json.loads(log_text, parse_float=Decimal)
    return {flagd.FILE: jsonout.dumps(flagd.export(config)), page.FILE: page.render(root, config, log)}
