"""Enumerate the protocol versions, cipher suites and groups a TLS server accepts.

The algorithm is I/O-free: the caller injects a :data:`HelloExchange`, an async-generator
function that opens a *fresh* connection (already past any STARTTLS dialogue), sends the given
hello bytes and yields whatever the server sends back until EOF. Closing the generator (which this
module always does, also on timeout) must close the connection. For example::

    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        reader, writer = await open_and_starttls(...)      # raise ConnectRefused & co. on failure
        try:
            writer.write(hello)
            await writer.drain()
            while data := await reader.read(65536):
                yield data
        finally:
            writer.close()

Errors the exchange raises must be :class:`mailtls.errors.NetworkError` subclasses:
NameNotResolved/ConnectRefused/ConnectTimeout/Unreachable mean "could not test",
ConnectionClosed (e.g. a reset) counts as a refusal, ReadTimeout as no answer.
:class:`RateLimited` means the server turned the connection away before TLS (SMTP 421, IMAP BYE,
POP3 -ERR greeting, a refused or reset connection to a port that was open): the enumeration
backs off exponentially and retries a bounded number of times, slows down for the rest of the
scan, and gives up (stops connecting, reports "rate limited" in ``errors``) when the retries
or the ``deadline`` run out.
:func:`exchange_from_callable` adapts the simpler ``bytes -> Awaitable[bytes | None]`` form.

Per version: offer every candidate suite (in chunks of at most ``max_suites_per_hello``), record
the one the server picks, drop it, repeat until the server refuses. Then offer the accepted suites
in two opposite orders to learn whether the server imposes its own order (and, if so, list them
in the server's order). TLS 1.3 groups are found the same way through HelloRetryRequests (empty
key_share), TLS <= 1.2 ECDHE curves through ServerKeyExchange.

Then at most two more hellos (``extra_probes``): one at the highest TLS 1.0-1.2 version accepted,
offering DEFLATE compression (CRIME, RFC 7457 §2.6) and status_request (OCSP stapling, RFC 6066
§8), whose ServerHello and CertificateStatus tell both; and, when the server accepts SSLv3, TLS
1.0 or 1.1 below its highest version, one at that lower version carrying TLS_FALLBACK_SCSV, which
a server that implements RFC 7507 refuses with an inappropriate_fallback alert (or any refusal:
it accepted that version and those suites without the SCSV).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, TypeGuard

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from mailtls.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    NameNotResolved,
    NetworkError,
    ProtocolError,
    ReadTimeout,
    Unreachable,
)
from mailtls.tls import suites as ciphersuites
from mailtls.tls.hello import (
    COMPRESSION_DEFLATE,
    DEFAULT_GROUPS,
    DEFAULT_TLS12_GROUPS,
    AlertResult,
    HelloParser,
    ServerHelloResult,
    client_hello,
    group_name,
    sslv2_client_hello,
)
from mailtls.tls.versions import PROTOCOL_VERSIONS, TLSVersion

__all__ = [
    "ALL_VERSIONS",
    "QUESTION_TALLY",
    "TLS12_GROUP_CANDIDATES",
    "TLS13_GROUP_CANDIDATES",
    "HelloExchange",
    "RateLimited",
    "TLSEnumeration",
    "enumerate_tls",
    "exchange_from_callable",
    "fallback_version",
]

HelloExchange = Callable[[bytes], AsyncIterator[bytes]]


#: A debug counter: when set (benchmarks/connections.py), every connection of the enumeration
#: adds one to the question it answers ("TLS 1.2 suites", "TLS 1.3 groups", ...).
QUESTION_TALLY: ContextVar[Counter[str] | None] = ContextVar("mailtls_question_tally",
                                                            default=None)


class RateLimited(NetworkError):
    """The server turned a connection away before any TLS was spoken (an SMTP 421 greeting,
    IMAP BYE, POP3 -ERR, a reset during the STARTTLS dialogue, a refused connection to a port
    that answered before): says nothing about TLS; back off and retry."""


ALL_VERSIONS: tuple[TLSVersion, ...] = PROTOCOL_VERSIONS
#: Groups probed for TLS 1.3 (no key share is needed for them: the server answers with an HRR).
TLS13_GROUP_CANDIDATES: tuple[int, ...] = (
    *DEFAULT_GROUPS,
    0x001F, 0x0020, 0x0021,  # brainpool (TLS 1.3 code points)
    0x11EC, 0x11EB, 0x11ED, 0x6399,  # ML-KEM hybrids, pre-standard Kyber
)  # fmt: skip
#: Curves probed for ECDHE in TLS <= 1.2.
TLS12_GROUP_CANDIDATES: tuple[int, ...] = DEFAULT_TLS12_GROUPS


@dataclass(frozen=True)
class TLSEnumeration:
    """What the server accepted.

    ``versions``: True/False, None = could not be tested (no connection, or no answer at all).
    ``suites``: accepted suites per version (SSLv2: 3-byte cipher kinds), in the server's order
    when ``server_order[v]`` is True, else in the order they were found.
    ``server_order``: True = the server imposes its preference, False = it follows the client,
    None = unknown (fewer than two suites, or inconsistent answers).
    ``groups``: TLS 1.3 groups (server preference order). ``ecdhe_groups``: TLS <= 1.2 ECDHE
    curves. ``dh_bits``: the smallest DHE prime seen. ``certificate_ders``: the first chain seen in
    a TLS <= 1.2 flight. ``secure_renegotiation``: RFC 5746 in a TLS <= 1.2 ServerHello.
    ``connections``: connections opened. ``errors``: what went wrong on the way.
    ``rate_limited``: connections the server turned away (:class:`RateLimited`), retried or not;
    ``backoff_seconds``: time spent waiting because of them.
    ``compression``: the server chose DEFLATE when offered. ``ocsp_stapling``: it stapled an OCSP
    response (CertificateStatus) to a TLS <= 1.2 flight that asked for one; ``ocsp_response``:
    that response. ``fallback_scsv``: it refused a hello at :func:`fallback_version` carrying
    TLS_FALLBACK_SCSV (an alert, normally inappropriate_fallback, or a hang-up; False: it
    accepted the fallback). Each is None when it was not tested (no TLS 1.0-1.2; no version to
    fall back to; the scan was stopped) or the answer was unclear.
    ``notes``: one line per extra probe, what was offered and what came back.
    """

    versions: dict[TLSVersion, bool | None]
    suites: dict[TLSVersion, tuple[int, ...]]
    server_order: dict[TLSVersion, bool | None]
    groups: tuple[int, ...]
    ecdhe_groups: tuple[int, ...]
    dh_bits: int | None
    certificate_ders: tuple[bytes, ...]
    secure_renegotiation: bool | None
    connections: int
    errors: tuple[str, ...]
    rate_limited: int = 0
    backoff_seconds: float = 0.0
    compression: bool | None = None
    ocsp_stapling: bool | None = None
    ocsp_response: bytes | None = None
    fallback_scsv: bool | None = None
    notes: tuple[str, ...] = ()

    @property
    def accepted_versions(self) -> tuple[TLSVersion, ...]:
        return tuple(v for v, ok in self.versions.items() if ok)

    def suite_names(self, version: TLSVersion) -> tuple[str, ...]:
        names = ciphersuites.ssl2_name if version == TLSVersion.SSL2 else ciphersuites.suite_name
        return tuple(names(code) for code in self.suites.get(version, ()))


@dataclass(frozen=True)
class _Failure:
    kind: Literal["closed", "timeout", "protocol", "connect", "limited"]
    detail: str


_Outcome = ServerHelloResult | AlertResult | _Failure


def _limited(outcome: _Outcome) -> TypeGuard[_Failure]:
    return isinstance(outcome, _Failure) and outcome.kind == "limited"


def exchange_from_callable(fn: Callable[[bytes], Awaitable[bytes | None]]) -> HelloExchange:
    """Adapt ``fn(hello) -> first bytes of the answer, or None when no connection``."""

    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        data = await fn(hello)
        if data is None:
            raise ConnectRefused("connection failed")
        if data:
            yield data

    return exchange


#: Versions whose ServerKeyExchange names an ECDHE curve (an int set: a server may answer with
#: any 16-bit version, which is no TLSVersion).
_CURVE_VERSIONS = frozenset(int(v) for v in (TLSVersion.SSL3, TLSVersion.TLS1_0, TLSVersion.TLS1_1,
                                             TLSVersion.TLS1_2))


@dataclass
class _State:
    exchange: HelloExchange
    server_name: str | None
    timeout: float
    deadline: float | None = None  # time.monotonic(): no connection is started after it
    retries: int = 3  # per connection the server turned away
    backoff: float = 1.0  # first wait after a RateLimited; doubles with every retry
    pause: float = 0.0  # wait between connections (--slow; raised after rate limiting)
    connections: int = 0
    errors: list[str] = field(default_factory=list)
    dh_bits: int | None = None
    certificate_ders: tuple[bytes, ...] = ()
    secure_renegotiation: bool | None = None
    rate_limited: int = 0
    backoff_seconds: float = 0.0
    stopped: str | None = None  # why no more connections are made (gave up, deadline)
    admitted: int = 0  # connections the server let in since it last turned one away
    # Independent questions side by side; after the first connection the server turned away,
    # one connection at a time again (the rate limit is the server's word on concurrency).
    parallel: bool = False
    serial: asyncio.Lock = field(default_factory=asyncio.Lock)
    mark_connected: bool = False  # the exchange yields b"" once its connection is up
    # Groups (TLS 1.3, from HelloRetryRequests) and ECDHE curves (TLS <= 1.2, from
    # ServerKeyExchange) the server chose in any hello so far, per version, in the order seen.
    # Hellos of other questions offer the unseen ones first, so every answer can reveal one more
    # and the group questions start from what the suite hellos already showed.
    groups_seen: dict[TLSVersion, list[int]] = field(default_factory=dict)

    async def gather(self, *steps: Awaitable[object]) -> None:
        """Run ``steps`` side by side when parallel, else one after the other, in order."""
        if self.parallel:
            await asyncio.gather(*steps)
            return
        for step in steps:
            await step

    def _left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    async def probe(self, hello: bytes, *, want_flight: bool, question: str) -> _Outcome:
        """One exchange; a connection the server turns away is retried after a growing wait."""
        if not self.parallel:
            return await self._probe(hello, want_flight=want_flight, question=question)
        first: _Outcome | None = None
        calm = not (self.rate_limited or self.pause > 0)
        if calm and self.stopped is None and self._left() > 0:
            first = await self._probe_once(hello, want_flight=want_flight, question=question)
            if not _limited(first):
                self.admitted += 1
                return first
        # Turned away (now or before): one connection at a time from here on, retries included
        async with self.serial:
            return await self._probe(hello, want_flight=want_flight, question=question,
                                     first=first)

    async def _probe(
        self, hello: bytes, *, want_flight: bool, question: str, first: _Outcome | None = None
    ) -> _Outcome:
        delay = self.backoff
        attempts = 0
        while True:
            if self.stopped is None and self._left() <= 0:
                self.stopped = "the scan deadline was reached"
                self.errors.append(f"stopped early: {self.stopped}")
            if first is not None:
                # Turned away side by side with others: counted, then tried again in line
                # (the first in line backs off; by the time the others' turn comes, the
                # server may have let us in again, and they only keep the pause).
                self.rate_limited += 1
                first = None
                continue
            if self.stopped is not None:
                return _Failure("connect", f"not tried: {self.stopped}")
            if self.pause > 0 and self.connections:
                await asyncio.sleep(min(self.pause, max(0.0, self._left())))
            outcome = await self._probe_once(hello, want_flight=want_flight, question=question)
            if not _limited(outcome):
                if attempts:
                    # The server let us in again. It admitted ``admitted`` connections, then
                    # made us wait ``waited``: spread that wait over as many connections from
                    # now on (and more, if it keeps limiting), to stay below its limit.
                    waited = delay - self.backoff
                    self.pause = min(2.0, max(self.pause * 1.5, waited / max(1, self.admitted)))
                    self.admitted = 0
                self.admitted += 1
                return outcome
            self.rate_limited += 1
            attempts += 1
            if attempts > self.retries or delay >= self._left():
                self.stopped = (
                    f"rate limited: {outcome.detail} (gave up after {attempts} refused "
                    f"connection(s) in a row, {self.backoff_seconds:.1f} s of back-off in all)"
                )
                self.errors.append(self.stopped)
                return _Failure("connect", outcome.detail)
            await asyncio.sleep(delay)
            self.backoff_seconds += delay
            delay *= 2

    async def _probe_once(self, hello: bytes, *, want_flight: bool, question: str) -> _Outcome:
        self.connections += 1
        tally = QUESTION_TALLY.get()
        if tally is not None:
            tally[question] += 1
        parser = HelloParser(want_flight=want_flight)
        chunks = self.exchange(hello)
        timeout = max(0.1, min(self.timeout, self._left()))
        loop = asyncio.get_running_loop()
        # An exchange that yields b"" once connected (``mark_connected``) starts the clock
        # there: waiting for a slot of the connection budget is not the server's slowness.
        # Until then only the deadline bounds the wait.
        if not self.mark_connected:
            until: float | None = loop.time() + timeout
        else:
            until = None if self.deadline is None else loop.time() + max(0.1, self._left())
        try:
            async with asyncio.timeout_at(until) as clock:
                try:
                    async for data in chunks:
                        if not data:  # connected: from now on the server has ``timeout``
                            clock.reschedule(loop.time() + timeout)
                            continue
                        result = parser.receive_data(data)
                        if result is not None:
                            return self._note(result)
                finally:
                    aclose = getattr(chunks, "aclose", None)
                    if aclose is not None:
                        await aclose()
            result = parser.receive_eof()
            return self._note(result) if result is not None else _Failure("closed", "no answer")
        except TimeoutError:
            partial = parser.receive_eof()
            if partial is not None:
                return self._note(partial)
            return _Failure("timeout", f"no answer within {timeout:g} s")
        except RateLimited as exc:
            return _Failure("limited", str(exc) or "the server turned the connection away")
        except ReadTimeout as exc:
            return _Failure("timeout", str(exc) or "read timeout")
        except (NameNotResolved, ConnectRefused, ConnectTimeout, Unreachable) as exc:
            return _Failure("connect", f"{type(exc).__name__}: {exc}")
        except ConnectionClosed:
            partial = parser.receive_eof()
            return self._note(partial) if partial is not None else _Failure("closed", "reset")
        except NetworkError as exc:
            return _Failure("closed", f"{type(exc).__name__}: {exc}")
        except ProtocolError as exc:
            return _Failure("protocol", str(exc))

    def _note(self, result: ServerHelloResult | AlertResult) -> ServerHelloResult | AlertResult:
        if isinstance(result, ServerHelloResult):
            if result.tls13:
                self._seen(TLSVersion.TLS1_3, result.selected_group)
            elif result.version in _CURVE_VERSIONS:  # not a made-up version from the server
                self._seen(TLSVersion(result.version), result.server_key_exchange_curve)
        if isinstance(result, ServerHelloResult) and result.version <= TLSVersion.TLS1_2:
            if result.version != TLSVersion.SSL2:
                self.secure_renegotiation = bool(self.secure_renegotiation) or (
                    result.secure_renegotiation
                )
            if result.certificate_ders and not self.certificate_ders:
                self.certificate_ders = result.certificate_ders
            bits = result.server_key_exchange_dh_bits
            if bits is not None and (self.dh_bits is None or bits < self.dh_bits):
                self.dh_bits = bits
        return result

    def _seen(self, version: TLSVersion, group: int | None) -> None:
        seen = self.groups_seen.setdefault(version, [])
        if group is not None and group not in seen:
            seen.append(group)

    def seen_groups(self, version: TLSVersion, candidates: Sequence[int]) -> list[int]:
        """The ``candidates`` the server chose at ``version`` so far, in the order seen."""
        return [g for g in self.groups_seen.get(version, ()) if g in candidates]

    def _unseen_first(self, version: TLSVersion, groups: Sequence[int]) -> tuple[int, ...]:
        # The same set, so the question the hello asks gets the same answer (RFC 8422 §5.1: an
        # ECDSA certificate's curve stays offered); only the order moves, which a server that
        # follows the client's preference reads (RFC 8446 §4.2.7, RFC 8422 §5.1.1).
        seen = self.groups_seen.get(version, ())
        return (*(g for g in groups if g not in seen), *(g for g in seen if g in groups))

    def hello(
        self,
        version: TLSVersion,
        suites: Sequence[int],
        *,
        groups: Sequence[int] | None = None,
        key_shares: Sequence[int] = (),
        compression_methods: Sequence[int] = (0,),
        status_request: bool = False,
    ) -> bytes:
        if version == TLSVersion.TLS1_3 and groups is None:
            if key_shares:
                groups = tuple(dict.fromkeys((*key_shares, *DEFAULT_GROUPS)))
            else:
                groups = self._unseen_first(version, DEFAULT_GROUPS)
        elif groups is None and TLSVersion.TLS1_0 <= version <= TLSVersion.TLS1_2:
            groups = self._unseen_first(version, DEFAULT_TLS12_GROUPS)
        return client_hello(
            version,
            suites,
            server_name=self.server_name,
            groups=groups,
            key_share_groups=key_shares,
            compression_methods=compression_methods,
            status_request=status_request,
        )


def _matches(result: ServerHelloResult, version: TLSVersion) -> bool:
    if version == TLSVersion.TLS1_3:
        return result.tls13
    return result.version == version


@dataclass
class _VersionScan:
    accepted: list[int] = field(default_factory=list)
    supported: bool | None = None
    chunks_with_hits: int = 0
    candidates: Sequence[int] = ()  # in the order offered (the client's preference)
    # The server answered a hello of this version with a ServerHello of another one (it chose
    # a lower version: the refusal says nothing about the versions below)
    other_version: bool = False


@dataclass
class _Chunk:
    """One chunk's discovery: accepted suites in the order found, and how it ended."""

    accepted: list[int] = field(default_factory=list)
    answered: bool = False  # the server answered something (a refusal is an answer)
    incomplete: bool = False  # the chunk's first hello went unanswered
    untestable: bool = False  # nothing answered at all: no connection, silence, garbage
    unsupported: bool = False  # the first hello was refused for its version
    other_version: bool = False  # ... by a ServerHello of another version


