"""Capability lines (EHLO keywords, IMAP capabilities, POP3 CAPA tags) as keyword -> params."""

from __future__ import annotations

from collections.abc import Iterable


def keywords(caps: Iterable[str] | None) -> dict[str, tuple[str, ...]]:
    """``["AUTH PLAIN LOGIN", "STARTTLS"]`` -> ``{"AUTH": ("PLAIN", "LOGIN"), "STARTTLS": ()}``,
    upper-cased; ``None`` (no capabilities read) gives an empty mapping."""
    out: dict[str, tuple[str, ...]] = {}
    for cap in caps or ():
        words = cap.split()
        if words:
            out[words[0].upper()] = tuple(w.upper() for w in words[1:])
    return out
