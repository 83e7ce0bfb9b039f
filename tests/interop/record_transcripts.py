"""Re-record fixtures/transcripts/ from the interop suite's private Postfix and Dovecot.

    unshare -n -- sh -c 'ip link set lo up && exec $PY tests/interop/record_transcripts.py'

($PY: the project's venv Python, e.g. .venv/bin/python)

Needs root and scripts/install/interop.sh (like the interop suite). Starts only the ``good``
profile (tests/interop/interop_servers.py) on 127.0.0.11 in a private temp dir, and on each of
its seven ports records the greeting and EHLO/CAPABILITY/CAPA before STARTTLS/STLS and again
after the handshake (implicit-TLS ports: after the handshake only). Nothing secret is sent.

File format (read by tests/proto/test_recorded_servers.py): ``#`` lines say where the file came
from; ``C: `` is a line the client sent, ``S: `` a line the server sent (CRLF removed),
``-- TLS --`` marks where the TLS session starts. The sans-I/O dialogues only decide where a
reply ends; the bytes saved are the server's own.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))  # the checkout: tests.* by package

from mailtls.proto.imap import IMAPDialogue, IMAPTagged  # noqa: E402
from mailtls.proto.pop3 import POP3Dialogue  # noqa: E402
from mailtls.proto.smtp import SMTPDialogue  # noqa: E402
from tests.interop.interop_servers import PROFILES, running  # noqa: E402

OUT = HERE.parents[1] / "fixtures" / "transcripts"
IMPLICIT = {"submissions", "imaps", "pop3s"}


class Recorder:
    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self.lines: list[str] = []

    def mark_tls(self) -> None:
        self.lines.append("-- TLS --")

    def send(self, data: bytes) -> None:
        self.lines.append("C: " + data.decode().rstrip("\r\n"))
        self.sock.sendall(data)

    def read_until(self, feed: Callable[[bytes], bool]) -> None:
        """Read until ``feed`` (the dialogue) says the awaited answer is complete."""
        buffer = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            buffer += chunk
            if feed(chunk):
                break
        text = buffer.decode("utf-8", "replace")
        assert text.endswith("\r\n"), text
        self.lines.extend("S: " + line for line in text[:-2].split("\r\n"))


def _client_context() -> ssl.SSLContext:
    # Recording only: the server's certificate is judged by the interop suite, not here.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _tls(rec: Recorder, host: str) -> None:
    rec.sock = _client_context().wrap_socket(rec.sock, server_hostname=host)
    rec.mark_tls()


def smtp(rec: Recorder, host: str, implicit: bool) -> None:
    def exchange(dialogue: SMTPDialogue, data: bytes | None) -> None:
        if data is not None:
            rec.send(data)
        rec.read_until(lambda chunk: bool(dialogue.receive_data(chunk)))

    dialogue = SMTPDialogue()
    exchange(dialogue, None)  # greeting
    exchange(dialogue, dialogue.send_command("EHLO", "recorder.test"))
    if not implicit:
        exchange(dialogue, dialogue.send_command("STARTTLS"))
        _tls(rec, host)
        dialogue = SMTPDialogue()  # RFC 3207 §4.2: no greeting, the client starts with EHLO
        exchange(dialogue, dialogue.send_command("EHLO", "recorder.test"))
    exchange(dialogue, dialogue.send_command("QUIT"))


def imap(rec: Recorder, host: str, implicit: bool) -> None:
    def until_tagged(dialogue: IMAPDialogue) -> Callable[[bytes], bool]:
        return lambda chunk: any(isinstance(e, IMAPTagged) for e in dialogue.receive_data(chunk))

    dialogue = IMAPDialogue()
    rec.read_until(lambda chunk: bool(dialogue.receive_data(chunk)))  # greeting
    _, data = dialogue.send_command("CAPABILITY")
    rec.send(data)
    rec.read_until(until_tagged(dialogue))
    if not implicit:
        _, data = dialogue.send_command("STARTTLS")
        rec.send(data)
        rec.read_until(until_tagged(dialogue))
        _tls(rec, host)
        dialogue = IMAPDialogue(tag_prefix="B")
        _, data = dialogue.send_command("CAPABILITY")
        rec.send(data)
        rec.read_until(until_tagged(dialogue))
    _, data = dialogue.send_command("LOGOUT")
    rec.send(data)
    rec.read_until(until_tagged(dialogue))


def pop3(rec: Recorder, host: str, implicit: bool) -> None:
    def exchange(dialogue: POP3Dialogue, data: bytes | None) -> None:
        if data is not None:
            rec.send(data)
        rec.read_until(lambda chunk: bool(dialogue.receive_data(chunk)))

    dialogue = POP3Dialogue()
    exchange(dialogue, None)  # greeting
    exchange(dialogue, dialogue.send_command("CAPA", multiline=True))
    if not implicit:
        exchange(dialogue, dialogue.send_command("STLS"))
        _tls(rec, host)
        dialogue = POP3Dialogue(expect_greeting=False)  # RFC 2595 §4: no new greeting
        exchange(dialogue, dialogue.send_command("CAPA", multiline=True))
    exchange(dialogue, dialogue.send_command("QUIT"))


def _version(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    profile = PROFILES["good"]
    postfix = _version(["postconf", "-dh", "mail_version"])
    dovecot = _version(["dovecot", "--version"]).split()[0]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    OUT.mkdir(parents=True, exist_ok=True)
    with running([profile]):
        for service, port in profile.ports.items():
            implicit = service in IMPLICIT
            if service.startswith("imap"):
                name, software, run = "dovecot-2.3", f"Dovecot {dovecot}", imap
            elif service.startswith("pop3"):
                name, software, run = "dovecot-2.3", f"Dovecot {dovecot}", pop3
            else:
                name, software, run = "postfix-3.7", f"Postfix {postfix}", smtp
                if service == "smtp":
                    software += " (postscreen in front of smtpd)"
            sock = socket.create_connection((profile.address, port), timeout=10)
            rec = Recorder(sock)
            if implicit:
                _tls(rec, profile.address)
            try:
                run(rec, profile.address, implicit)
            finally:
                rec.sock.close()
            header = [
                f"# {software}, Debian package, interop profile 'good' "
                f"(tests/interop/interop_servers.py), port {port} ({service}).",
                f"# Recorded {today} over loopback by tests/interop/record_transcripts.py.",
            ]
            path = OUT / f"{name}-{service}.txt"
            path.write_text("\n".join(header + rec.lines) + "\n")
            print(f"{path}: {len(rec.lines)} lines")


if __name__ == "__main__":
    main()