def _key_shares(version: TLSVersion) -> tuple[int, ...]:
    """TLS 1.3 hellos carry no key share: the server answers with a HelloRetryRequest, which
    names the suite (and group) it picked just as a ServerHello would, and costs it no key
    exchange, no signature and no certificate (RFC 8446 §4.1.4)."""
    return ()


async def _scan_chunk(
    st: _State, version: TLSVersion, pool: list[int], first_result: _Outcome | None = None
) -> _Chunk:
    chunk = _Chunk()
    first = True
    while pool:
        if first and first_result is not None:
            res = first_result
        else:
            res = await st.probe(st.hello(version, pool, key_shares=_key_shares(version)),
                                 want_flight=True, question=f"{version.label} suites")
        if isinstance(res, _Failure):
            if res.kind == "closed":  # a hang-up is an answer: "not with these suites"
                chunk.answered = True
                break
            if st.stopped is None:  # else the reason is on record once
                st.errors.append(f"{version.label}: {res.kind}: {res.detail}")
            if first:
                chunk.incomplete = True
                chunk.untestable = not chunk.answered
            break
        chunk.answered = True
        if isinstance(res, AlertResult):
            if first and res.name == "protocol_version":
                chunk.unsupported = True
            break
        if not _matches(res, version):
            if first:  # the server negotiated another version: it does not do this one
                chunk.unsupported = chunk.other_version = True
                break
            st.errors.append(f"{version.label}: version changed to 0x{res.version:04X}")
            break
        if res.cipher not in pool:
            st.errors.append(
                f"{version.label}: server chose {res.cipher_name}, which was not offered"
            )
            break
        chunk.accepted.append(res.cipher)
        pool.remove(res.cipher)
        first = False
    return chunk


