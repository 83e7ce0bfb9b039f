"""The progress line: live on a terminal (a real pseudo-terminal here), absent when standard
error is not a terminal, and absent with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from mailtls.testing import TestPKI, start_smtp


def _run(pki: TestPKI, port: int, *extra: str, tty: bool) -> tuple[int, str, str]:
    argv = [sys.executable, "-m", "mailtls", "check", "mail.example.test", "--address",
            "127.0.0.1", "--service", f"submission={port}", "--ca-file", pki.ca_file(),
            "--no-color", *extra]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    if not tty:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    try:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, env=env, text=True)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        out, _ = child.communicate(timeout=60)
        code = child.returncode
    finally:
        os.close(master)
    return code, out, seen.decode("utf-8", "replace")


def test_progress_on_a_terminal_only(pki: TestPKI) -> None:
    with start_smtp(pki) as smtp:
        code, out, err = _run(pki, smtp.port, tty=True)
        assert code == 0, err
        assert "mailtls mail.example.test:" in err and "ports probed" in err
        assert "ports probed" not in out  # the report on stdout is clean
        code, out, err = _run(pki, smtp.port, "--quiet", tty=True)
        assert code == 0 and "ports probed" not in err
        code, out, err = _run(pki, smtp.port, tty=False)
        assert code == 0 and err == ""
        assert "mail.example.test: PASS" in out
