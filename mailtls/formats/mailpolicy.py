"""Pure parsers for the mail-domain policy texts: the MTA-STS TXT record and policy file
(RFC 8461 §3.1-§3.2, §4.1) and the TLS-RPT TXT record (RFC 8460 §3). No I/O.

Each parser returns what it understood plus a list of problems in the words of the RFC; the
checks decide what a problem means.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailtls.model import MXRecord

STS_TXT_PREFIX = "v=STSv1"
TLSRPT_PREFIX = "v=TLSRPTv1"
MAX_AGE_LIMIT = 31557600  # one year (RFC 8461 §3.2)
POLICY_SIZE_LIMIT = 64 * 1024  # what senders are advised to accept (RFC 8461 §3.3)
MODES = ("enforce", "testing", "none")
_MAX_LINE_PROBLEMS = 10  # malformed lines named one by one; the rest are counted

_STS_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_POLICY_KEY = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def mx_hosts(mx_records: Sequence[MXRecord]) -> list[str]:
    """The MX host names in preference order, each once, without the null MX."""
    return list(dict.fromkeys(r.exchange for r in mx_records if r.exchange))


def _split_fields(text: str) -> list[str]:
    """``a=b; c=d;`` -> ["a=b", "c=d"] (WSP around ';' allowed, one trailing ';')."""
    parts = [p.strip(" \t") for p in text.split(";")]
    if parts and parts[-1] == "":
        parts.pop()
    return parts


# --- MTA-STS TXT ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StsRecord:
    record: str | None  # the one v=STSv1 record, if there is exactly one
    id: str | None
    candidates: tuple[str, ...]  # every TXT record beginning with v=STSv1
    problems: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return self.record is not None and self.id is not None and not self.problems


def parse_sts_txt(records: Sequence[str]) -> StsRecord:
    """RFC 8461 §3.1: keep the TXT records that begin with ``v=STSv1;``; exactly one must
    remain, with a valid ``id``."""
    candidates = tuple(r for r in records if r.startswith(STS_TXT_PREFIX))
    if not candidates:
        return StsRecord(None, None, (), ())
    if len(candidates) > 1:
        return StsRecord(None, None, candidates, (
            f"{len(candidates)} TXT records begin with v=STSv1; senders treat that as no "
            "policy (RFC 8461 §3.1)",))
    record = candidates[0]
    problems: list[str] = []
    fields_ = _split_fields(record)
    sts_id: str | None = None
    if fields_[0] != STS_TXT_PREFIX:
        problems.append("the record must begin with exactly v=STSv1;")
    for item in fields_[1:]:
        name, sep, value = item.partition("=")
        if not sep:
            problems.append(f"field {item!r} is not name=value")
        elif name == "id":
            if sts_id is None:
                if _STS_ID.fullmatch(value):
                    sts_id = value
                else:
                    problems.append(f"id={value!r} must be 1-32 letters and digits")
        elif not _EXT_NAME.fullmatch(name) or not _EXT_VALUE.fullmatch(value):
            problems.append(f"field {item!r} is not a valid extension (name=value without "
                            "spaces, '=' or ';' in the value)")
    if sts_id is None and not any(p.startswith("id=") for p in problems):
        problems.append("no id field (required)")
    return StsRecord(record, sts_id, candidates, tuple(problems))


# --- MTA-STS policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StsPolicy:
    version: str | None = None
    mode: str | None = None
    max_age: int | None = None
    mx: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # the policy is invalid: senders ignore it
    notes: tuple[str, ...] = ()  # allowed but odd: duplicates, unknown fields, LF endings

    @property
    def valid(self) -> bool:
        return not self.problems


def valid_mx_pattern(pattern: str) -> bool:
    name = pattern.lower().removesuffix(".")
    if name.startswith("*."):
        name = name[2:]
    labels = name.split(".")
    return len(labels) >= 2 and all(_LABEL.fullmatch(label) for label in labels)


def parse_sts_policy(text: str) -> StsPolicy:  # noqa: C901 (a split is still to do: issue 15)
    """RFC 8461 §3.2: ``key: value`` lines; version STSv1, mode, max_age, mx (unless none)."""
    problems: list[str] = []
    notes: list[str] = []
    values: dict[str, str] = {}
    mx: list[str] = []
    if len(text) > POLICY_SIZE_LIMIT:
        problems.append(f"the policy is larger than {POLICY_SIZE_LIMIT // 1024} KiB, more than "
                        "senders read (RFC 8461 §3.3)")
        text = text[:POLICY_SIZE_LIMIT]
    bad_lines = 0
    if "\r\n" not in text and "\n" in text:
        notes.append("lines end in LF, not CRLF (accepted by RFC 8461's grammar)")
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = raw.rstrip(" \t")
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not _POLICY_KEY.fullmatch(key):
            bad_lines += 1
            if bad_lines <= _MAX_LINE_PROBLEMS:
                problems.append(f"line {number} is not 'key: value': {line[:80]!r}")
            continue
        value = value.strip(" \t")
        if key == "mx":
            mx.append(value)
            continue
        if key in values:
            notes.append(f"{key} appears more than once; the first ({values[key][:80]!r}) counts")
            continue
        values[key] = value
        if key not in ("version", "mode", "max_age"):
            notes.append(f"unknown field {key!r} (ignored)")
    if bad_lines > _MAX_LINE_PROBLEMS:
        problems.append(f"{bad_lines - _MAX_LINE_PROBLEMS} more lines are not 'key: value'")
    version = values.get("version")
    mode = values.get("mode")
    max_age_text = values.get("max_age")
    max_age: int | None = None
    if version is None:
        problems.append("no version field")
    elif version != "STSv1":
        problems.append(f"version is {version!r}, not STSv1")
    if mode is None:
        problems.append("no mode field")
    elif mode not in MODES:
        problems.append(f"mode is {mode!r}; it must be enforce, testing or none")
    if max_age_text is None:
        problems.append("no max_age field")
    elif not re.fullmatch(r"[0-9]{1,10}", max_age_text):
        problems.append(f"max_age {max_age_text!r} is not a whole number of seconds")
    else:
        max_age = int(max_age_text)
        if max_age > MAX_AGE_LIMIT:
            problems.append(f"max_age {max_age} exceeds the maximum {MAX_AGE_LIMIT} (one year)")
    if mode in ("enforce", "testing") and not mx:
        problems.append(f"mode {mode} needs at least one mx field")
    for pattern in mx:
        if not valid_mx_pattern(pattern):
            problems.append(f"mx {pattern!r} is not a host name or *.domain pattern")
    return StsPolicy(version, mode, max_age, tuple(mx), tuple(problems), tuple(notes))


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: ``*.example.com`` matches exactly one extra left-most label."""
    p = pattern.lower().removesuffix(".")
    h = host.lower().removesuffix(".")
    if p.startswith("*."):
        first, _, rest = h.partition(".")
        return bool(first) and rest == p[2:]
    return p == h