async def _scan_version(
    st: _State, version: TLSVersion, candidates: Sequence[int], chunk_size: int
) -> _VersionScan:
    """Every suite of ``candidates`` the server accepts at ``version``.

    The first hello goes alone: a version the server does not speak costs one hello. When it
    does, the other chunks of candidates are worked through at the same time as the first."""
    scan = _VersionScan(candidates=tuple(candidates))
    if version == TLSVersion.SSL3:  # client_hello() adds the renegotiation SCSV there
        chunk_size = max(1, chunk_size - 1)
    pools = [list(candidates[i : i + chunk_size]) for i in range(0, len(candidates), chunk_size)]
    if not pools:
        return scan
    opening = await st.probe(st.hello(version, pools[0], key_shares=_key_shares(version)),
                             want_flight=True, question=f"{version.label} version")
    head = await _scan_chunk(st, version, pools[0], opening)
    if head.untestable:
        return scan  # no connection, silence or garbage: this version is untestable
    if head.unsupported:
        scan.supported, scan.other_version = False, head.other_version
        return scan
    chunks = [head, *(_Chunk() for _ in pools[1:])]

    async def rest(index: int) -> None:
        chunks[index] = await _scan_chunk(st, version, pools[index])

    await st.gather(*(rest(i) for i in range(1, len(pools))))
    answered = any(c.answered for c in chunks)
    incomplete = any(c.incomplete for c in chunks)
    for chunk in chunks:
        scan.accepted.extend(chunk.accepted)
        if chunk.accepted:
            scan.chunks_with_hits += 1
    scan.other_version = any(c.other_version for c in chunks)
    if scan.accepted:
        scan.supported = True
    elif any(c.unsupported for c in chunks):
        scan.supported = False
    else:
        scan.supported = None if incomplete or not answered else False
    return scan


