"""Regression testing: declared expectations and baseline changes (``mailtls.regression``).

Part of :mod:`mailtls.model` (importable from there, as ``from mailtls.model import
Outcome``), in a module of its own so a scan that has no regression records does
not build their classes at start-up (issue 12)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailtls.model.record import Record

if TYPE_CHECKING:
    from mailtls.model import Severity


class Outcome(enum.StrEnum):
    MET = "met"
    BROKEN = "broken"
    UNKNOWN = "unknown"  # could not be evaluated: the port was not tested, not in the scan, ...


@dataclass(frozen=True, repr=False, eq=False)
class ExpectationResult(Record):
    """One expectation of an ``--expect`` file, checked against what the scan saw."""

    id: str  # stable: "port.open", "port.closed", "tls.min_version", "cert.min_days", ...
    host: str
    subject: str  # what it is about: "submission (587)", "127.0.0.1:465", "cert.*"
    expected: str  # one line: "open", ">= TLS 1.2", ">= 14 days", "no finding worse than warn"
    observed: str  # one line: "refused", "TLS 1.0 accepted", "12.5 days", ...
    outcome: Outcome
    evidence: tuple[str, ...] = ()


class ChangeKind(enum.StrEnum):
    """The kinds of change between a baseline and a newer report (``mailtls.regression.diff``)."""

    FINDING_NEW = "finding.new"
    FINDING_RESOLVED = "finding.resolved"
    FINDING_SEVERITY = "finding.severity"
    PORT_CLOSED = "port.closed"
    PORT_OPENED = "port.opened"
    PORT_STATE = "port.state"
    TLS_LOST = "tls.lost"
    TLS_GAINED = "tls.gained"
    TLS_NEGOTIATED = "tls.negotiated"
    TLS_CIPHER = "tls.cipher"
    TLS_VERSION_GAINED = "tls.version.gained"
    TLS_VERSION_LOST = "tls.version.lost"
    TLS_SUITES_GAINED = "tls.suites.gained"
    TLS_SUITES_LOST = "tls.suites.lost"
    CAPABILITY_GAINED = "capability.gained"
    CAPABILITY_LOST = "capability.lost"
    CERT_CHANGED = "cert.changed"
    HOST_ADDED = "host.added"
    HOST_REMOVED = "host.removed"
    HOST_UNRESOLVED = "host.unresolved"
    HOST_RESOLVED = "host.resolved"
    ENDPOINT_ADDED = "endpoint.added"
    ENDPOINT_REMOVED = "endpoint.removed"


@dataclass(frozen=True, repr=False, eq=False)
class Change(Record):
    """One difference between a baseline report and a newer one."""

    kind: ChangeKind  # stable
    host: str
    endpoint: str | None  # Endpoint.key, or None for the host as a whole
    summary: str  # one line
    regression: bool  # the deployment got worse
    old: str | None = None
    new: str | None = None
    finding_id: str | None = None  # for finding.* changes
    severity: Severity | None = None  # for finding.* changes: the finding's (new) severity
