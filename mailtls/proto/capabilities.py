"""Capability lines (EHLO keywords, IMAP capabilities, POP3 CAPA tags) as keyword -> params."""

from __future__ import annotations

from collections.abc import Iterable

from mailtls.model import Protocol

# SASL mechanisms that carry the password itself (base64 is not encryption): RFC 4616, and the
# non-standard LOGIN (draft-murchison-sasl-login).
PLAINTEXT_SASL = frozenset({"PLAIN", "LOGIN"})


def keywords(caps: Iterable[str] | None) -> dict[str, tuple[str, ...]]:
    """``["AUTH PLAIN LOGIN", "STARTTLS"]`` -> ``{"AUTH": ("PLAIN", "LOGIN"), "STARTTLS": ()}``,
    upper-cased; ``None`` (no capabilities read) gives an empty mapping."""
    out: dict[str, tuple[str, ...]] = {}
    for cap in caps or ():
        words = cap.split()
        if words:
            out[words[0].upper()] = tuple(w.upper() for w in words[1:])
    return out


def cleartext_login_offers(protocol: Protocol, caps: Iterable[str] | None) -> list[str]:
    """What capabilities read before TLS offer that would carry a password in the clear: the
    one definition behind ``<proto>.auth.plaintext_offered`` (mailtls.checks.judge) and the
    capability_change probe's verdict (mailtls.probes.security), so the two never disagree.

    SMTP: any AUTH before STARTTLS (RFC 3207 §4.2 leaves it to policy; every mechanism is
    offered in the open). IMAP: LOGIN unless LOGINDISABLED (RFC 9051 §6.2.3), AUTH=PLAIN/LOGIN.
    POP3: USER (RFC 1939 §7), SASL PLAIN/LOGIN (RFC 5034 §5). A keyword that names no
    mechanism (Dovecot's bare ``SASL`` before STLS) offers nothing.
    """
    kw = keywords(caps)
    if protocol is Protocol.SMTP:
        return [" ".join(("AUTH", *kw["AUTH"]))] if "AUTH" in kw else []
    if protocol is Protocol.IMAP:
        offers = [] if "LOGINDISABLED" in kw else ["LOGIN"]
        mechanisms = {k.split("=", 1)[1] for k in kw if k.startswith("AUTH=")}
        return offers + [f"AUTH={m}" for m in sorted(mechanisms & PLAINTEXT_SASL)]
    offers = ["USER"] if "USER" in kw else []
    sasl = sorted(set(kw.get("SASL", ())) & PLAINTEXT_SASL)
    return offers + ([f"SASL {' '.join(sasl)}"] if sasl else [])


def login_offers(protocol: Protocol, caps: Iterable[str] | None) -> list[str]:
    """Every way to log in the capabilities offer, whatever the mechanism (after TLS)."""
    kw = keywords(caps)
    if protocol is Protocol.SMTP:
        return [" ".join(("AUTH", *kw["AUTH"]))] if kw.get("AUTH") else []
    if protocol is Protocol.IMAP:
        offers = [] if "LOGINDISABLED" in kw else ["LOGIN"]
        return offers + sorted(k for k in kw if k.startswith("AUTH="))
    offers = ["USER"] if "USER" in kw else []
    return offers + ([f"SASL {' '.join(kw['SASL'])}"] if kw.get("SASL") else [])