async def _choice(st: _State, version: TLSVersion, suites: Sequence[int]) -> int | None:
    res = await st.probe(st.hello(version, suites, key_shares=_key_shares(version)),
                         want_flight=False, question=f"{version.label} order")
    if isinstance(res, ServerHelloResult) and _matches(res, version) and res.cipher in suites:
        return res.cipher
    return None


async def _server_order(
    st: _State, version: TLSVersion, scan: _VersionScan
) -> tuple[bool | None, tuple[int, ...]]:
    found = scan.accepted
    if len(found) < 2:
        return None, tuple(found)
    if scan.chunks_with_hits <= 1:
        # Every discovery hello offered what was left of one chunk, in our order. A server that
        # followed our order picked the accepted suites in our order; one that picked them in
        # another order follows its own, and the discovery already listed them in that order.
        rank = {code: index for index, code in enumerate(scan.candidates)}
        if found != sorted(found, key=lambda code: rank.get(code, len(rank))):
            return True, tuple(found)
        # Found in our order: one hello with them reversed tells the two apart.
        backward = await _choice(st, version, found[::-1])
        if backward == found[-1]:
            return False, tuple(found)
        if backward == found[0]:
            return True, tuple(found)
        if st.stopped is None:
            st.errors.append(f"{version.label}: no stable answer while testing the suite order")
        return None, tuple(found)
    forward = await _choice(st, version, found)
    backward = await _choice(st, version, found[::-1])
    if forward is None or backward is None:
        if st.stopped is None:
            st.errors.append(f"{version.label}: no stable answer while testing the suite order")
        return None, tuple(found)
    if forward == backward:
        ordered = [forward]
        pool = [s for s in found if s != forward]
        while len(pool) > 1:
            pick = await _choice(st, version, pool)
            if pick is None:
                if st.stopped is None:
                    st.errors.append(f"{version.label}: suite order incomplete")
                return True, tuple(ordered + pool)
            ordered.append(pick)
            pool.remove(pick)
        return True, tuple(ordered + pool)
    if forward == found[0] and backward == found[-1]:
        return False, tuple(found)
    return None, tuple(found)


