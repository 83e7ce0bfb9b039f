"""The project's own exception tree.

Foreign exceptions (OSError, ssl.SSLError, TimeoutError, socket.gaierror) are translated into
these once, in ``mailtls.net``; nothing above that layer catches a foreign exception.
"""

from __future__ import annotations


class MailTLSError(Exception):
    """Base of every error mailtls raises on purpose."""


class UsageError(MailTLSError):
    """The user asked for something that cannot be done (bad port, empty host, ...)."""


# --- the peer broke the protocol (h11's RemoteProtocolError) -------------------------------------
class ProtocolError(MailTLSError):
    """The server sent something the protocol does not allow (garbage, overlong line, ...)."""


class LineTooLong(ProtocolError):
    """A line exceeded the dialogue's limit without a line terminator."""


class ReplyTooLong(ProtocolError):
    """A multi-line reply exceeded the dialogue's line-count or byte limit (an endless reply)."""


class ReceiveLimitExceeded(ReplyTooLong):
    """One connection received more bytes or lines than its receive budget allows
    (``mailtls.net.receive``): an endless stream, whatever the dialogue made of it."""


class SessionRejected(ProtocolError):
    """The server ended or refused the session mid-dialogue (SMTP 421, IMAP BYE, ...):
    usually rate limiting, not a protocol violation; reported as could-not-test."""


# --- we misused a dialogue object (h11's LocalProtocolError) --------------------------------------
class LocalProtocolError(MailTLSError):
    """The caller used a dialogue object wrongly (a bug in mailtls, not the server's fault)."""


# --- network, mapped from OSError / ssl / asyncio ---------------------------------------------
class NetworkError(MailTLSError):
    """Anything that went wrong below the protocol."""


class NameNotResolved(NetworkError):
    """The host name has no address (NXDOMAIN, no A/AAAA, resolver failure)."""


class ConnectRefused(NetworkError):
    """TCP RST on connect: nothing listens there (or a firewall rejects)."""


class ConnectTimeout(NetworkError):
    """No answer to the TCP SYN within the connect timeout: filtered (dropped) on the way."""


class Unreachable(NetworkError):
    """ICMP unreachable / no route / local permission error."""


class DeadlinePassed(NetworkError):
    """The connection's deadline (its turn of the scan deadline) passed before the step could
    finish: nothing is known about the server from it."""


class ReadTimeout(NetworkError):
    """The peer did not send what we waited for within the read timeout."""


class ConnectionClosed(NetworkError):
    """The peer closed or reset the connection."""


class TLSHandshakeError(NetworkError):
    """The TLS handshake failed. ``verify_code`` is set when certificate verification failed."""

    def __init__(
        self, message: str, *, verify_code: int | None = None, verify_message: str | None = None
    ) -> None:
        super().__init__(message)
        self.verify_code = verify_code
        self.verify_message = verify_message


class HandshakeTimeout(TLSHandshakeError):
    """The TLS handshake did not finish within the handshake timeout."""


# --- DNS (mailtls.net.dns), mapped from dnspython ---------------------------------------------
class DNSError(NetworkError):
    """A DNS query got no usable answer: the resolver failed, refused or did not answer."""

    status = "error"


class DNSServerFailure(DNSError):
    """The resolver answered SERVFAIL (often: DNSSEC validation failed, or a broken zone)."""

    status = "servfail"


class DNSRefused(DNSError):
    """The resolver answered REFUSED (it does not serve us, or not this name)."""

    status = "refused"


class DNSTimeout(DNSError):
    """No answer from the resolver within the DNS timeout."""

    status = "timeout"
