"""Round trip of a saved report: JSON -> Report -> every format equals the original's."""

from __future__ import annotations

import json
from typing import Any

from mailtls.cli.output import FORMATS, render
from mailtls.model import Report
from mailtls.render.jsonout import report_dict
from mailtls.render.load import report_from_dict


def assert_round_trip(report: Report, code: int) -> dict[str, Any]:
    """``report`` saved as JSON and loaded again renders every format byte for byte alike."""
    doc: dict[str, Any] = json.loads(json.dumps(report_dict(report, code), ensure_ascii=False))
    loaded, saved_code = report_from_dict(doc)
    assert saved_code == code
    assert json.loads(json.dumps(report_dict(loaded, saved_code))) == doc
    for fmt in FORMATS:
        for verbose in (False, True):
            assert render(loaded, code, fmt, verbose=verbose) == render(
                report, code, fmt, verbose=verbose), (fmt, verbose)
    return doc
