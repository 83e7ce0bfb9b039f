"""What a client did in one case: per connection, the commands, TLS, credentials and transcript.

A :class:`ConnectionRecord` is filled in by the session server while the client talks (on the
event loop) and read by the verdict afterwards. Credentials are never kept: only that they
came, over what (plaintext or TLS), by which mechanism, whether they were the throwaway password
handed to the client, and a prefix of SHA-256(per-run salt + password) so two sessions can be
compared without the password being recoverable (the salt is random per run and never written).
Transcript lines that carry a credential are replaced by their command word and ``***``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Literal

#: Per connection: at most this many transcript lines, each cut to this many characters.
MAX_TRANSCRIPT_LINES = 200
MAX_LINE_CHARS = 300

Direction = Literal["C", "S", "-"]  # client, server, event


@dataclass(frozen=True)
class TranscriptEntry:
    at: float  # seconds since the case started
    direction: Direction
    tls: bool
    text: str


@dataclass(frozen=True)
class CredentialSeen:
    """Credentials arrived: how, never what."""

    mechanism: str  # LOGIN, AUTHENTICATE PLAIN, AUTH PLAIN, AUTH LOGIN, USER/PASS, ...
    tls: bool
    hash_prefix: str  # hex prefix of SHA-256(salt + password); "" if no password was found
    matches: bool  # it was the throwaway password this run handed to the client


@dataclass(frozen=True)
class Secrets:
    """The throwaway account of one run and the salt for the credential hashes."""

    user: str
    password: str
    salt: bytes

    def hash_prefix(self, password: str | bytes) -> str:
        raw = password.encode("utf-8", "surrogateescape") if isinstance(password, str) \
            else password
        return hashlib.sha256(self.salt + raw).hexdigest()[:12]

    def seen(self, mechanism: str, password: str | bytes | None, *, tls: bool) -> CredentialSeen:
        if password is None:
            return CredentialSeen(mechanism, tls, "", False)
        raw = password.encode("utf-8", "surrogateescape") if isinstance(password, str) \
            else password
        return CredentialSeen(
            mechanism, tls, self.hash_prefix(raw),
            hmac.compare_digest(raw, self.password.encode("utf-8")),
        )

    def scrub(self, text: str) -> str:
        """``text`` with the throwaway password (plain and in base64 forms) replaced by ***."""
        forms = {self.password}
        for blob in (
            self.password.encode(),
            f"\0{self.user}\0{self.password}".encode(),
            f"{self.user}\0{self.user}\0{self.password}".encode(),
        ):
            forms.add(base64.b64encode(blob).decode())
        for form in sorted(forms, key=len, reverse=True):
            if form:
                text = text.replace(form, "***")
        return text


def sasl_plain_password(payload: str) -> bytes | None:
    """The password of a base64 SASL PLAIN response (RFC 4616), or None if malformed."""
    try:
        raw = base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    parts = raw.split(b"\x00")
    return parts[2] if len(parts) == 3 else None


def b64_text(payload: str) -> bytes | None:
    try:
        return base64.b64decode(payload.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass
class ConnectionRecord:
    """One connection of a case, as the server saw it (mutated only on the event loop)."""

    index: int
    peer: str
    started: float  # seconds since the case started
    _t0: float = field(repr=False, default=0.0)
    tls_version: str | None = None  # after a successful handshake
    tls_error: str | None = None  # a failed handshake
    tls_attempted: bool = False  # the client sent a TLS record (go-ahead taken / implicit)
    starttls_requested: bool = False
    commands: list[tuple[str, bool]] = field(default_factory=list)  # (VERB, inside TLS)
    credentials: list[CredentialSeen] = field(default_factory=list)
    authenticated: bool = False
    authenticated_tls: bool = False
    message_started_plaintext: bool = False  # SMTP MAIL FROM outside TLS
    message_accepted: bool = False  # SMTP: the end of DATA was answered 250
    message_tls: bool = False
    injection_acted: bool | None = None  # None: the test did not get that far
    completed: bool = False  # ended with QUIT/LOGOUT after doing its job
    closed_by: Literal["client", "server", "timeout", ""] = ""
    transcript: list[TranscriptEntry] = field(default_factory=list)
    dropped_lines: int = 0

    def now(self) -> float:
        return round(time.monotonic() - self._t0, 3)

    def log(self, direction: Direction, text: str, *, tls: bool) -> None:
        if len(self.transcript) >= MAX_TRANSCRIPT_LINES:
            self.dropped_lines += 1
            return
        if len(text) > MAX_LINE_CHARS:
            text = text[:MAX_LINE_CHARS] + f"... ({len(text)} chars)"
        self.transcript.append(TranscriptEntry(self.now(), direction, tls, text))

    def command(self, verb: str, *, tls: bool) -> None:
        self.commands.append((verb.upper(), tls))

    def plaintext_commands(self) -> list[str]:
        return [verb for verb, tls in self.commands if not tls]

    def tls_commands(self) -> list[str]:
        return [verb for verb, tls in self.commands if tls]