async def _tls13_groups(st: _State, suites: Sequence[int], candidates: Sequence[int]) -> list[int]:
    # The suite hellos' HelloRetryRequests already named some (each offered the unseen first)
    found = st.seen_groups(TLSVersion.TLS1_3, candidates)
    pool = [g for g in candidates if g not in found]
    while pool:
        hello = st.hello(TLSVersion.TLS1_3, suites, groups=pool, key_shares=())
        res = await st.probe(hello, want_flight=False, question="TLS 1.3 groups")
        if not isinstance(res, ServerHelloResult) or not res.tls13:
            break
        if res.selected_group is None or res.selected_group not in pool:
            if res.selected_group is not None:
                st.errors.append(
                    f"TLS 1.3: server chose group {group_name(res.selected_group)}, not offered"
                )
            break
        found.append(res.selected_group)
        pool.remove(res.selected_group)
    return found


async def _ecdhe_groups(
    st: _State, version: TLSVersion, suites: Sequence[int], candidates: Sequence[int]
) -> list[int]:
    """ECDHE curves, found by dropping each chosen one from the offer.

    An ECDSA certificate's own curve must stay in supported_groups (RFC 8422 §5.1: else the
    server cannot use the certificate and refuses): once it is found it is offered last, after
    the remaining candidates, so a server that follows the client's preference still reveals
    the rest (one that imposes its own, and ranks the certificate's curve higher, does not).
    """
    # The suite hellos' ServerKeyExchanges already named some (each offered the unseen first)
    found = st.seen_groups(version, candidates)
    pool = [g for g in candidates if g not in found]
    keep = _certificate_curve(st.certificate_ders)
    while pool:
        offer = [*pool, keep] if keep is not None and keep in found else pool
        res = await st.probe(st.hello(version, suites, groups=offer), want_flight=True,
                             question=f"{version.label} ECDHE curves")
        if not isinstance(res, ServerHelloResult) or res.version != version:
            break
        curve = res.server_key_exchange_curve
        if curve is None or curve not in pool:
            if curve is not None and curve != keep:
                st.errors.append(f"{version.label}: server chose curve {group_name(curve)}")
            break
        found.append(curve)
        pool.remove(curve)
    return found


