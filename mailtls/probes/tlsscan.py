"""Enumerate the protocol versions and cipher suites a port accepts, over its own way of
starting TLS (STARTTLS dialogue or implicit), with hand-built hellos (``mailtls.tlsenum``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from mailtls.errors import ConnectionClosed, ConnectRefused, MailTLSError, ReadTimeout
from mailtls.model import Direction, Endpoint, TLSMode, TLSScan
from mailtls.net.stream import Stream, open_stream
from mailtls.probes.mailport import ProbeOptions, adapter_for, sni_for
from mailtls.probes.session import Recorder
from mailtls.tlsenum import enumerate_tls
from mailtls.tlshello import Version, group_name

# Bytes of the server's first flight worth reading: a few certificates, never a stream.
MAX_FLIGHT = 1 << 17


async def _reach_tls(endpoint: Endpoint, options: ProbeOptions) -> Stream:
    """A fresh connection, brought to the point where the next bytes are a ClientHello."""
    stream = await open_stream(endpoint.address, endpoint.port, options.timeouts)
    if endpoint.service.tls_mode is TLSMode.IMPLICIT:
        return stream
    scratch = Recorder(endpoint)  # each enumeration connection's dialogue is not kept
    try:
        adapter = adapter_for(stream, endpoint, scratch)
        _greeting, ok = await adapter.greeting()
        if not ok:
            raise ConnectRefused("the server refused the session (rate limited?)")
        caps, _ = await adapter.capabilities()
        if not adapter.offers_starttls(caps or ()):
            raise ConnectRefused("STARTTLS is no longer offered")
        accepted, _ = await adapter.starttls()
        if not accepted:
            raise ConnectRefused("STARTTLS was refused")
        adapter.conv.take_leftovers()
    except MailTLSError as exc:
        await stream.close()
        if isinstance(exc, ConnectRefused):
            raise
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

    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        stream = await _reach_tls(endpoint, options)
        try:
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

    recorder.note(Direction.NOTE, "enumerating TLS versions and cipher suites")
    result = await enumerate_tls(
        exchange, server_name=sni_for(endpoint.host), timeout=options.timeouts.handshake
    )
    recorder.connections += result.connections
    recorder.tls_scan = TLSScan(
        versions={v.label: ok for v, ok in result.versions.items()},
        suites={v.label: result.suite_names(v) for v in result.suites},
        server_order={v.label: order for v, order in result.server_order.items()},
        groups=tuple(group_name(g) for g in result.groups),
        ecdhe_groups=tuple(group_name(g) for g in result.ecdhe_groups),
        dh_bits=result.dh_bits,
        secure_renegotiation=result.secure_renegotiation,
        connections=result.connections,
        seconds=round(time.monotonic() - started, 3),
        errors=result.errors,
    )
    accepted = [v.label for v in Version if result.versions.get(v)]
    recorder.note(
        Direction.NOTE,
        f"TLS enumeration: {', '.join(accepted) or 'nothing accepted'}; "
        f"{sum(len(s) for s in result.suites.values())} suite(s), "
        f"{result.connections} connection(s)",
    )
