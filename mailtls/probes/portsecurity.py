"""The STARTTLS-style security probes of the other ports (LDAP 389, FTP 21, NNTP 119); the
same rules as ``mailtls.probes.security`` (own connections, made-up credentials, a verdict per
fact, ``checks/ports.py`` judges):

===================== ========= =========================================================
probe                 services  passed / failed
===================== ========= =========================================================
command_injection     ftp, nntp a command pipelined after AUTH TLS / STARTTLS (same write)
                                is dropped / answered inside TLS (CVE-2011-1575 and
                                CVE-2012-3523 are this bug in Pure-FTPd and INN)
plaintext_login       ftp       USER (made-up name) before AUTH TLS refused (530/534) /
                                answered 331 "password required" (PASS is never sent)
                      nntp      AUTHINFO USER (made-up) before STARTTLS refused (483/502) /
                                answered 381 "password required" (PASS is never sent)
plaintext_bind        ldap      a simple bind with a made-up DN and password before StartTLS
                                gets confidentialityRequired (13) / invalidCredentials (49):
                                the server read the password sent in plaintext
data_protection       ftp       PBSZ 0 and PROT P accepted under TLS / refused: data
                                connections would stay in plaintext (RFC 4217 §9)
===================== ========= =========================================================
"""

from __future__ import annotations

import re

from mailtls.errors import TLSHandshakeError
from mailtls.model import Endpoint, PortState, Protocol
from mailtls.net.stream import Stream
from mailtls.probes.mailport import ProbeOptions, adapter_for, polite_quit
from mailtls.probes.portadapters import FTPAdapter, LDAPAdapter, NNTPAdapter, PortAdapter
from mailtls.probes.security import (
    Body,
    _after_go_ahead,
    _failed,
    _inconclusive,
    _not_executed,
    _Outcome,
    _passed,
    _run,
    _send_pipelined,
    _send_sentinel,
    _Session,
    _starttls_usable,
    _Stop,
    _untestable,
    dummy_credentials,
)
from mailtls.probes.session import Recorder

_FINAL = re.compile(r"^\d{3}( |$)")  # the last line of an FTP reply / an NNTP status line


def _port_adapter(sess: _Session, stream: Stream, *, resumed: bool = False) -> PortAdapter:
    adapter = adapter_for(stream, sess.endpoint, sess.notes, resumed=resumed)
    assert isinstance(adapter, LDAPAdapter | FTPAdapter | NNTPAdapter)
    return adapter


async def _open(sess: _Session) -> tuple[Stream, PortAdapter, tuple[str, ...] | None]:
    stream = await sess.connect()
    adapter = _port_adapter(sess, stream)
    greeting, ok = await adapter.greeting()
    if not ok:
        raise _Stop(_inconclusive("the server refused this connection in its greeting "
                                  "(rate limiting?)", greeting))
    caps, _raw = await adapter.capabilities()
    return stream, adapter, caps


async def _upgrade(sess: _Session, stream: Stream, adapter: PortAdapter) -> PortAdapter:
    ok, reply = await adapter.starttls()
    if not ok:
        raise _Stop(_inconclusive(f"{adapter.starttls_word} was refused on this connection",
                                  reply))
    leftovers = adapter.conv.take_leftovers()
    if leftovers:
        sess.note(f"{len(leftovers)} plaintext byte(s) after the go-ahead, discarded")
    try:
        await sess.handshake(stream)
    except TLSHandshakeError as exc:
        raise _Stop(_inconclusive(f"the TLS handshake failed on this connection: {exc}")) from None
    return _port_adapter(sess, stream, resumed=True)


# --- command injection (FTP, NNTP) ---------------------------------------------------------------


