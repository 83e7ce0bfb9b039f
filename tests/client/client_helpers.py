"""Helpers of the mail-client tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailtls.model.credentials import b64, sasl_plain
from mailtls.testing import PASSWORD, USERNAME

HOST = "mail.example.test"
WRONG_PASSWORD = "not-the-password-7Qx"
PASSWORDS = (PASSWORD, WRONG_PASSWORD)


def secret_forms(password: str, username: str = USERNAME) -> tuple[str, ...]:
    return (password, b64(password), sasl_plain(username, password))


ALL_SECRET_FORMS = tuple(f for p in PASSWORDS for f in secret_forms(p))


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for form in ALL_SECRET_FORMS:
            assert form not in text, "a password form appeared in the output"


# --- discovery: a loopback web server for autoconfig and the DNS zone of the test domain ------

DOMAIN = "client.test"
ADDRESS = f"user@{DOMAIN}"
CLIENT_NAMES = (
    DOMAIN, f"autoconfig.{DOMAIN}", f"mail.{DOMAIN}", f"imap.{DOMAIN}", f"smtp.{DOMAIN}",
    "autoconfig.mxhost.test", "mx1.mxhost.test", "localhost", "127.0.0.1",
)


@dataclass
class WebServer:
    """An HTTPS server on loopback: ``routes[(host, path)] = (status, body)``; every request
    line and Host header is kept in ``requests``."""

    server: Any
    routes: dict[tuple[str, str], tuple[int, bytes]]
    requests: list[tuple[str, str]]

    @property
    def port(self) -> int:
        port: int = self.server.port
        return port

    def stop(self) -> None:
        self.server.stop()


def start_web(pki: Any, kind: str = "good") -> WebServer:
    import asyncio

    from mailtls.testing import start_raw

    routes: dict[tuple[str, str], tuple[int, bytes]] = {}
    requests: list[tuple[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        target = head.split("\r\n", 1)[0].split(" ")[1]
        host = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                     if line.lower().startswith("host:")), "")
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        requests.append((host, target))
        status, body = routes.get((host, target.split("?", 1)[0]), (404, b"not here"))
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: "
                     f"{len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()

    server = start_raw(handle, ssl_context=pki.server_context(kind), name="autoconfig-web")
    return WebServer(server, routes, requests)


def autoconfig_xml(*servers: tuple[str, str, str, int, str], domain: str = DOMAIN) -> bytes:
    """servers: (kind incoming/outgoing, type, host, port, socketType)."""
    parts = []
    for role, kind, host, port, socket in servers:
        tag = "incomingServer" if role == "incoming" else "outgoingServer"
        parts.append(f"<{tag} type=\"{kind}\"><hostname>{host}</hostname><port>{port}</port>"
                     f"<socketType>{socket}</socketType><username>%EMAILADDRESS%</username>"
                     f"<authentication>password-cleartext</authentication></{tag}>")
    return (f'<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="{domain}">'
            f"<domain>{domain}</domain>{''.join(parts)}</emailProvider></clientConfig>").encode()


def zone(domain: str, *records: str) -> str:
    return "\n".join([
        f"$ORIGIN {domain}.", "$TTL 300",
        f"@ IN SOA ns.{domain}. hostmaster.{domain}. 1 3600 600 86400 300",
        f"@ IN NS ns.{domain}.", *records, "",
    ])
