"""Enumerate the protocol versions and cipher suites a port accepts, over its own way of
starting TLS (STARTTLS dialogue or implicit), with hand-built hellos (``mailtls.tls.enumeration``);
then whether it compresses, staples OCSP responses and honours TLS_FALLBACK_SCSV (up to two hellos).

Politeness: independent questions run side by side, every connection under the address's
connection budget (at most ``--max-connections`` at once, ``mailtls.net.budget``); ``--slow``
makes them one after the other. A server that turns one away before
TLS (SMTP 421, IMAP BYE, POP3 -ERR greeting, a reset during the STARTTLS dialogue, a refused
connection to the port that answered a moment ago) is rate limiting, not broken: the enumeration
backs off and retries, and reports "rate limited" when it had to give up. ``--slow`` adds a
pause between connections.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from mailtls.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    MailTLSError,
    ReadTimeout,
    SessionRejected,
)
from mailtls.model import Direction, Endpoint, Protocol, TLSMode, TLSScan
from mailtls.net.stream import Stream, open_stream
from mailtls.probes.mailport import ProbeOptions, adapter_for, sni_for
from mailtls.probes.session import Recorder
from mailtls.tls.enumeration import RateLimited, enumerate_tls
from mailtls.tls.hello import group_name
from mailtls.tls.versions import PROTOCOL_VERSIONS, TLSVersion

# Bytes of the server's first flight worth reading: a few certificates, never a stream.
MAX_FLIGHT = 1 << 17
# Back-off after a connection the server turned away: BACKOFF_SECONDS, then twice that, ...
# at most RETRIES times in a row; then the enumeration stops and says so.
BACKOFF_SECONDS = 1.0
RETRIES = 4
# --slow: pause between enumeration connections.
SLOW_PAUSE_SECONDS = 1.0
# Stop starting enumeration connections this long before the scan deadline, so what was found
# is still reported (instead of the whole port becoming "not tested").
DEADLINE_MARGIN_SECONDS = 1.0
_OPENSSL_VERSIONS = {
    "SSLv3": TLSVersion.SSL3, "TLSv1": TLSVersion.TLS1_0, "TLSv1.1": TLSVersion.TLS1_1,
    "TLSv1.2": TLSVersion.TLS1_2, "TLSv1.3": TLSVersion.TLS1_3,
}  # fmt: skip


def _refusal(lines: tuple[str, ...]) -> str:
    return " ".join(lines)[:160] or "(empty reply)"


async def _reach_tls(
    endpoint: Endpoint, options: ProbeOptions, *, ask_capabilities: bool = True
) -> Stream:
    """A fresh connection, brought to the point where the next bytes are a ClientHello.

    ``ask_capabilities=False`` (IMAP and POP3, once the basic probe saw STARTTLS/STLS work):
    the question is answered already, so STARTTLS follows the greeting at once, one round trip
    less per connection. SMTP always says EHLO first (RFC 3207 §4: servers want it).

    Raises :class:`RateLimited` when the server turns the connection away before TLS, and
    ``ConnectRefused`` when the dialogue fails in a way that will not change by waiting.
    """
    try:
        stream = await open_stream(endpoint.address, endpoint.port, options.timeouts)
    except (ConnectRefused, ConnectTimeout) as exc:
        # The port answered the basic probe a moment ago: refusing now is a connection limit.
        raise RateLimited(f"connection refused after earlier ones succeeded ({exc})") from None
    if endpoint.service.tls_mode is TLSMode.IMPLICIT:
        return stream
    scratch = Recorder(endpoint, ehlo=options.ehlo)  # each connection's dialogue is not kept
    try:
        adapter = adapter_for(stream, endpoint, scratch)
        greeting, ok = await adapter.greeting()
        if not ok:
            permanent = bool(greeting) and greeting[0][:1] == "5"  # SMTP 554: no service here
            if permanent:
                raise ConnectRefused(f"the server refused the session: {_refusal(greeting)}")
            raise RateLimited(f"greeting {_refusal(greeting)}")
        if ask_capabilities or endpoint.service.protocol is Protocol.SMTP:
            caps, raw = await adapter.capabilities()
            if not adapter.offers_starttls(caps or ()):
                if raw and raw[-1][:1] == "4":  # SMTP 421 to EHLO
                    raise RateLimited(f"capabilities refused: {_refusal(raw)}")
                raise ConnectRefused("STARTTLS is no longer offered")
        accepted, reply = await adapter.starttls()
        if not accepted:
            if reply and reply[-1][:1] == "4":  # 454 TLS not available due to temporary reason
                raise RateLimited(f"STARTTLS refused: {_refusal(reply)}")
            raise ConnectRefused(f"STARTTLS was refused: {_refusal(reply)}")
        adapter.conv.take_leftovers()
    except (RateLimited, ConnectRefused):
        await stream.close()
        raise
    except (SessionRejected, ConnectionClosed) as exc:
        # BYE / 421 mid-dialogue, or a reset before TLS: the server is shedding connections.
        await stream.close()
        raise RateLimited(f"{type(exc).__name__}: {exc}") from None
    except MailTLSError as exc:
        await stream.close()
        # A failing dialogue says nothing about TLS: "could not test", never "refused".
        raise ConnectRefused(f"STARTTLS dialogue failed: {exc}") from None
    return stream


async def scan_tls(endpoint: Endpoint, options: ProbeOptions, recorder: Recorder) -> None:
    """Fill ``recorder.tls_scan`` when the basic probe showed a port that can start TLS."""
    if recorder.tls is None and recorder.tls_error is None:
        return  # no TLS here at all (or the session never got that far)
    if recorder.tls_on_starttls_port or recorder.plaintext_on_implicit:
        return
    started = time.monotonic()
    read_timeout = options.timeouts.read
    recorder.in_tls = False  # the basic probe's session is over: these notes are not inside TLS

    known = bool(recorder.starttls_accepted)  # the basic probe's STARTTLS went through

    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        stream = await _reach_tls(endpoint, options, ask_capabilities=not known)
        try:
            yield b""  # connected (the hello's timeout starts now, not in the slot queue)
            await stream.write(hello)
            received = 0
            while received < MAX_FLIGHT:
                try:
                    data = await stream.read(timeout=read_timeout)
                except ConnectionClosed:
                    return
                except ReadTimeout:
                    raise
                received += len(data)
                yield data
        finally:
            await stream.close()

    deadline = None
    if options.deadline is not None:
        deadline = options.deadline - DEADLINE_MARGIN_SECONDS
    pause = SLOW_PAUSE_SECONDS if options.slow else 0.0
    recorder.note(
        Direction.NOTE,
        "enumerating TLS versions and cipher suites"
        + (f" ({pause:g} s between connections)" if pause else ""),
    )
    # The basic probe's own handshake: a version the server negotiates (it spares the
    # enumeration the hellos below TLS 1.1 when the server refuses TLS 1.1)
    negotiated = _OPENSSL_VERSIONS.get(recorder.tls.version) if recorder.tls else None
    result = await enumerate_tls(
        exchange,
        server_name=sni_for(endpoint.host),
        timeout=options.timeouts.handshake,
        deadline=deadline,
        retries=RETRIES,
        backoff=BACKOFF_SECONDS,
        pause=pause,
        parallel=not options.slow,  # the connection budget bounds how many at once
        mark_connected=True,
        known_version=negotiated,
    )
    recorder.connections += result.connections
    versions = {v.label: ok for v, ok in result.versions.items()}
    if negotiated is not None and versions.get(negotiated.label, False) is None:
        # The enumeration could not test it (rate limited, deadline), but the basic probe's
        # handshake did: that version is accepted.
        versions[negotiated.label] = True
    recorder.tls_scan = TLSScan(
        versions=versions,
        suites={v.label: result.suite_names(v) for v in result.suites},
        server_order={v.label: order for v, order in result.server_order.items()},
        groups=tuple(group_name(g) for g in result.groups),
        ecdhe_groups=tuple(group_name(g) for g in result.ecdhe_groups),
        dh_bits=result.dh_bits,
        secure_renegotiation=result.secure_renegotiation,
        connections=result.connections,
        seconds=round(time.monotonic() - started, 3),
        errors=result.errors,
        compression=result.compression,
        fallback_scsv=result.fallback_scsv,
        ocsp_stapling=result.ocsp_stapling,
    )
    if result.rate_limited:
        recorder.note(
            Direction.NOTE,
            f"rate limited: the server turned {result.rate_limited} connection(s) away; "
            f"backed off {result.backoff_seconds:g} s in all",
        )
    for line in result.notes:
        recorder.note(Direction.NOTE, line)
    accepted = [v.label for v in PROTOCOL_VERSIONS if result.versions.get(v)]
    recorder.note(
        Direction.NOTE,
        f"TLS enumeration: {', '.join(accepted) or 'nothing accepted'}; "
        f"{sum(len(s) for s in result.suites.values())} suite(s), "
        f"{result.connections} connection(s)",
    )
