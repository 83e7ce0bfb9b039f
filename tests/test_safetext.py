"""One escape for outside text: terminal escapes, fake line breaks and bidi reordering never
reach a reader, whether the text came in a server reply or a certificate."""

from __future__ import annotations

import pytest

from mailtls.pki import x509
from mailtls.proto.lines import decode_line
from mailtls.safetext import escape_unsafe


@pytest.mark.parametrize(("text", "shown"), [
    ("250 ok\x1b[2J", "250 ok\\x1b[2J"),  # a terminal escape
    ("a\u2028b", "a\\u2028b"),  # a line separator
    ("user\u202egnp.exe", "user\\u202egnp.exe"),  # right-to-left override (CVE-2021-42574)
    ("x\u2066y\u2069", "x\\u2066y\\u2069"),  # isolates
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("tab\tand \\ stay", "tab\tand \\ stay"),
])
def test_escape_unsafe(text: str, shown: str) -> None:
    assert escape_unsafe(text) == shown
    assert decode_line(text.encode()) == shown  # server replies: the same escape


def test_certificate_text_escapes_bidi_controls_too() -> None:
    # it used to escape C0/C1 and U+2028/9 only
    assert x509._one_line("CN=evil\u202etxt.exe\tx") == "CN=evil\\u202etxt.exe\\x09x"
