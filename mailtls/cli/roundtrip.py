"""``mailtls client ADDRESS --round-trip``: the client check, then the round trip, judged into
``roundtrip.*`` findings of the client report (so exit codes, Nagios and Prometheus see them)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from mailtls.checks.roundtrip import judge_round_trip
from mailtls.model import Report, RoundTrip
from mailtls.probes.roundtrip import run_round_trip

if TYPE_CHECKING:
    from mailtls.scan.client import ClientRequest


async def with_round_trip(check: Coroutine[Any, Any, Report], request: ClientRequest,
                          args: argparse.Namespace) -> Report:
    """Run the client check, then the round trip with its secure settings."""
    report = await check
    client = report.client
    login = request.options.login
    assert client is not None and login is not None and request.address is not None
    timeout = float(args.round_trip_timeout)
    # every step has its own timeouts; this bound only guarantees the command ends
    bound = timeout + 12 * float(args.connect_timeout) + 10
    try:
        rt = await asyncio.wait_for(run_round_trip(
            client=client, address=request.address, user=login.username,
            password=login.password.reveal(), ca_file=request.options.ca_file,
            timeout=timeout, connect_timeout=float(args.connect_timeout),
            addresses=request.addresses), bound)
    except TimeoutError:
        rt = RoundTrip(tag="-", timeout=timeout, attempts=(), submission=None,
                       submission_tls=None, retrieval=None, retrieval_tls=None,
                       submitted=False, delivered=False, delivery_seconds=None,
                       error=f"the round trip did not end within {bound:g} s")
    client = dataclasses.replace(client, round_trip=rt,
                                 findings=client.findings + judge_round_trip(rt))
    options = {**report.options, "round_trip_timeout": timeout}
    return dataclasses.replace(report, client=client, options=options)
