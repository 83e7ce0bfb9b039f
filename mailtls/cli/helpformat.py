"""The help formatter of every mailtls command: descriptions and epilogs are re-flowed to the
terminal's width, keeping the structure they were written with. A line that is indented more
than the item above it continues that item (unless the item ends with ':' or the line starts
an exit-code row), so tables such as the exit codes stay tables at 80 columns and up."""

from __future__ import annotations

import argparse
import os
import re
import sys

__all__ = ["HelpFormatter"]

_NEW_ITEM = re.compile(r"\s*(\d+\s{2}|-\s|--\S+\s{2})")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def reflow(text: str, width: int, indent: str = "") -> str:
    items: list[list[str]] = []
    for line in text.splitlines():
        if items and line.strip():
            head = items[-1]
            continues = (_indent(line) > _indent(head[0]) and not head[-1].rstrip().endswith(":")
                         and not _NEW_ITEM.match(line) and head[0].strip() != "")
            if continues:
                head.append(line)
                continue
        items.append([line])
    out = []
    for item in items:
        first = indent + " " * _indent(item[0])
        rest = indent + " " * (_indent(item[1]) if len(item) > 1 else _indent(item[0]) + 2)
        words = " ".join(part.strip() for part in item)
        if not words:
            out.append("")
            continue
        import textwrap  # only when help is shown: not on every command's start-up (issue 12)

        out.append(textwrap.fill(words, max(width, len(first) + 20), initial_indent=first,
                                 subsequent_indent=rest, break_on_hyphens=False,
                                 break_long_words=False))
    return "\n".join(out)


def _terminal_columns() -> int:
    """What ``shutil.get_terminal_size().columns`` answers (``COLUMNS``, else the terminal on
    stdout, else 80), without importing ``shutil`` (and with it bz2, lzma and zlib): argparse
    makes a formatter for every ``add_argument``, so every command paid for it at start-up."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:  # argparse's own default, as argparse computes it
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return reflow(text, width, indent)
