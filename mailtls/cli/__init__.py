"""The command line: ``mailtls check`` and the parser (``app``), ``mailtls client`` (``client``),
regression commands and formats (``regression``), ``mailtls demo`` (``demo``).

``mailtls.cli:main`` is the console script; the module with the parser is ``app`` (not ``main``,
so the function ``main`` never shadows a submodule of the same name).
"""

from __future__ import annotations

from mailtls.cli.app import main

__all__ = ["main"]
