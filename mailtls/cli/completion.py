"""Shell completion and the man page, both generated from the argparse parser itself, so they
can never drift from ``--help``: completion with shtab (bash, zsh, fish, tcsh), the man page with
argparse-manpage (``scripts/manpage`` writes ``man/mailtls.1``).

    mailtls completion bash > /etc/bash_completion.d/mailtls
    mailtls completion zsh > "${fpath[1]}/_mailtls"
    mailtls completion fish > ~/.config/fish/completions/mailtls.fish
"""

from __future__ import annotations

import argparse
from typing import Any

from mailtls.errors import UsageError

__all__ = ["SHELLS", "add_completion_command", "completion_script", "manpage"]

SHELLS = ("bash", "zsh", "fish", "tcsh")


def add_completion_command(sub: Any) -> None:
    from mailtls.cli.helpformat import HelpFormatter

    p = sub.add_parser(
        "completion",
        formatter_class=HelpFormatter,
        help="print a shell completion script (bash, zsh, fish, tcsh)",
        description="Print a completion script for SHELL, generated from mailtls's own argument "
        "parser: mailtls completion bash > /etc/bash_completion.d/mailtls, mailtls "
        "completion zsh > \"${fpath[1]}/_mailtls\", mailtls completion fish > "
        "~/.config/fish/completions/mailtls.fish.",
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete for")


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    import shtab

    if shell not in SHELLS:
        raise UsageError(f"no completion for {shell!r} (one of {', '.join(SHELLS)})")
    script: str = shtab.complete(parser, shell=shell)
    return script if script.endswith("\n") else script + "\n"


def manpage(parser: argparse.ArgumentParser, version: str) -> str:
    """The man page (roff) of ``parser``; needs argparse-manpage (``pip install
    mailtls[docs]``)."""
    try:
        from build_manpages.manpage import Manpage
    except ImportError:
        raise UsageError("the man page needs argparse-manpage: pip install 'mailtls[docs]'") \
            from None
    page = Manpage(parser, _data={"version": version, "project_name": "mailtls"},
                   format="single-commands-section")
    # non-ASCII as groff's Unicode escapes: the page reads the same without preconv
    return "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in str(page))
