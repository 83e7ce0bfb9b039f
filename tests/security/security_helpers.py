"""Constants shared by the security-probe tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailtls.testing import start_imap, start_pop3, start_smtp
from mailtls.testing.hostile import MailProtocol

PROTOCOLS: list[MailProtocol] = ["smtp", "imap", "pop3"]
SERVICE = {"smtp": "submission", "imap": "imap", "pop3": "pop3"}  # the STARTTLS ports
STARTERS: dict[str, Callable[..., Any]] = {"smtp": start_smtp, "imap": start_imap,
                                           "pop3": start_pop3}