async def _command_injection(sess: _Session, rec: Recorder) -> _Outcome:
    blocked = _starttls_usable(rec)
    if blocked is not None:
        return blocked
    stream, adapter, _caps = await _open(sess)
    word = adapter.starttls_word
    if isinstance(adapter, FTPAdapter):
        d_ftp = adapter.conv.dialogue
        parts = [d_ftp.send_command("AUTH", "TLS"), d_ftp.send_command("SYST")]
        injected, real = "SYST", "NOOP"
    else:
        assert isinstance(adapter, NNTPAdapter)
        d_nntp = adapter.conv.dialogue
        parts = [d_nntp.send_command("STARTTLS"), d_nntp.send_command("DATE")]
        injected, real = "DATE", "DATE"
    await _send_pipelined(adapter, parts)
    first = await adapter.conv.next_event()
    reply = tuple(getattr(first, "raw", ()))
    code = getattr(first, "code", 0)
    if code not in (234, 382):
        if 500 <= code < 600:
            return _passed(f"the server refused {word} when a command followed it in the same "
                           "packet (it accepted it alone)", reply, "starttls_refused")
        return _inconclusive(f"{word} was not accepted on this connection", reply)
    records, plaintext = await _after_go_ahead(sess, adapter)
    if records:
        return _passed(f"the server took the {injected} pipelined after {word} as the start of "
                       "the TLS handshake: nothing ran",
                       [*reply, f"TLS record(s) from the server: {records[:16].hex()}"],
                       "pipelined_as_tls")
    try:
        await sess.handshake(stream)
    except TLSHandshakeError as exc:
        return _passed(f"the TLS handshake failed after the pipelined {injected} ({exc}): the "
                       "server read it as TLS data, it did not run it", reply, "handshake_failed")
    # The sentinel (as for the mail ports): a real command and QUIT in one write. Replies come
    # in order (RFC 959 §4.2, RFC 3977 §3.5), so QUIT's answer ends the reading.
    bye = "221" if isinstance(adapter, FTPAdapter) else "205"
    evidence = [*reply, *plaintext]
    lines, closed = await _send_sentinel(
        sess, stream, [f"{real}\r\n".encode(), b"QUIT\r\n"],
        f"sentinel: {real} and QUIT in one write; a reply before the one to {real} answers the "
        f"pipelined {injected}", evidence, lambda got: any(x.startswith(bye) for x in got))
    finals = [x for x in lines if _FINAL.match(x) and not x.startswith(bye)]
    if len(finals) >= 2:
        return _failed(f"the server answered the {injected} pipelined after {word} inside TLS: "
                       "it runs plaintext commands as if they had come through TLS",
                       [*evidence, *finals], "executed")
    return _not_executed(injected, word, real, evidence, finals, lines, closed, bool(plaintext),
                         "no answer to a real command inside TLS: cannot tell")


# --- plaintext login (FTP USER, NNTP AUTHINFO USER) ----------------------------------------------


async def _plaintext_login(sess: _Session, rec: Recorder) -> _Outcome:
    user, _password = dummy_credentials()
    _stream, adapter, _caps = await _open(sess)
    sess.note(f"made-up user name {user}; no password follows")
    if isinstance(adapter, FTPAdapter):
        reply = await adapter.command("USER", user)
        await polite_quit(adapter)
        evidence = list(reply.raw)
        if reply.code in (331, 332):
            return _failed(f"USER before {adapter.starttls_word} was answered {reply.code}: the "
                           "server asks for the password in plaintext", evidence, "continued")
        if 200 <= reply.code < 300:
            return _failed("USER before AUTH TLS logged in without a password", evidence,
                           "accepted")
        if reply.code in (530, 534, 533, 550, 500, 502, 504):
            return _passed(f"USER before {adapter.starttls_word} was refused ({reply.code})",
                           evidence, "refused")
        return _inconclusive(f"USER before {adapter.starttls_word} got {reply.code}", evidence)
    assert isinstance(adapter, NNTPAdapter)
    response = await adapter.command("AUTHINFO", f"USER {user}")
    await polite_quit(adapter)
    evidence = list(response.raw)
    if response.code == 381:
        return _failed("AUTHINFO USER before STARTTLS was answered 381: the server asks for the "
                       "password in plaintext", evidence, "continued")
    if response.code == 281:
        return _failed("AUTHINFO USER before STARTTLS logged in without a password", evidence,
                       "accepted")
    if response.code in (483, 502, 500, 501, 481, 480):
        return _passed(f"AUTHINFO USER before STARTTLS was refused ({response.code})", evidence,
                       "refused")
    return _inconclusive(f"AUTHINFO USER before STARTTLS got {response.code}", evidence)