_KX_RANK = {"ECDHE": 0, "RSA": 1, "DHE": 2}
_MAC_RANK = {"AEAD": 0, "SHA256": 1, "SHA384": 1, "SHA1": 2}


def _likeliest_first(codes: Sequence[int]) -> list[int]:
    """``codes`` with the suites servers usually accept first: ECDHE, then RSA, then DHE key
    exchange, signed (not anonymous), AEAD before CBC with SHA-2 before SHA-1; the rest after,
    each group in the given order."""

    def rank(item: tuple[int, int]) -> tuple[int, int, int, int]:
        index, code = item
        suite = ciphersuites.describe(code)
        kx = _KX_RANK.get(suite.kx, len(_KX_RANK))
        anonymous = int(suite.auth in ("anon", "NULL"))
        return anonymous, kx, _MAC_RANK.get(suite.mac, len(_MAC_RANK)), index

    return [code for _index, code in sorted(enumerate(codes), key=rank)]


_CURVE_CODES = {"secp256r1": 0x0017, "secp384r1": 0x0018, "secp521r1": 0x0019,
                "brainpoolP256r1": 0x001A, "brainpoolP384r1": 0x001B, "brainpoolP512r1": 0x001C,
                "secp256k1": 0x0016, "secp224r1": 0x0015, "secp192r1": 0x0013}  # fmt: skip


def _certificate_curve(ders: Sequence[bytes]) -> int | None:
    """The TLS group code of the leaf's EC key, if the leaf has one."""
    if not ders:
        return None
    try:
        key = x509.load_der_x509_certificate(ders[0]).public_key()
    except ValueError:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _CURVE_CODES.get(key.curve.name)
    return None


async def _scan_sslv2(st: _State, kinds: Sequence[int]) -> tuple[bool | None, tuple[int, ...]]:
    res = await st.probe(sslv2_client_hello(kinds), want_flight=False, question="SSLv2 version")
    if isinstance(res, ServerHelloResult):
        if res.version == TLSVersion.SSL2:
            accepted = tuple(k for k in res.sslv2_cipher_kinds if k in kinds)
            return bool(accepted), accepted
        return False, ()
    if isinstance(res, _Failure):
        if res.kind == "connect":
            if st.stopped is None:  # else the reason is on record once
                st.errors.append(f"SSLv2: {res.detail}")
            return None, ()
        if res.kind != "closed":  # silence or garbage: untestable
            st.errors.append(f"SSLv2: {res.kind}: {res.detail}")
            return None, ()
    return False, ()


#: Versions a fallback to which is a downgrade worth guarding against. A fallback from TLS 1.3 to
#: 1.2 needs no SCSV (the ServerHello.random sentinel, RFC 8446 §4.1.3, catches it), and with
#: SSLv3, TLS 1.0 and 1.1 gone (RFC 8996) there is nothing left to fall back to.
_FALLBACK_VERSIONS = (TLSVersion.SSL3, TLSVersion.TLS1_0, TLSVersion.TLS1_1)


def fallback_version(accepted: Iterable[TLSVersion]) -> TLSVersion | None:
    """The version of the TLS_FALLBACK_SCSV probe: the highest of SSLv3, TLS 1.0 and 1.1 that
    the server accepts below its highest version; None when there is none (not applicable)."""
    found = sorted({TLSVersion(v) for v in accepted if v != TLSVersion.SSL2})
    below = [v for v in found[:-1] if v in _FALLBACK_VERSIONS]
    return below[-1] if below else None


def _said(res: _Outcome) -> str:
    if isinstance(res, AlertResult):
        return f"{res.name} alert"
    if isinstance(res, ServerHelloResult):
        known = res.version in {v.value for v in PROTOCOL_VERSIONS}
        label = TLSVersion(res.version).label if known else f"0x{res.version:04X}"
        return f"ServerHello {label} {res.cipher_name}"
    return f"{res.kind}: {res.detail}"


@dataclass
class _Extras:
    compression: bool | None = None
    ocsp_stapling: bool | None = None
    ocsp_response: bytes | None = None
    fallback_scsv: bool | None = None
    notes: list[str] = field(default_factory=list)


