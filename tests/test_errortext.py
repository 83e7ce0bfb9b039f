"""mailtls.errortext: a third-party library's exception as one sentence, never a debug dump."""

from __future__ import annotations

import pytest

from mailtls.errortext import library_error_text

# Messages as cryptography 50/51 (rust-asn1) and 4x (OpenSSL, Python) raise them.
CASES = [
    (
        "error parsing asn1 value: ParseError { kind: UnexpectedTag { actual: Tag { value: 13, "
        'constructed: false, class: Universal } }, location: ["subject"] }',
        "unexpected ASN.1 tag 13 (universal) in the subject",
    ),
    (
        "error parsing asn1 value: ParseError { kind: ShortData { needed: 12 }, location: "
        '["Certificate::tbs_cert", "TbsCertificate::extensions"] }',
        "the DER encoding ends too early in the extensions",
    ),
    ("error parsing asn1 value: ParseError { kind: InvalidValue }",
     "malformed DER (invalid value)"),
    ("error parsing asn1 value: ParseError { kind: ExtraData }",
     "extra data after the DER encoding"),
    (
        'error parsing asn1 value: ParseError { kind: InvalidSetOrdering, location: '
        '["Certificate::tbs_cert", "TbsCertificate::issuer", "0"] }',
        "malformed DER (invalid set ordering) in the issuer",
    ),
    ("Unable to load PEM file. See https://cryptography.io/en/latest/faq/", None),
    ("Something failed: InternalState { depth: 3 }", "Something failed"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_library_messages_become_one_sentence(raw: str, expected: str | None) -> None:
    text = library_error_text(ValueError(raw))
    assert text == (expected if expected is not None else raw)
    assert "{" not in text and "\n" not in text


def test_empty_message_names_the_error_and_long_ones_are_cut() -> None:
    assert library_error_text(ValueError()) == "value error"
    long = library_error_text(ValueError("x" * 5000 + "\nsecond line"))
    assert len(long) == 300 and long.endswith("…") and "\n" not in long