# --- LDAP simple bind before StartTLS (RFC 4513 §5.1.3, §6.3.2) ----------------------------------


async def _plaintext_bind(sess: _Session, rec: Recorder) -> _Outcome:
    user, password = dummy_credentials()
    _stream, adapter, caps = await _open(sess)
    # Under one of the server's own naming contexts: a DN outside all of them is answered
    # invalidCredentials before any confidentiality rule is looked at (no database holds it).
    contexts = [c.split(" ", 1)[1] for c in caps or () if c.lower().startswith("namingcontexts ")]
    base = next((c for c in contexts if c), "dc=example,dc=invalid")
    dn = f"cn={user},{base}"
    assert isinstance(adapter, LDAPAdapter)
    result = await adapter.bind(dn, password, f"{dn} (made-up password, not shown)")
    await polite_quit(adapter)
    evidence = list(result.raw)
    if result.result_code == 13:
        return _passed("a simple bind before StartTLS got confidentialityRequired (13): the "
                       "server refuses passwords in plaintext", evidence, "refused")
    if result.result_code in (8, 48, 53):
        return _passed(f"a simple bind before StartTLS was refused ({result.result_name})",
                       evidence, "refused")
    if result.result_code == 49:
        return _failed("a simple bind with a made-up DN and password before StartTLS got "
                       "invalidCredentials (49): the server checked a password that crossed the "
                       "network in plaintext", evidence, "checked")
    if result.result_code == 0:
        return _failed("a simple bind with a made-up DN and password before StartTLS succeeded",
                       evidence, "accepted")
    return _inconclusive(f"a simple bind before StartTLS got {result.result_name}", evidence)


# --- FTP: PBSZ 0 / PROT P under TLS (RFC 4217 §8-9) ----------------------------------------------


async def _data_protection(sess: _Session, rec: Recorder) -> _Outcome:
    blocked = _starttls_usable(rec)
    if blocked is not None:
        return blocked
    stream, adapter, _caps = await _open(sess)
    resumed = await _upgrade(sess, stream, adapter)
    assert isinstance(resumed, FTPAdapter)
    pbsz = await resumed.command("PBSZ", "0")
    prot = await resumed.command("PROT", "P")
    await polite_quit(resumed)
    evidence = [*pbsz.raw, *prot.raw]
    if prot.code == 200:
        return _passed("PBSZ 0 and PROT P were accepted: data connections are protected too",
                       evidence, "prot_p")
    if prot.code == 530 and "login" in prot.text.lower():
        return _untestable("the server takes PROT only after login", evidence, "after_login")
    return _failed(f"PROT P under TLS was answered {prot.code}: data connections (listings, "
                   "files) would cross the network in plaintext", evidence, "refused")


async def probe_port_security(
    endpoint: Endpoint, options: ProbeOptions, recorder: Recorder
) -> None:
    """Run the probes of ``plan`` into ``recorder.security`` (as ``security.probe_security``
    does for the mail ports, with its runner)."""
    if recorder.state is not PortState.OPEN or not recorder.greeting_ok:
        return
    if recorder.tls_on_starttls_port:
        return
    for name, body in plan(endpoint, options):
        await _run(name, body, endpoint, options, recorder)


def plan(endpoint: Endpoint, options: ProbeOptions) -> list[tuple[str, Body]]:
    """The probes of the other ports, in the order they run (none on implicit/HTTP ports)."""
    del options
    protocol = endpoint.service.protocol
    if endpoint.service.tls_mode.value != "starttls":
        return []
    if protocol is Protocol.FTP:
        return [("command_injection", _command_injection), ("plaintext_login", _plaintext_login),
                ("data_protection", _data_protection)]
    if protocol is Protocol.NNTP:
        return [("command_injection", _command_injection), ("plaintext_login", _plaintext_login)]
    if protocol is Protocol.LDAP:
        return [("plaintext_bind", _plaintext_bind)]
    return []
