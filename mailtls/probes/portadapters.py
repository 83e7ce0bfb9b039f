"""Adapters for the other secure ports of a mail host (LDAP, FTP, NNTP, HTTP): the same few
verbs as the mail adapters of ``mailtls.probes.session`` (greeting, capabilities, STARTTLS,
quit), so the basic probe, the TLS enumeration and the security probes drive them unchanged.

What "capabilities" means per protocol: LDAP the root DSE (RFC 4512 §5.1: supportedExtension
lists StartTLS), FTP the FEAT reply (RFC 2389; RFC 4217 §6: "AUTH TLS"), NNTP CAPABILITIES
(RFC 3977 §5.2; RFC 4642 §2: "STARTTLS"), HTTP the response head to ``HEAD /`` (the redirect
and the Strict-Transport-Security field are read from it). LDAP and HTTP have no greeting.
"""

from __future__ import annotations

from mailtls.errors import ProtocolError, SessionRejected
from mailtls.model import Endpoint, Protocol
from mailtls.net.stream import Stream
from mailtls.probes.session import Conversation, Recorder, expect_event
from mailtls.proto.ftp import FTPDialogue, FTPReply, parse_feat
from mailtls.proto.http import HTTPDialogue, HTTPResponse
from mailtls.proto.ldap import (
    NOTICE_OF_DISCONNECTION,
    STARTTLS_OID,
    LDAPDialogue,
    LDAPEntry,
    LDAPEvent,
    LDAPResult,
)
from mailtls.proto.nntp import CAPABILITIES_CODES, NNTPDialogue, NNTPResponse, parse_capabilities

ROOT_DSE_ATTRIBUTES = (
    "supportedExtension", "supportedSASLMechanisms", "supportedLDAPVersion", "namingContexts",
    "vendorName", "vendorVersion",
)  # fmt: skip
# Interim FTP replies (RFC 959 §4.2: 1yz) before the greeting: "120 ready in nnn minutes".
MAX_INTERIM = 5


class LDAPAdapter:
    starttls_word = "StartTLS"
    preauth = False  # MailAdapter: no PREAUTH outside IMAP
    greeting_caps: frozenset[str] | None = None
    # a root DSE that cannot be read says nothing about StartTLS: it is tried anyway
    tries_unadvertised = True

    def __init__(self, conv: Conversation[LDAPDialogue]) -> None:
        self.conv = conv

    async def event(self) -> LDAPEvent:
        event = await self.conv.next_event()
        if not isinstance(event, LDAPResult | LDAPEntry):
            raise ProtocolError(f"expected an LDAP message, the server's answer was "
                                f"{type(event).__name__}")
        if isinstance(event, LDAPResult) and event.message_id == 0:
            # Notice of Disconnection (RFC 4511 §4.4.1): the server is going away
            raise SessionRejected(f"notice of disconnection: {event.raw[0] if event.raw else ''}"
                                  if event.response_name == NOTICE_OF_DISCONNECTION
                                  else "unsolicited LDAP notification")
        return event

    async def result(self, message_id: int) -> tuple[LDAPResult, list[LDAPEntry]]:
        entries: list[LDAPEntry] = []
        while True:
            event = await self.event()
            if event.message_id != message_id:
                raise ProtocolError(f"answer to LDAP message #{event.message_id}, "
                                    f"expected #{message_id}")
            if isinstance(event, LDAPEntry):
                entries.append(event)
                continue
            return event, entries

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        return (), True  # the client speaks first

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        dialogue = self.conv.dialogue
        data = dialogue.search_root_dse(ROOT_DSE_ATTRIBUTES)
        await self.conv.send(data, f"#{dialogue.last_id} searchRequest base="" "
                                   f"attributes={','.join(ROOT_DSE_ATTRIBUTES)}")
        done, entries = await self.result(dialogue.last_id)
        raw = (*(line for e in entries for line in e.raw), *done.raw)
        caps = tuple(f"{name} {value}" for e in entries if not e.reference
                     for name, values in e.attributes for value in values)
        if done.result_code != 0 or not caps:
            return None, raw
        return caps, raw

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        return any(c.lower() == f"supportedextension {STARTTLS_OID}" for c in caps)

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        dialogue = self.conv.dialogue
        data = dialogue.start_tls()
        await self.conv.send(data, f"#{dialogue.last_id} extendedRequest {STARTTLS_OID} "
                                   "(StartTLS)")
        done, _ = await self.result(dialogue.last_id)
        return done.result_code == 0, done.raw

    async def bind(self, dn: str, password: str, shown: str) -> LDAPResult:
        """A simple bind; ``shown`` is what the transcript says was sent (never a password)."""
        dialogue = self.conv.dialogue
        data = dialogue.bind_simple(dn, password)
        await self.conv.send(data, f"#{dialogue.last_id} bindRequest simple {shown}")
        done, _ = await self.result(dialogue.last_id)
        return done

    async def quit(self) -> None:
        dialogue = self.conv.dialogue
        data = dialogue.unbind()
        await self.conv.send(data, f"#{dialogue.last_id} unbindRequest")


