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
:func:`exchange_from_callable` adapts the simpler ``bytes -> Awaitable[bytes | None]`` form.

Per version: offer every candidate suite (in chunks of at most ``max_suites_per_hello``), record
the one the server picks, drop it, repeat until the server refuses. Then offer the accepted suites
in two opposite orders to learn whether the server imposes its own order (and, if so, list them
in the server's order). TLS 1.3 groups are found the same way through HelloRetryRequests (empty
key_share), TLS <= 1.2 ECDHE curves through ServerKeyExchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from mailtls import ciphersuites
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
from mailtls.tlshello import (
    DEFAULT_GROUPS,
    DEFAULT_TLS12_GROUPS,
    AlertResult,
    HelloParser,
    ServerHelloResult,
    Version,
    client_hello,
    group_name,
    sslv2_client_hello,
)

__all__ = [
    "ALL_VERSIONS",
    "TLS12_GROUP_CANDIDATES",
    "TLS13_GROUP_CANDIDATES",
    "HelloExchange",
    "TLSEnumeration",
    "enumerate_tls",
    "exchange_from_callable",
]

HelloExchange = Callable[[bytes], AsyncIterator[bytes]]

ALL_VERSIONS: tuple[Version, ...] = (
    Version.SSL2,
    Version.SSL3,
    Version.TLS1_0,
    Version.TLS1_1,
    Version.TLS1_2,
    Version.TLS1_3,
)
#: Groups probed for TLS 1.3 (no key share is needed for them: the server answers with an HRR).
TLS13_GROUP_CANDIDATES: tuple[int, ...] = (
    *DEFAULT_GROUPS,
    0x001F, 0x0020, 0x0021,  # brainpool (TLS 1.3 code points)
    0x11EC, 0x11EB, 0x11ED, 0x6399,  # ML-KEM hybrids, pre-standard Kyber
)  # fmt: skip
#: Curves probed for ECDHE in TLS <= 1.2.
TLS12_GROUP_CANDIDATES: tuple[int, ...] = DEFAULT_TLS12_GROUPS
_TLS13_KEY_SHARES = (0x001D, 0x0017)


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
    """

    versions: dict[Version, bool | None]
    suites: dict[Version, tuple[int, ...]]
    server_order: dict[Version, bool | None]
    groups: tuple[int, ...]
    ecdhe_groups: tuple[int, ...]
    dh_bits: int | None
    certificate_ders: tuple[bytes, ...]
    secure_renegotiation: bool | None
    connections: int
    errors: tuple[str, ...]

    @property
    def accepted_versions(self) -> tuple[Version, ...]:
        return tuple(v for v, ok in self.versions.items() if ok)

    def suite_names(self, version: Version) -> tuple[str, ...]:
        names = ciphersuites.ssl2_name if version == Version.SSL2 else ciphersuites.suite_name
        return tuple(names(code) for code in self.suites.get(version, ()))


@dataclass(frozen=True)
class _Failure:
    kind: Literal["closed", "timeout", "protocol", "connect"]
    detail: str


_Outcome = ServerHelloResult | AlertResult | _Failure


def exchange_from_callable(fn: Callable[[bytes], Awaitable[bytes | None]]) -> HelloExchange:
    """Adapt ``fn(hello) -> first bytes of the answer, or None when no connection``."""

    async def exchange(hello: bytes) -> AsyncIterator[bytes]:
        data = await fn(hello)
        if data is None:
            raise ConnectRefused("connection failed")
        if data:
            yield data

    return exchange


@dataclass
class _State:
    exchange: HelloExchange
    server_name: str | None
    timeout: float
    connections: int = 0
    errors: list[str] = field(default_factory=list)
    dh_bits: int | None = None
    certificate_ders: tuple[bytes, ...] = ()
    secure_renegotiation: bool | None = None

    async def probe(self, hello: bytes, *, want_flight: bool) -> _Outcome:
        self.connections += 1
        parser = HelloParser(want_flight=want_flight)
        chunks = self.exchange(hello)
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    async for data in chunks:
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
            return _Failure("timeout", f"no answer within {self.timeout:g} s")
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
        if isinstance(result, ServerHelloResult) and result.version <= Version.TLS1_2:
            if result.version != Version.SSL2:
                self.secure_renegotiation = bool(self.secure_renegotiation) or (
                    result.secure_renegotiation
                )
            if result.certificate_ders and not self.certificate_ders:
                self.certificate_ders = result.certificate_ders
            bits = result.server_key_exchange_dh_bits
            if bits is not None and (self.dh_bits is None or bits < self.dh_bits):
                self.dh_bits = bits
        return result

    def hello(
        self,
        version: Version,
        suites: Sequence[int],
        *,
        groups: Sequence[int] | None = None,
        key_shares: Sequence[int] = (),
    ) -> bytes:
        if version == Version.TLS1_3 and groups is None:
            groups = tuple(dict.fromkeys((*key_shares, *DEFAULT_GROUPS)))
        return client_hello(
            version,
            suites,
            server_name=self.server_name,
            groups=groups,
            key_share_groups=key_shares,
        )


def _matches(result: ServerHelloResult, version: Version) -> bool:
    if version == Version.TLS1_3:
        return result.tls13
    return result.version == version


@dataclass
class _VersionScan:
    accepted: list[int] = field(default_factory=list)
    supported: bool | None = None
    chunks_with_hits: int = 0


async def _scan_version(
    st: _State, version: Version, candidates: Sequence[int], chunk_size: int
) -> _VersionScan:
    key_shares = _TLS13_KEY_SHARES if version == Version.TLS1_3 else ()
    scan = _VersionScan()
    answered = False
    if version == Version.SSL3:  # client_hello() adds the renegotiation SCSV there
        chunk_size = max(1, chunk_size - 1)
    for start in range(0, len(candidates), chunk_size):
        pool = list(candidates[start : start + chunk_size])
        first = True
        hits_before = len(scan.accepted)
        while pool:
            res = await st.probe(st.hello(version, pool, key_shares=key_shares), want_flight=True)
            if isinstance(res, _Failure):
                if res.kind == "closed":  # a hang-up is an answer: "not with these suites"
                    answered = True
                    break
                st.errors.append(f"{version.label}: {res.kind}: {res.detail}")
                if not answered:  # no connection, silence or garbage: this version is untestable
                    return scan
                break
            answered = True
            if isinstance(res, AlertResult):
                if first and res.name == "protocol_version":
                    scan.supported = bool(scan.accepted)
                    return scan
                break
            if not _matches(res, version):
                if first:  # the server negotiated another version: it does not do this one
                    scan.supported = bool(scan.accepted)
                    return scan
                st.errors.append(f"{version.label}: version changed to 0x{res.version:04X}")
                break
            if res.cipher not in pool:
                st.errors.append(
                    f"{version.label}: server chose {res.cipher_name}, which was not offered"
                )
                break
            scan.accepted.append(res.cipher)
            pool.remove(res.cipher)
            first = False
        if len(scan.accepted) > hits_before:
            scan.chunks_with_hits += 1
    scan.supported = bool(scan.accepted) if answered else None
    return scan


async def _choice(st: _State, version: Version, suites: Sequence[int]) -> int | None:
    key_shares = _TLS13_KEY_SHARES if version == Version.TLS1_3 else ()
    res = await st.probe(st.hello(version, suites, key_shares=key_shares), want_flight=False)
    if isinstance(res, ServerHelloResult) and _matches(res, version) and res.cipher in suites:
        return res.cipher
    return None


async def _server_order(
    st: _State, version: Version, scan: _VersionScan
) -> tuple[bool | None, tuple[int, ...]]:
    found = scan.accepted
    if len(found) < 2:
        return None, tuple(found)
    forward = await _choice(st, version, found)
    backward = await _choice(st, version, found[::-1])
    if forward is None or backward is None:
        st.errors.append(f"{version.label}: no stable answer while testing the suite order")
        return None, tuple(found)
    if forward == backward:
        if scan.chunks_with_hits <= 1 and forward == found[0]:
            return True, tuple(found)  # the discovery loop already followed the server's order
        ordered = [forward]
        pool = [s for s in found if s != forward]
        while len(pool) > 1:
            pick = await _choice(st, version, pool)
            if pick is None:
                st.errors.append(f"{version.label}: suite order incomplete")
                return True, tuple(ordered + pool)
            ordered.append(pick)
            pool.remove(pick)
        return True, tuple(ordered + pool)
    if forward == found[0] and backward == found[-1]:
        return False, tuple(found)
    return None, tuple(found)


async def _tls13_groups(st: _State, suites: Sequence[int], candidates: Sequence[int]) -> list[int]:
    found: list[int] = []
    pool = list(candidates)
    while pool:
        hello = st.hello(Version.TLS1_3, suites, groups=pool, key_shares=())
        res = await st.probe(hello, want_flight=False)
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
    st: _State, version: Version, suites: Sequence[int], candidates: Sequence[int]
) -> list[int]:
    found: list[int] = []
    pool = list(candidates)
    while pool:
        res = await st.probe(st.hello(version, suites, groups=pool), want_flight=True)
        if not isinstance(res, ServerHelloResult) or res.version != version:
            break
        curve = res.server_key_exchange_curve
        if curve is None or curve not in pool:
            if curve is not None:
                st.errors.append(f"{version.label}: server chose curve {group_name(curve)}")
            break
        found.append(curve)
        pool.remove(curve)
    return found


async def _scan_sslv2(st: _State, kinds: Sequence[int]) -> tuple[bool | None, tuple[int, ...]]:
    res = await st.probe(sslv2_client_hello(kinds), want_flight=False)
    if isinstance(res, ServerHelloResult):
        if res.version == Version.SSL2:
            accepted = tuple(k for k in res.sslv2_cipher_kinds if k in kinds)
            return bool(accepted), accepted
        return False, ()
    if isinstance(res, _Failure):
        if res.kind == "connect":
            st.errors.append(f"SSLv2: {res.detail}")
            return None, ()
        if res.kind != "closed":  # silence or garbage: untestable
            st.errors.append(f"SSLv2: {res.kind}: {res.detail}")
            return None, ()
    return False, ()


async def enumerate_tls(
    exchange: HelloExchange,
    *,
    server_name: str | None,
    versions: Sequence[Version] = ALL_VERSIONS,
    timeout: float = 10.0,
    max_suites_per_hello: int = 128,
    legacy_suites: Sequence[int] | None = None,
    tls13_suites: Sequence[int] | None = None,
    tls13_groups: Sequence[int] = TLS13_GROUP_CANDIDATES,
    ecdhe_groups: Sequence[int] = TLS12_GROUP_CANDIDATES,
    probe_groups: bool = True,
) -> TLSEnumeration:
    """Find every version, suite and group the server behind ``exchange`` accepts.

    ``legacy_suites`` / ``tls13_suites`` default to every suite in
    :mod:`mailtls.ciphersuites`. ``timeout`` bounds each connection. Connections are made one
    after the other (mail servers rate-limit).
    """
    if max_suites_per_hello < 1:
        raise ValueError("max_suites_per_hello must be positive")
    st = _State(exchange=exchange, server_name=server_name, timeout=timeout)
    legacy = list(
        legacy_suites if legacy_suites is not None else (s.code for s in ciphersuites.LEGACY_SUITES)
    )
    modern = list(
        tls13_suites if tls13_suites is not None else (s.code for s in ciphersuites.TLS13_SUITES)
    )
    result_versions: dict[Version, bool | None] = {}
    result_suites: dict[Version, tuple[int, ...]] = {}
    result_order: dict[Version, bool | None] = {}
    groups13: list[int] = []
    groups12: list[int] = []

    for version in sorted(set(versions)):
        if version == Version.SSL2:
            kinds = [k.code for k in ciphersuites.SSL2_CIPHER_KINDS]
            ok, accepted = await _scan_sslv2(st, kinds)
            result_versions[version], result_suites[version] = ok, accepted
            result_order[version] = None
            continue
        candidates = modern if version == Version.TLS1_3 else legacy
        scan = await _scan_version(st, version, candidates, max_suites_per_hello)
        result_versions[version] = scan.supported
        order, suites = await _server_order(st, version, scan)
        result_suites[version] = suites
        result_order[version] = order
        if version == Version.TLS1_3 and scan.accepted and probe_groups:
            groups13 = await _tls13_groups(st, suites, tls13_groups)

    if probe_groups:
        for version in sorted(result_suites, reverse=True):
            if version in (Version.SSL2, Version.TLS1_3):
                continue
            ecdhe = [
                s
                for s in result_suites[version]
                if ciphersuites.describe(s).kx in ("ECDHE", "ECDHE_PSK")
            ]
            if ecdhe:
                groups12 = await _ecdhe_groups(st, version, ecdhe, ecdhe_groups)
                break

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
    )
