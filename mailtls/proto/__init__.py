"""Sans-I/O mail protocol dialogues: bytes in, events out, bytes to send.

No sockets, no clock, no asyncio: the probes in ``mailtls.probes`` drive these objects. Each
dialogue raises ``ProtocolError`` (or its subclasses ``LineTooLong``/``ReplyTooLong``) when the
server breaks the protocol and ``LocalProtocolError`` when the caller misuses it; see
``mailtls.proto._dialogue`` for the shared error and pending-bytes contract.
"""

from __future__ import annotations

from mailtls.proto.imap import (
    IMAPContinuation,
    IMAPDialogue,
    IMAPEvent,
    IMAPGreeting,
    IMAPTagged,
    IMAPUntagged,
    capabilities_from,
    parse_greeting,
)
from mailtls.proto.lines import LineBuffer, decode_line, printable
from mailtls.proto.pop3 import POP3Dialogue, POP3Event, POP3MultiLine, POP3Status, parse_capa
from mailtls.proto.smtp import EhloInfo, SMTPDialogue, SMTPReply, parse_ehlo

__all__ = [
    "EhloInfo",
    "IMAPContinuation",
    "IMAPDialogue",
    "IMAPEvent",
    "IMAPGreeting",
    "IMAPTagged",
    "IMAPUntagged",
    "LineBuffer",
    "POP3Dialogue",
    "POP3Event",
    "POP3MultiLine",
    "POP3Status",
    "SMTPDialogue",
    "SMTPReply",
    "capabilities_from",
    "decode_line",
    "parse_capa",
    "parse_ehlo",
    "parse_greeting",
    "printable",
]