async def _extra_probes(
    st: _State, versions: dict[TLSVersion, bool | None], suites: dict[TLSVersion, tuple[int, ...]]
) -> _Extras:
    out = _Extras()
    if st.stopped is not None:  # rate limited or out of time: the reason is on record
        return out
    legacy = [v for v in (TLSVersion.TLS1_2, TLSVersion.TLS1_1, TLSVersion.TLS1_0)
              if versions.get(v) and suites.get(v)]
    notes: dict[str, str] = {}

    async def compression_and_stapling(v: TLSVersion) -> None:
        hello = st.hello(v, suites[v], compression_methods=(COMPRESSION_DEFLATE, 0),
                         status_request=True)
        res = await st.probe(hello, want_flight=True, question="compression and OCSP")
        offer = f"{v.label} hello offering DEFLATE compression and status_request"
        if isinstance(res, ServerHelloResult) and res.version == v:
            out.compression = res.compression != 0
            method = {0: "null", COMPRESSION_DEFLATE: "DEFLATE"}.get(
                res.compression, f"method {res.compression}")
            if res.ocsp_response is not None:
                out.ocsp_stapling, out.ocsp_response = True, res.ocsp_response
                stapled = f"OCSP response stapled ({len(res.ocsp_response)} bytes)"
            elif not res.status_request:
                out.ocsp_stapling, stapled = False, "no status_request in the ServerHello"
            elif res.complete:
                out.ocsp_stapling = False
                stapled = "status_request acknowledged, but no CertificateStatus followed"
            else:
                stapled = "status_request acknowledged, the flight was cut short"
            notes["compression"] = f"{offer}: compression {method}; {stapled}"
        else:
            notes["compression"] = f"{offer}: {_said(res)} (compression and stapling unknown)"

    async def fallback_scsv(fallback: TLSVersion) -> None:
        hello = st.hello(fallback, [*suites[fallback], ciphersuites.TLS_FALLBACK_SCSV])
        res = await st.probe(hello, want_flight=False, question="fallback SCSV")
        said = _said(res)
        # The server accepted this very version and these suites a moment ago: a refusal now is
        # the SCSV's doing. RFC 7507 asks for inappropriate_fallback; some servers (Dovecot)
        # hang up without a word, which refuses the fallback just as well.
        if isinstance(res, AlertResult):
            out.fallback_scsv = True
        elif isinstance(res, _Failure) and res.kind == "closed":
            out.fallback_scsv, said = True, f"the server hung up ({res.detail})"
        elif isinstance(res, ServerHelloResult) and res.version == fallback:
            out.fallback_scsv = False
        notes["fallback"] = f"{fallback.label} hello with TLS_FALLBACK_SCSV: {said}"

    questions = [compression_and_stapling(legacy[0])] if legacy else []
    fallback = fallback_version(v for v, ok in versions.items() if ok)
    if fallback is not None and suites.get(fallback):
        questions.append(fallback_scsv(fallback))
    await st.gather(*questions)  # two independent hellos
    out.notes.extend(notes[k] for k in ("compression", "fallback") if k in notes)
    return out