# --- TLS-RPT ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsRptRecord:
    record: str | None
    rua: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.record is not None and bool(self.rua) and not self.problems


def _uri_problem(uri: str) -> str | None:
    try:
        parsed = urllib.parse.urlsplit(uri)
    except ValueError:  # "https://[x": an unclosed IPv6 literal, or NFKC tricks in the host
        return f"{uri!r} is not a valid URI"
    scheme = parsed.scheme.lower()
    if any(c in uri for c in " \t!;") and scheme != "https":
        return f"{uri!r} contains characters that must be percent-encoded"
    if scheme == "mailto":
        address = urllib.parse.unquote(parsed.path)
        local, at, domain = address.rpartition("@")
        if not at or not local or "." not in domain or not valid_mx_pattern(domain):
            return f"{uri!r} is not a mailto: URI with a mail address"
        return None
    if scheme == "https":
        if not parsed.hostname or "." not in parsed.hostname:
            return f"{uri!r} is not an https: URI with a host name"
        return None
    if not scheme:
        return f"{uri!r} has no scheme (mailto: or https:)"
    return f"{uri!r}: scheme {scheme}: is not allowed (mailto: or https: only)"


def parse_tlsrpt(records: Sequence[str]) -> TlsRptRecord:
    """RFC 8460 §3: exactly one record beginning with ``v=TLSRPTv1``, with a ``rua`` of
    mailto:/https: URIs. Reports are never sent: this is the syntax only."""
    candidates = tuple(r for r in records if r.startswith(TLSRPT_PREFIX))
    if not candidates:
        return TlsRptRecord(None)
    if len(candidates) > 1:
        return TlsRptRecord(None, (), candidates, (
            f"{len(candidates)} TXT records begin with v=TLSRPTv1; senders treat that as no "
            "TLS-RPT policy (RFC 8460 §3)",))
    record = candidates[0]
    problems: list[str] = []
    fields_ = _split_fields(record)
    if fields_[0] != TLSRPT_PREFIX:
        problems.append("the record must begin with exactly v=TLSRPTv1;")
    rua: list[str] = []
    seen_rua = False
    for item in fields_[1:]:
        name, sep, value = item.partition("=")
        if not sep:
            problems.append(f"field {item!r} is not name=value")
        elif name == "rua":
            if seen_rua:
                continue
            seen_rua = True
            for uri in (u.strip(" \t") for u in value.split(",")):
                problem = _uri_problem(uri)
                if problem:
                    problems.append(problem)
                else:
                    rua.append(uri)
        elif not _EXT_NAME.fullmatch(name):
            problems.append(f"field {item!r} is not a valid extension")
    if not seen_rua:
        problems.append("no rua field (required): reports have nowhere to go")
    return TlsRptRecord(record, tuple(rua), candidates, tuple(problems))
