"""Login credentials for the login test (``--user``), and the one type that holds a password.

The password lives in a ``Secret``: its ``repr``/``str`` never show it, so a stray log line, an
exception message or a dataclass ``repr`` cannot leak it. Only ``mailtls.probes.login`` calls
``reveal()``, to put it on the wire inside a verified TLS session. Everything that could echo
what was sent (transcripts, server answers) is scrubbed of ``LoginCredentials.redactions()``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from mailtls.errors import UsageError

#: Name of the loud override that lets the password go to a server whose certificate was not
#: verified (still never before TLS). Kept in one place for the CLI, the report and the tests.
INSECURE_FLAG = "--insecure-send-password-to-unverified-server"
PASSWORD_ENV = "MAILTLS_PASSWORD"


class Secret:
    """A string that does not show itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> str:  # pickling would write it somewhere
        raise TypeError("a Secret cannot be pickled")


def sasl_plain(username: str, password: str) -> str:
    """The base64 SASL PLAIN response (RFC 4616): empty authzid, authcid, password."""
    return base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


@dataclass(frozen=True)
class LoginCredentials:
    username: str
    password: Secret = field(repr=False)
    # --insecure-send-password-to-unverified-server: log in although the certificate is
    # untrusted or names another host. Never lifts "only inside TLS".
    allow_unverified: bool = False

    def __post_init__(self) -> None:
        check_login_text("user name", self.username)
        check_login_text("password", self.password.reveal())
        if not self.username:
            raise UsageError("--user: empty user name")

    def redactions(self) -> tuple[str, ...]:
        """Every form of the password that can appear on the wire, longest first."""
        pw = self.password.reveal()
        if not pw:
            return ()
        forms = {pw, b64(pw), sasl_plain(self.username, pw)}
        quoted = pw.replace("\\", "\\\\").replace('"', '\\"')
        forms.add(quoted)
        return tuple(sorted(forms, key=len, reverse=True))


def check_login_text(what: str, value: str) -> None:
    """Refuse what no protocol line can carry - without echoing the value."""
    if any(c in value for c in ("\r", "\n", "\0")):
        raise UsageError(f"the {what} contains a line break or NUL, which cannot be sent")