class FTPAdapter:
    starttls_word = "AUTH TLS"
    preauth = False  # MailAdapter: no PREAUTH outside IMAP
    greeting_caps: frozenset[str] | None = None
    tries_unadvertised = True  # FEAT is optional (RFC 2389); RFC 4217 servers may lack it

    def __init__(self, conv: Conversation[FTPDialogue]) -> None:
        self.conv = conv

    async def reply(self, timeout: float | None = None) -> FTPReply:
        event = expect_event(await self.conv.next_event(timeout), FTPReply, "an FTP reply")
        return event

    async def command(self, verb: str, argument: str | None = None,
                      shown: str | None = None) -> FTPReply:
        await self.conv.send(self.conv.dialogue.send_command(verb, argument), shown)
        reply = await self.reply()
        if reply.code == 421:  # service closing: rate limit or timeout, not an answer
            raise SessionRejected(f"{verb} answered {reply.raw[0]}")
        return reply

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        raw: list[str] = []
        for _ in range(MAX_INTERIM):
            reply = await self.reply(timeout)
            raw.extend(reply.raw)
            if not 100 <= reply.code < 200:
                return tuple(raw), reply.code == 220
        return tuple(raw), False

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        reply = await self.command("FEAT")
        if reply.code != 211:
            return None, reply.raw
        return parse_feat(reply), reply.raw

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        for feature in caps:
            words = feature.upper().split(None, 1)
            mechanisms = words[1].replace(";", " ").split() if len(words) > 1 else []
            if words and words[0] == "AUTH" and "TLS" in mechanisms:
                return True
        return False

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        reply = await self.command("AUTH", "TLS")
        return reply.code == 234, reply.raw

    async def quit(self) -> None:
        await self.conv.send(self.conv.dialogue.send_command("QUIT"))
        await self.reply()


class NNTPAdapter:
    starttls_word = "STARTTLS"
    preauth = False  # MailAdapter: no PREAUTH outside IMAP
    greeting_caps: frozenset[str] | None = None
    tries_unadvertised = False

    def __init__(self, conv: Conversation[NNTPDialogue]) -> None:
        self.conv = conv

    async def response(self, timeout: float | None = None) -> NNTPResponse:
        event = expect_event(await self.conv.next_event(timeout), NNTPResponse, "an NNTP response")
        return event

    async def command(self, verb: str, argument: str | None = None, *,
                      multiline: frozenset[int] = frozenset()) -> NNTPResponse:
        await self.conv.send(self.conv.dialogue.send_command(verb, argument, multiline=multiline))
        response = await self.response()
        if response.code == 400:  # service discontinued (RFC 3977 §3.2.1)
            raise SessionRejected(f"{verb} answered {response.raw[0]}")
        return response

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        response = await self.response(timeout)
        return response.raw, response.code in (200, 201)

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        response = await self.command("CAPABILITIES", multiline=CAPABILITIES_CODES)
        if response.code != 101:
            return None, response.raw
        return parse_capabilities(response), (*response.raw, ".")

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        return any(c.split()[0] == "STARTTLS" for c in caps if c.split())

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        response = await self.command("STARTTLS")
        return response.code == 382, response.raw

    async def quit(self) -> None:
        await self.conv.send(self.conv.dialogue.send_command("QUIT"))
        await self.response()


class HTTPAdapter:
    starttls_word = "HTTPS"
    preauth = False  # MailAdapter: no PREAUTH outside IMAP
    greeting_caps: frozenset[str] | None = None
    tries_unadvertised = False

    def __init__(self, conv: Conversation[HTTPDialogue], host: str) -> None:
        self.conv = conv
        self.host = host

    async def greeting(self, timeout: float | None = None) -> tuple[tuple[str, ...], bool]:
        return (), True  # the client speaks first

    async def head(self, path: str = "/") -> HTTPResponse:
        await self.conv.send(self.conv.dialogue.request(self.host, path))
        while True:
            event = expect_event(await self.conv.next_event(), HTTPResponse,
                                 "an HTTP response")
            if event.status >= 200:
                return event

    async def capabilities(self) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
        """The response head to HEAD /: its status line, then its fields as "name: value"."""
        response = await self.head()
        fields = tuple(f"{name}: {value}" for name, value in response.fields)
        return (f"HTTP/{response.version} {response.status} {response.reason}".rstrip(),
                *fields), response.raw

    @staticmethod
    def offers_starttls(caps: tuple[str, ...]) -> bool:
        return False  # HTTP has no upgrade to TLS on the same connection that browsers use

    async def starttls(self) -> tuple[bool, tuple[str, ...]]:
        return False, ()

    async def quit(self) -> None:
        return None  # "Connection: close": the server ends the exchange


PortAdapter = LDAPAdapter | FTPAdapter | NNTPAdapter | HTTPAdapter
OTHER_PROTOCOLS = frozenset({Protocol.LDAP, Protocol.FTP, Protocol.NNTP, Protocol.HTTP})


def http_host(endpoint: Endpoint) -> str:
    """The Host field: the name checked (an IPv6 literal in brackets)."""
    host = endpoint.host.rstrip(".")
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def port_adapter_for(
    stream: Stream, endpoint: Endpoint, recorder: Recorder, *, resumed: bool = False
) -> PortAdapter:
    protocol = endpoint.service.protocol
    if protocol is Protocol.LDAP:
        return LDAPAdapter(Conversation(stream, LDAPDialogue(), recorder))
    if protocol is Protocol.FTP:
        # after AUTH TLS the session goes on without a new greeting (RFC 4217 §4)
        return FTPAdapter(Conversation(stream, FTPDialogue(), recorder))
    if protocol is Protocol.NNTP:
        return NNTPAdapter(Conversation(stream, NNTPDialogue(expect_greeting=not resumed),
                                        recorder))
    if protocol is Protocol.HTTP:
        return HTTPAdapter(Conversation(stream, HTTPDialogue(), recorder), http_host(endpoint))
    raise ValueError(f"not one of the other ports: {protocol}")
