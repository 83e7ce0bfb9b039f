"""The one escape of text that came from outside (server replies, certificate fields, DNS text)
before it reaches a terminal, a log or a report.

C0 controls except TAB, DEL, the C1 controls (U+009B is a CSI), U+2028/U+2029 (line and paragraph
separators) and the bidirectional embedding/override/isolate characters (they reorder what a
terminal shows: Unicode TR #9, CVE-2021-42574) become ``\\xNN`` / ``\\uNNNN`` escapes, so hostile
text can neither inject terminal escapes, fake line breaks nor reorder what is read.
"""

from __future__ import annotations

__all__ = ["UNSAFE_CODEPOINTS", "escape_unsafe"]


def _escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}"


UNSAFE_CODEPOINTS: tuple[int, ...] = (
    *(cp for cp in range(0x20) if cp != 0x09),
    *range(0x7F, 0xA0),
    0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
)
_TABLE: dict[int, str] = {cp: _escape(cp) for cp in UNSAFE_CODEPOINTS}


def escape_unsafe(text: str) -> str:
    """``text`` with every unsafe code point escaped; a backslash is kept as is."""
    return text.translate(_TABLE)
