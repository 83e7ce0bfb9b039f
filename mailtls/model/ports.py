"""What a TCP port number is: the one range check every reader of a port uses."""

from __future__ import annotations

from typing import TypeGuard

#: The highest TCP port number (RFC 793 §3.1: the port fields are 16 bits).
MAX_PORT = 65535


def is_port(value: object, *, zero_allowed: bool = False) -> TypeGuard[int]:
    """True if ``value`` is an ``int`` from 1 (0 with ``zero_allowed``) to 65535.

    ``bool`` is not a port, though Python counts it as an ``int``: a JSON or prefs.js ``true``
    must not read as port 1.
    """
    return type(value) is int and (0 if zero_allowed else 1) <= value <= MAX_PORT
