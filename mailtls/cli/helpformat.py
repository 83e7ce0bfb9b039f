"""The help formatter of every mailtls command: descriptions and epilogs are re-flowed to the
terminal's width, keeping the structure they were written with. A line that is indented more
than the item above it continues that item (unless the item ends with ':' or the line starts
an exit-code row), so tables such as the exit codes stay tables at 80 columns and up."""

from __future__ import annotations

import argparse
import re
import textwrap

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
        out.append(textwrap.fill(words, max(width, len(first) + 20), initial_indent=first,
                                 subsequent_indent=rest, break_on_hyphens=False,
                                 break_long_words=False))
    return "\n".join(out)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return reflow(text, width, indent)
