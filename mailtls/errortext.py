"""One clean sentence from a third-party library's exception.

Libraries put their internals into exception text: cryptography 50+ raises ``ValueError(
"error parsing asn1 value: ParseError { kind: UnexpectedTag { actual: Tag { value: 13,
constructed: false, class: Universal } }, location: [\\"subject\\"] }")`` — the Debug dump of a
Rust struct. Users get what it means ("unexpected ASN.1 tag 13 (universal) in the subject"),
on one line, bounded in length; never the dump.
"""

from __future__ import annotations

import re

__all__ = ["library_error_text"]

_MAX = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")

# rust-asn1's ParseError as cryptography formats it ({:?}); the kind may nest braces once more.
_ASN1_PARSE_ERROR = re.compile(
    r"(?:error parsing asn1 value: )?ParseError \{ kind: (?P<kind>\w+)(?P<detail>.*?),?"
    r"(?: location: \[(?P<location>[^\]]*)\])? \}\s*$",
    re.DOTALL,
)
_TAG = re.compile(r"value: (?P<value>\d+), constructed: (?P<constructed>\w+), class: (?P<cls>\w+)")
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_RUST_DEBUG = re.compile(r"\w+ \{ .* \}")  # any other "Struct { field: value }" dump


def library_error_text(exc: BaseException) -> str:
    """What went wrong, as one line a user can read: never a library's debug representation."""
    text = _CONTROL.sub(" ", str(exc)).strip()
    match = _ASN1_PARSE_ERROR.search(text)
    if match:
        text = _asn1_sentence(match)
    elif dump := _RUST_DEBUG.search(text):
        # Some other internal dump: keep what comes before it, which is the library's sentence.
        text = text[: dump.start()].rstrip(" :") or "malformed data"
    if not text:
        text = _words(type(exc).__name__)
    if len(text) > _MAX:
        text = text[: _MAX - 1] + "…"
    return text


def _asn1_sentence(match: re.Match[str]) -> str:
    kind = match["kind"]
    if kind == "UnexpectedTag":
        tag = _TAG.search(match["detail"])
        if tag:
            what = f"unexpected ASN.1 tag {tag['value']} ({tag['cls'].lower()}"
            what += ", constructed)" if tag["constructed"] == "true" else ")"
        else:
            what = "unexpected ASN.1 tag"
    elif kind == "ShortData":
        what = "the DER encoding ends too early"
    elif kind == "ExtraData":
        what = "extra data after the DER encoding"
    else:
        what = f"malformed DER ({_words(kind)})"
    location = _location(match["location"] or "")
    return f"{what} in {location}" if location else what


def _location(raw: str) -> str:
    """``"Certificate::tbs_cert", "TbsCertificate::subject"`` -> ``the subject``."""
    parts = [p.strip().strip('"') for p in raw.split(",") if p.strip()]
    if not parts:
        return ""
    field = parts[-1].rsplit("::", 1)[-1]
    if field.isdigit() and len(parts) > 1:  # an index into a SEQUENCE OF
        field = parts[-2].rsplit("::", 1)[-1]
    return "the " + field.replace("_", " ")


def _words(camel: str) -> str:
    return _WORD_BREAK.sub(" ", camel).lower()
