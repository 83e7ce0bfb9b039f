"""``mailtls`` run in-process by the tests, and the reader of what a run printed.

Shared by tests/conftest.py (``mailtls``), tests/client (``client_cli``, ``login_check``),
tests/domain (``run``, with :class:`DomainRun` there) and tests/regression, as
``tests.cli_runner``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from mailtls.cli.app import main


def cli_output(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``mailtls ARGV`` in-process: the exit code and what it wrote to stdout and stderr (what
    was captured before the run is dropped)."""
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def check_argv(
    host: str, services: Sequence[str], *, ca_file: str | None, json_out: bool, quick: bool,
    timeout: str = "20",
) -> list[str]:
    """``mailtls check HOST`` against loopback servers (``--address 127.0.0.1``) with short
    timeouts: ``--service`` for each of ``services``, the test CA, JSON, ``--quick``."""
    argv = ["check", host, "--address", "127.0.0.1", "--timeout", timeout,
            "--read-timeout", "3", "--handshake-timeout", "3", "--connect-timeout", "2"]
    for s in services:
        argv += ["--service", s]
    if ca_file is not None:
        argv += ["--ca-file", ca_file]
    if json_out:
        argv += ["--format", "json"]
    if quick:
        argv += ["--quick"]
    return argv


@dataclass
class Run:
    """One in-process run; the JSON report's parts when it printed one (``--format json``)."""

    code: int
    out: str
    err: str

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.out)
        return data

    @property
    def endpoints(self) -> list[dict[str, Any]]:
        return [e for h in self.report["hosts"] for e in h["endpoints"]]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for h in self.report["hosts"] for f in h["findings"]]

    @property
    def ids(self) -> set[str]:
        return {f["id"] for f in self.findings}

    def finding(self, finding_id: str) -> dict[str, Any]:
        matches = [f for f in self.findings if f["id"] == finding_id]
        assert matches, f"{finding_id} not in {sorted(self.ids)}"
        return matches[0]

    def by_id(self, finding_id: str) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["id"] == finding_id]

    # --- mailtls client / check --user --------------------------------------------------------

    @property
    def client(self) -> dict[str, Any]:
        data: dict[str, Any] = self.report["client"]
        return data

    @property
    def client_ids(self) -> set[str]:
        return {f["id"] for f in self.client["findings"]}

    def client_finding(self, finding_id: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [f for f in self.client["findings"]
                                       if f["id"] == finding_id]
        assert found, f"{finding_id} not in {sorted(self.client_ids)}"
        return found[0]

    @property
    def logins(self) -> dict[str, dict[str, Any]]:
        """service name -> the endpoint's "login" object of the JSON report."""
        return {e["service"]: e["login"] for e in self.endpoints if e.get("login") is not None}


R = TypeVar("R", bound=Run)


def run_cli(
    capsys: pytest.CaptureFixture[str], argv: Sequence[str],
    kind: type[R] = Run,  # type: ignore[assignment]
) -> R:
    """:func:`cli_output` as a :class:`Run` (or the subclass ``kind``)."""
    return kind(*cli_output(capsys, *argv))
