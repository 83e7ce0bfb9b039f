"""One HTTPS GET with httpx, for the MTA-STS policy (RFC 8461 §3.3).

The request goes to an address the caller resolved (with the same resolver as everything else)
while the host name stays what a sending MTA would use: in SNI, in the Host header and for the
certificate. Redirects are never followed, no proxy or environment is consulted, nothing is
cached, and the body is read only up to a limit. OpenSSL verifies the chain; the name is matched
by ``mailtls.pki.x509`` (as for the mail ports), so "untrusted" and "wrong name" stay apart.

Foreign exceptions (httpx, ssl, OSError) are translated here into ``mailtls.errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
import time
from dataclasses import dataclass

import httpx

from mailtls.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    NetworkError,
    ProtocolError,
    ReadTimeout,
    TLSHandshakeError,
    Unreachable,
)
from mailtls.net.stream import Timeouts, peer_chain, verifying_context


@dataclass(frozen=True)
class HTTPSResponse:
    status: int
    reason: str
    content_type: str | None
    location: str | None
    body: bytes  # at most max_bytes
    truncated: bool  # the body was longer than max_bytes (the rest was not read)
    tls_version: str | None
    peer_chain_der: tuple[bytes, ...]  # leaf first
    seconds: float


def https_context(*, verify: bool, ca_file: str | None = None) -> ssl.SSLContext:
    """A plain modern client context (TLS 1.2+), chain verification on or off; the name is
    checked by the caller."""
    ctx = verifying_context(verify=verify, ca_file=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


async def https_get(
    host: str,
    path: str,
    *,
    address: str,
    port: int,
    context: ssl.SSLContext,
    timeouts: Timeouts,
    max_bytes: int,
) -> HTTPSResponse:
    """GET ``https://host{path}`` from ``address``:``port``; raises ``mailtls.errors``."""
    started = time.monotonic()
    literal = f"[{address}]" if ":" in address else address
    url = f"https://{literal}:{port}{path}"
    host_header = host if port == 443 else f"{host}:{port}"
    timeout = httpx.Timeout(
        connect=timeouts.connect + timeouts.handshake, read=timeouts.read,
        write=timeouts.read, pool=timeouts.connect,
    )
    where = f"{host} ({literal} port {port})"
    # httpx's read timeout is per socket read: a body dripped a byte at a time would pass it
    # for ever. The whole exchange gets connect + handshake + read, cut to timeouts.deadline;
    # httpcore caps the status line and headers (100 KiB), max_bytes the body.
    total = timeouts.connect + timeouts.handshake + timeouts.read
    if timeouts.deadline is not None:
        total = max(0.0, min(total, timeouts.deadline - time.monotonic()))
    try:
        async with (
            asyncio.timeout(total),
            httpx.AsyncClient(
                verify=context, timeout=timeout, follow_redirects=False, trust_env=False,
                http2=False,
            ) as client,
            client.stream(
                "GET", url,
                headers={"Host": host_header, "User-Agent": "mailtls", "Accept": "text/plain",
                         "Cache-Control": "no-cache", "Accept-Encoding": "identity"},
                extensions={"sni_hostname": host},
            ) as response,
        ):
            chain, version = _peer(response)
            body = bytearray()
            truncated = False
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > max_bytes:
                    truncated = True
                    del body[max_bytes:]
                    break
            return HTTPSResponse(
                status=response.status_code,
                reason=response.reason_phrase,
                content_type=response.headers.get("content-type"),
                location=response.headers.get("location"),
                body=bytes(body),
                truncated=truncated,
                tls_version=version,
                peer_chain_der=chain,
                seconds=round(time.monotonic() - started, 4),
            )
    except TimeoutError:
        raise ReadTimeout(f"{where}: no complete response within {total:g} s") from None
    except httpx.ConnectTimeout:
        raise ConnectTimeout(f"{where}: no connection within {timeouts.connect:g} s") from None
    except httpx.ReadTimeout:
        raise ReadTimeout(f"{where}: no response within {timeouts.read:g} s") from None
    except httpx.TimeoutException as exc:
        raise ReadTimeout(f"{where}: timed out ({type(exc).__name__})") from None
    except httpx.ConnectError as exc:
        raise _map_connect(exc, where) from None
    except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
        raise ProtocolError(f"{where}: not a valid HTTP response: {exc}") from None
    except httpx.ReadError as exc:
        raise ConnectionClosed(f"{where}: connection lost: {exc}") from None
    except httpx.HTTPError as exc:
        raise NetworkError(f"{where}: {type(exc).__name__}: {exc}") from None
    except (OSError, ssl.SSLError) as exc:
        raise NetworkError(f"{where}: {exc}") from None


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _map_connect(exc: httpx.ConnectError, where: str) -> NetworkError:
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TLSHandshakeError(
                f"{where}: certificate verification failed: {cause.verify_message}",
                verify_code=cause.verify_code, verify_message=cause.verify_message,
            )
        if isinstance(cause, ssl.SSLError):
            return TLSHandshakeError(f"{where}: TLS handshake failed: {cause.reason or cause}")
        if isinstance(cause, ConnectionRefusedError):
            return ConnectRefused(f"{where}: connection refused")
        if isinstance(cause, TimeoutError):
            return ConnectTimeout(f"{where}: connect timed out")
        if isinstance(cause, OSError) and cause.errno in (
            errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM,
            errno.EADDRNOTAVAIL,
        ):
            return Unreachable(f"{where}: {cause.strerror or cause}")
    text = str(exc) or type(exc).__name__
    if "SSL" in text or "TLS" in text or "certificate" in text.lower():
        return TLSHandshakeError(f"{where}: TLS handshake failed: {text}")
    return NetworkError(f"{where}: cannot connect: {text}")


def _peer(response: httpx.Response) -> tuple[tuple[bytes, ...], str | None]:
    stream = response.extensions.get("network_stream")
    obj = None
    with contextlib.suppress(Exception):
        obj = stream.get_extra_info("ssl_object") if stream is not None else None
    if obj is None:
        return (), None
    chain = peer_chain(obj)
    version = None
    with contextlib.suppress(Exception):
        version = obj.version()
    return tuple(chain), version
