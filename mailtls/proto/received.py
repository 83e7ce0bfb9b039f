"""``Received:`` headers (RFC 5321 §4.4) read into hops: who handed the message to whom, how.

The header is free text after its clauses; what is read: ``from``, ``by`` and ``with`` (the
RFC 3848 protocol word: ESMTPS/ESMTPSA/LMTPS/... mean TLS, ESMTP/SMTP/ESMTPA mean none, LMTP
and local pickup are not network hops) and a TLS comment such as Postfix's ``(using TLSv1.3
with cipher ...)`` (``smtpd_tls_received_header``). Linear in a capped input; never raises.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailtls.model import Hop, HopTLS

_WITH = re.compile(r"\bwith\s+([A-Za-z0-9_-]+)", re.IGNORECASE)
_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)", re.IGNORECASE)
_USING = re.compile(r"\(using\s+(TLSv?[\d.]+|SSLv3)(?:\s+with\s+cipher\s+([A-Za-z0-9_-]+))?",
                    re.IGNORECASE)
_TLS_WORDS = re.compile(r"\b(TLSv1(?:\.[0-3])?|TLS1_[0-3])\b")
#: RFC 3848 (and RFC 8314) protocol words with TLS
_TLS_WITH = frozenset({"ESMTPS", "ESMTPSA", "LMTPS", "LMTPSA", "UTF8SMTPS", "UTF8SMTPSA",
                       "UTF8LMTPS", "UTF8LMTPSA", "SMTPS"})
_PLAIN_WITH = frozenset({"SMTP", "ESMTP", "ESMTPA", "UTF8SMTP", "UTF8SMTPA"})
_LOCAL_WITH = frozenset({"LMTP", "LMTPA", "LOCAL", "HTTP", "HTTPS"})


def without_comments(text: str) -> str:
    """``text`` without its (possibly nested) RFC 5322 comments: "(using TLSv1.3 with cipher
    ...)" must not be read as the ``with`` clause."""
    out: list[str] = []
    depth = 0
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
        elif ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def parse_hop(index: int, value: str) -> Hop:
    """One Received header value (unfolded) -> a Hop; never raises."""
    text = value[:2000]
    clauses = without_comments(text)
    with_ = (m.group(1).upper() if (m := _WITH.search(clauses)) else "")
    by = (m.group(1) if (m := _BY.search(clauses)) else "")
    from_ = (m.group(1) if (m := _FROM.search(clauses)) else "")
    using = _USING.search(text)
    detail = ""
    tls: HopTLS
    if using:
        tls = HopTLS.TLS
        detail = using.group(1) + (f" with cipher {using.group(2)}" if using.group(2) else "")
    elif with_ in _TLS_WITH:
        tls = HopTLS.TLS
        words = _TLS_WORDS.search(text)
        detail = words.group(1) if words else ""
    elif with_ in _LOCAL_WITH or (not from_ and "local" in text.lower()) or \
            "(Postfix, from userid" in text:
        tls = HopTLS.LOCAL
    elif with_ in _PLAIN_WITH:
        tls = HopTLS.NONE
    else:
        tls = HopTLS.UNKNOWN
    return Hop(index=index, by=by, from_=from_, with_=with_, tls=tls, detail=detail, raw=text)


def hops(received: Sequence[str]) -> tuple[Hop, ...]:
    return tuple(parse_hop(i, value) for i, value in enumerate(received, 1))