async def enumerate_tls(  # noqa: C901 (a split is still to do: issue 15)
    exchange: HelloExchange,
    *,
    server_name: str | None,
    versions: Sequence[TLSVersion] = ALL_VERSIONS,
    timeout: float = 10.0,
    max_suites_per_hello: int = 128,
    legacy_suites: Sequence[int] | None = None,
    tls13_suites: Sequence[int] | None = None,
    tls13_groups: Sequence[int] = TLS13_GROUP_CANDIDATES,
    ecdhe_groups: Sequence[int] = TLS12_GROUP_CANDIDATES,
    probe_groups: bool = True,
    deadline: float | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    pause: float = 0.0,
    extra_probes: bool = True,
    parallel: bool = False,
    mark_connected: bool = False,
    known_version: TLSVersion | None = None,
) -> TLSEnumeration:
    """Find every version, suite and group the server behind ``exchange`` accepts.

    ``legacy_suites`` / ``tls13_suites`` default to every suite in
    :mod:`mailtls.tls.suites`. ``timeout`` bounds each connection. Connections are made one
    after the other (mail servers rate-limit), ``pause`` seconds apart. A connection the server
    turns away (:class:`RateLimited`) is retried up to ``retries`` times after ``backoff``,
    2 x ``backoff``, ... seconds; after a retry succeeded the pause grows so the rest of the scan
    stays below the server's limit. No connection is started after ``deadline``
    (``time.monotonic()``): what was found by then is returned, the rest is untested (None).
    ``extra_probes``: the compression/stapling and fallback hellos (at most two connections).
    ``parallel``: independent questions side by side (TLS 1.3 next to the older versions, the
    versions next to each other, chunks of suites once the version is known to be spoken,
    the two extra hellos); the caller bounds the connections at once (``mailtls.net.budget``).
    After the first connection the server turns away, one connection at a time again.
    ``mark_connected``: the exchange yields ``b""`` once its connection is up (and a STARTTLS
    dialogue done); ``timeout`` then counts from there, not from the wait for a connection
    slot (only the ``deadline`` bounds that).
    ``known_version``: a version the server was seen to negotiate (the caller's own handshake).
    When it is TLS 1.2 or later, a TLS 1.1 hello is below the server's highest version, so the
    server answers it with the highest version it has that is not above 1.1 (RFC 5246
    Appendix E.1, RFC 8446 Appendix D.2); when it refuses the TLS 1.1 hellos with every suite,
    SSLv3 and TLS 1.0 are refused too and get no hellos of their own.
    """
    if max_suites_per_hello < 1:
        raise ValueError("max_suites_per_hello must be positive")
    if retries < 0 or backoff < 0 or pause < 0:
        raise ValueError("retries, backoff and pause must not be negative")
    st = _State(
        exchange=exchange,
        server_name=server_name,
        timeout=timeout,
        deadline=deadline,
        retries=retries,
        backoff=backoff,
        pause=pause,
        parallel=parallel,
        mark_connected=mark_connected,
    )
    legacy = list(
        legacy_suites if legacy_suites is not None else (s.code for s in ciphersuites.LEGACY_SUITES)
    )
    modern = list(
        tls13_suites if tls13_suites is not None else (s.code for s in ciphersuites.TLS13_SUITES)
    )
    # Offered likeliest first, so a usual server's suites share the first chunk (one
    # discovery run, and their order told by at most one more hello); reported in the
    # caller's order when the server follows the client's.
    legacy_offer = _likeliest_first(legacy)
    legacy_rank = {code: index for index, code in enumerate(legacy)}
    inferred: list[str] = []
    result_versions: dict[TLSVersion, bool | None] = {}
    result_suites: dict[TLSVersion, tuple[int, ...]] = {}
    result_order: dict[TLSVersion, bool | None] = {}
    groups13: list[int] = []
    groups12: list[int] = []

    async def one_version(version: TLSVersion) -> _VersionScan | None:
        if version == TLSVersion.SSL2:
            kinds = [k.code for k in ciphersuites.SSL2_CIPHER_KINDS]
            ok, accepted = await _scan_sslv2(st, kinds)
            result_versions[version], result_suites[version] = ok, accepted
            result_order[version] = None
            return None
        candidates = modern if version == TLSVersion.TLS1_3 else legacy_offer
        scan = await _scan_version(st, version, candidates, max_suites_per_hello)
        result_versions[version] = scan.supported
        order, suites = await _server_order(st, version, scan)
        if version != TLSVersion.TLS1_3 and order is not True:
            suites = tuple(sorted(suites, key=lambda code: legacy_rank.get(code, len(legacy))))
        result_suites[version] = suites
        result_order[version] = order
        if version == TLSVersion.TLS1_3 and scan.accepted and probe_groups:
            groups13.extend(await _tls13_groups(st, suites, tls13_groups))
        return scan

    below = [v for v in (TLSVersion.SSL3, TLSVersion.TLS1_0) if v in versions]
    infer = (known_version is not None and known_version >= TLSVersion.TLS1_2
             and TLSVersion.TLS1_1 in versions and bool(below))

    async def tls11_then_below() -> None:
        scan = await one_version(TLSVersion.TLS1_1)
        if scan is not None and scan.supported is False and not scan.other_version:
            # Refused with every suite, and not by choosing a lower version: a server that
            # speaks TLS 1.2 and accepted SSLv3 or TLS 1.0 would have answered with it.
            for version in below:
                result_versions[version], result_suites[version] = False, ()
                result_order[version] = None
            labels = " and ".join(v.label for v in below)
            inferred.append(f"{labels}: refused, as the TLS 1.1 hellos were (a server that "
                            "speaks TLS 1.2 answers a TLS 1.1 hello with the highest version it "
                            "has below it, RFC 5246 Appendix E.1)")
            return
        await st.gather(*(one_version(v) for v in below))

    async def legacy_versions() -> None:
        if infer:
            skip = {TLSVersion.TLS1_3, TLSVersion.TLS1_1, *below}
            await st.gather(tls11_then_below(), *(one_version(v) for v in wanted if v not in skip))
        else:
            await st.gather(*(one_version(v) for v in wanted if v != TLSVersion.TLS1_3))
        if not st.parallel and TLSVersion.TLS1_3 in wanted:
            await one_version(TLSVersion.TLS1_3)  # one at a time: in version order, as ever
        if not probe_groups:
            return
        for version in sorted(result_suites, reverse=True):
            if version in (TLSVersion.SSL2, TLSVersion.TLS1_3):
                continue
            ecdhe = [
                s
                for s in result_suites[version]
                if ciphersuites.describe(s).kx in ("ECDHE", "ECDHE_PSK")
            ]
            if ecdhe:
                groups12.extend(await _ecdhe_groups(st, version, ecdhe, ecdhe_groups))
                break

    # Independent questions side by side (each connection still waits for its slot of the
    # caller's connection budget): TLS 1.3 (suites, order, groups: the longest chain) next to
    # the older versions, whose ECDHE curves follow their suites.
    wanted = sorted(set(versions))
    if st.parallel and TLSVersion.TLS1_3 in wanted:
        await asyncio.gather(one_version(TLSVersion.TLS1_3), legacy_versions())
    else:
        await legacy_versions()
    # The report lists versions in order, however the answers arrived.
    result_versions = {v: result_versions[v] for v in wanted if v in result_versions}
    result_suites = {v: result_suites[v] for v in wanted if v in result_suites}
    result_order = {v: result_order[v] for v in wanted if v in result_order}

    extras = await _extra_probes(st, result_versions, result_suites) if extra_probes else _Extras()
    return TLSEnumeration(
        versions=result_versions,
        suites=result_suites,
        server_order=result_order,
        groups=tuple(groups13),
        ecdhe_groups=tuple(groups12),
        dh_bits=st.dh_bits,
        certificate_ders=st.certificate_ders,
        secure_renegotiation=st.secure_renegotiation,
        connections=st.connections,
        errors=tuple(st.errors),
        rate_limited=st.rate_limited,
        backoff_seconds=round(st.backoff_seconds, 3),
        compression=extras.compression,
        ocsp_stapling=extras.ocsp_stapling,
        ocsp_response=extras.ocsp_response,
        fallback_scsv=extras.fallback_scsv,
        notes=(*inferred, *extras.notes),
    )
