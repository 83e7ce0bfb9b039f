"""The exit-code contract (documented in the README; monitoring and CI rely on it).

    0  nothing at or above the --fail-on level
    1  warnings (with --fail-on warn, the default)
    2  failures
    3  could not test something that was asked for, usage error, or internal error

A failure outranks "could not test": a server that is known to be broken on one port is broken,
whatever else could not be tested.
"""

from __future__ import annotations

import enum

from mailtls.model import Report, Severity

OK, WARNINGS, FAILURES, UNKNOWN = 0, 1, 2, 3


class FailOn(enum.StrEnum):
    WARN = "warn"
    FAIL = "fail"
    NEVER = "never"


def exit_code(report: Report, fail_on: FailOn = FailOn.WARN) -> int:
    if fail_on is FailOn.NEVER:
        return OK
    severities = {f.severity for f in report.findings}
    if Severity.FAIL in severities:
        return FAILURES
    if Severity.UNKNOWN in severities:
        return UNKNOWN
    if Severity.WARN in severities and fail_on is FailOn.WARN:
        return WARNINGS
    return OK


# How bad each code is: a failure outranks "could not test", which outranks warnings.
_RANK = {OK: 0, WARNINGS: 1, UNKNOWN: 2, FAILURES: 3}
INTERRUPTED = 130  # Ctrl-C in a batch: finished hosts are reported, the rest are not (128+SIGINT)


def worst_code(*codes: int) -> int:
    """The most serious of several exit codes (0 < 1 < 3 < 2)."""
    return max(codes, key=lambda c: _RANK.get(c, 4), default=OK)
