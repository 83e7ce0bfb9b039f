"""Standard output of the ``mailtls`` command: what happens when it cannot be written.

The reader of a pipe may go away (``mailtls rules | head -1``): a Unix tool then ends quietly
(EPIPE; 141, the status of a command killed by SIGPIPE). A full disk (``> /dev/full``) or a
closed stdout is the user's to fix, not our bug: one line on stderr and exit 3, never
"internal error" nor a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import Any, TextIO

__all__ = ["OutputError", "finish_output", "guard_stdout"]

EXIT_BROKEN_PIPE = 128 + 13  # as if killed by SIGPIPE, like `yes | head -1`
EXIT_OUTPUT_ERROR = 3


class OutputError(Exception):
    """Writing to standard output failed."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.strerror or str(cause))
        self.cause = cause

    @property
    def broken_pipe(self) -> bool:
        return isinstance(self.cause, BrokenPipeError) or self.cause.errno == errno.EPIPE


class _Guarded:
    """sys.stdout, with write errors raised as :class:`OutputError`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def guard_stdout() -> None:
    """Install the guard (the CLI launcher only). A closed stdout is an error right away."""
    if sys.stdout is None:  # started with fd 1 closed (`mailtls rules >&-`)
        print("mailtls: cannot write the output: standard output is closed", file=sys.stderr)
        sys.exit(EXIT_OUTPUT_ERROR)
    try:
        os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):
        print("mailtls: cannot write the output: standard output is closed", file=sys.stderr)
        sys.exit(EXIT_OUTPUT_ERROR)
    sys.stdout = _Guarded(sys.stdout)


def finish_output(error: OutputError | None = None) -> int | None:
    """Flush stdout; on failure (now or ``error`` from before) say so once and return the exit
    code. Afterwards stdout points to /dev/null, so the interpreter's own final flush is quiet."""
    if error is None:
        try:
            sys.stdout.flush()
            return None
        except OutputError as exc:
            error = exc
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if error.broken_pipe:
        return EXIT_BROKEN_PIPE
    with contextlib.suppress(OSError):
        print(f"mailtls: cannot write the output: {error}", file=sys.stderr, flush=True)
    return EXIT_OUTPUT_ERROR
