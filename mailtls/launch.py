"""The ``mailtls`` command (console script and ``python -m mailtls``): the process-wide setup a
command-line tool needs and a library must not do, then :func:`mailtls.cli.main`.

* SIGINT and SIGTERM are blocked first thing, then handed to :mod:`mailtls.scan.interrupt`
  once everything is imported: a signal during start-up is not lost, and never a traceback.
  Once the command has returned they are held back again, so a signal during the
  interpreter's shutdown cannot turn a finished run's exit status into "killed by SIGINT".
* The cyclic garbage collector is off while the CLI is imported, then on again for the
  command, with what start-up made frozen out of its way.
* Standard output is guarded: a reader that went away (``mailtls rules | head -1``) ends the
  command quietly, like any Unix tool; a full disk or closed stdout is one line on stderr.
"""

from __future__ import annotations

import gc
import signal

if hasattr(signal, "pthread_sigmask"):  # before anything slow is imported
    signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT, signal.SIGTERM))
# Importing the CLI creates tens of thousands of objects, few of them garbage: the cyclic
# collector would scan them again and again (~10 % of a quick check, issue 12). It is off while
# importing; main() freezes what start-up made (never scanned again) and turns it back on.
if gc.isenabled():
    gc.disable()

import sys

from mailtls.cli import main as cli_main  # imported while the signals are still held back
from mailtls.cli.stdout import guard_stdout
from mailtls.scan import interrupt


def main() -> int:
    gc.freeze()
    gc.enable()
    interrupt.install()
    guard_stdout()
    code = 3  # the contract's "interrupted" if a signal escapes the command itself
    try:
        code = cli_main()
    except interrupt.Interrupted:
        pass  # a signal after the command had finished (it handles its own while it runs)
    finally:
        # The work is done and reported. While the interpreter shuts down it puts SIGINT and
        # SIGTERM back to their defaults, so a signal arriving now would kill the process and
        # turn a finished run's exit status into "killed by SIGINT": hold them back instead.
        interrupt.block()
    return code


if __name__ == "__main__":  # pragma: no cover - python -m mailtls.launch
    sys.exit(main())
