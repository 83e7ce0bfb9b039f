"""The dialogues of the other ports: FTP, NNTP, HTTP (HEAD) and LDAP (BER), on transcripts
captured from the real servers of the interop suite (vsftpd 3.0.3, INN 2.7.1, nginx 1.22,
slapd 2.5), whole and split at every byte, and their errors and limits."""

from __future__ import annotations

import pytest

from mailtls.errors import LineTooLong, LocalProtocolError, ProtocolError, ReplyTooLong
from mailtls.proto.ftp import FTPDialogue, FTPReply, parse_feat
from mailtls.proto.http import HTTPDialogue, HTTPResponse
from mailtls.proto.ldap import STARTTLS_OID, LDAPDialogue, LDAPEntry, LDAPResult
from mailtls.proto.nntp import CAPABILITIES_CODES, NNTPDialogue, NNTPResponse, parse_capabilities
from tests.proto.proto_helpers import assert_chunking_invariant, run

# --- FTP ------------------------------------------------------------------------------------------

VSFTPD = (
    b"220 (vsFTPd 3.0.3)\r\n211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n"
    b" PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n"
    b"331 Please specify the password.\r\n221 Goodbye.\r\n"
)


def test_ftp_vsftpd_transcript() -> None:
    events, error, pending = assert_chunking_invariant(FTPDialogue, VSFTPD)
    assert error is None and pending == b""
    greeting, feat, user, bye = events
    assert greeting == FTPReply(220, ("(vsFTPd 3.0.3)",), ("220 (vsFTPd 3.0.3)",))
    assert feat.code == 211 and feat.raw[0] == "211-Features:" and feat.raw[-1] == "211 End"
    assert parse_feat(feat) == ("AUTH TLS", "EPRT", "EPSV", "MDTM", "PASV", "PBSZ", "PROT",
                                "REST STREAM", "SIZE", "TVFS")
    assert (user.code, bye.code) == (331, 221)


def test_ftp_multiline_lines_may_look_like_codes() -> None:
    """RFC 959 §4.2: only "NNN " with the first line's code ends a multi-line reply."""
    data = b"211-Features:\r\n 200 not the end\r\n212 other code\r\n211-still\r\n211\r\n"
    events, error, _ = assert_chunking_invariant(FTPDialogue, data)
    assert error is None
    assert [e.code for e in events] == [211] and len(events[0].raw) == 5


@pytest.mark.parametrize("data", [b"hello\r\n", b"22\r\n", b"220x\r\n", b"\x16\x03\x01\x00",
                                  b"2200 x\r\n"])
def test_ftp_garbage(data: bytes) -> None:
    _events, error, _ = assert_chunking_invariant(FTPDialogue, data)
    assert error is ProtocolError


def test_ftp_limits() -> None:
    _, error, _ = run(lambda: FTPDialogue(max_line=10), [b"220 " + b"x" * 20])
    assert error is LineTooLong
    endless = b"211-x\r\n" + b" feature\r\n" * 10
    _, error, _ = assert_chunking_invariant(lambda: FTPDialogue(max_reply_lines=5), endless)
    assert error is ReplyTooLong


def test_ftp_commands() -> None:
    d = FTPDialogue()
    assert d.send_command("AUTH", "TLS") == b"AUTH TLS\r\n"
    assert d.send_command("pbsz", "0") == b"PBSZ 0\r\n"
    for verb, arg in (("AUTH TLS", None), ("USER", "a\r\nPASS b"), ("X", None)):
        with pytest.raises(LocalProtocolError):
            d.send_command(verb, arg)


# --- NNTP -----------------------------------------------------------------------------------------

INN = (
    b"201 mail.example.test InterNetNews NNRP server INN 2.7.1 ready (no posting)\r\n"
    b"101 Capability list:\r\nVERSION 2\r\nIMPLEMENTATION INN 2.7.1\r\nAUTHINFO USER SASL\r\n"
    b"COMPRESS DEFLATE\r\nHDR\r\nOVER\r\nREADER\r\nsasl PLAIN LOGIN\r\nSTARTTLS\r\nXPAT\r\n"
    b"..dot-stuffed\r\n.\r\n381 Enter password\r\n580 Error initializing TLS\r\n205 Bye!\r\n"
)


def inn_client() -> NNTPDialogue:
    d = NNTPDialogue()
    assert d.send_command("CAPABILITIES", multiline=CAPABILITIES_CODES) == b"CAPABILITIES\r\n"
    assert d.send_command("AUTHINFO", "USER x") == b"AUTHINFO USER x\r\n"
    d.send_command("STARTTLS")
    d.send_command("QUIT")
    return d


def test_nntp_inn_transcript() -> None:
    events, error, pending = assert_chunking_invariant(inn_client, INN)
    assert error is None and pending == b""
    greeting, caps, user, starttls, bye = events
    assert greeting.code == 201 and not greeting.unsolicited
    assert caps.code == 101 and caps.raw[0] == "101 Capability list:"
    assert parse_capabilities(caps)[-3:] == ("STARTTLS", "XPAT", ".DOT-STUFFED")
    assert "SASL PLAIN LOGIN" in parse_capabilities(caps)  # labels are case-insensitive
    assert [e.code for e in (user, starttls, bye)] == [381, 580, 205]


def test_nntp_error_answer_has_no_block_and_unsolicited() -> None:
    d = lambda: _with(NNTPDialogue(), "CAPABILITIES")  # noqa: E731
    events, error, _ = assert_chunking_invariant(d, b"200 hi\r\n500 what?\r\n400 bye\r\n")
    assert error is None
    assert [(e.code, e.unsolicited) for e in events] == [(200, False), (500, False), (400, True)]


def _with(d: NNTPDialogue, verb: str) -> NNTPDialogue:
    d.send_command(verb, multiline=CAPABILITIES_CODES)
    return d


def test_nntp_resumed_after_starttls_has_no_greeting() -> None:
    d = NNTPDialogue(expect_greeting=False)
    d.send_command("CAPABILITIES", multiline=CAPABILITIES_CODES)
    events = d.receive_data(b"101 caps\r\nVERSION 2\r\n.\r\n")
    assert events == [NNTPResponse(101, "caps", ("101 caps", "VERSION 2"), ("VERSION 2",))]


@pytest.mark.parametrize("data", [b"+OK\r\n", b"20\r\n", b"200-x\r\n", b"\x16\x03\x01"])
def test_nntp_garbage(data: bytes) -> None:
    _events, error, _ = assert_chunking_invariant(NNTPDialogue, data)
    assert error is ProtocolError


def test_nntp_endless_block() -> None:
    data = b"200 hi\r\n101 caps\r\n" + b"X\r\n" * 20
    _, error, _ = assert_chunking_invariant(
        lambda: _with(NNTPDialogue(max_lines=8), "CAPABILITIES"), data)
    assert error is ReplyTooLong


# --- HTTP -----------------------------------------------------------------------------------------

NGINX_REDIRECT = (
    b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\n"
    b"Date: Sun, 06 Dec 2026 05:04:24 GMT\r\nContent-Type: text/html\r\nContent-Length: 169\r\n"
    b"Connection: close\r\nLocation: https://mail.example.test/\r\n\r\n"
)


def http_client() -> HTTPDialogue:
    d = HTTPDialogue()
    request = d.request("mail.example.test")
    assert request.startswith(b"HEAD / HTTP/1.1\r\nHost: mail.example.test\r\n")
    assert request.endswith(b"Connection: close\r\n\r\n")
    return d


def test_http_nginx_redirect() -> None:
    events, error, pending = assert_chunking_invariant(http_client, NGINX_REDIRECT)
    assert error is None and pending == b""
    (response,) = events
    assert isinstance(response, HTTPResponse)
    assert (response.version, response.status, response.reason) == ("1.1", 301,
                                                                     "Moved Permanently")
    assert response.field("LOCATION") == "https://mail.example.test/"
    assert response.raw[0] == "HTTP/1.1 301 Moved Permanently" and len(response.raw) == 7


def test_http_interim_obs_fold_and_repeats() -> None:
    data = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200\r\nX-A: 1\r\nStrict-Transport-Security:"
            b" max-age=1;\r\n\tincludeSubDomains\r\nx-a: 2\r\n\r\n")
    events, error, _ = assert_chunking_invariant(http_client, data)
    assert error is None
    interim, final = events
    assert interim.status == 100 and final.status == 200 and final.reason == ""
    assert final.field("strict-transport-security") == "max-age=1; includeSubDomains"
    assert final.all("x-a") == ("1", "2")


@pytest.mark.parametrize("data", [
    b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 30 x\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n",
    b"\x16\x03\x03\x00\x02",
])
def test_http_garbage(data: bytes) -> None:
    _events, error, _ = assert_chunking_invariant(http_client, data)
    assert error is ProtocolError


def test_http_nothing_asked_nothing_taken() -> None:
    _, error, _ = run(HTTPDialogue, [b"HTTP/1.1 200 OK\r\n\r\n"])
    assert error is ProtocolError


def test_http_limits() -> None:
    many = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 10 + b"\r\n"
    def small() -> HTTPDialogue:
        d = HTTPDialogue(max_fields=5)
        d.request("h")
        return d
    _, error, _ = assert_chunking_invariant(small, many)
    assert error is ReplyTooLong
    with pytest.raises(LocalProtocolError):
        HTTPDialogue().request("evil\r\nX: y")


# --- LDAP -----------------------------------------------------------------------------------------

SLAPD_ROOT_DSE = bytes.fromhex(
    "308201650201016482015e0400308201583026040e6e616d696e67436f6e74657874733114041264633d6578"
    "616d706c652c64633d7465737430818d0412737570706f72746564457874656e73696f6e3177041631"
    "2e332e362e312e342e312e313436362e32303033370417312e332e362e312e342e312e343230332e31"
    "2e31312e310417312e332e362e312e342e312e343230332e312e31312e33040b312e332e362e312e31"
    "2e38040e312e332e362e312e312e32312e33040e312e332e362e312e312e32312e31301b0414737570"
    "706f727465644c44415056657273696f6e31030401333081800417737570706f727465645341534c4d"
    "656368616e69736d733165040d534352414d2d5348412d353132040d534352414d2d5348412d333834"
    "040d534352414d2d5348412d323536040d534352414d2d5348412d323234040b534352414d2d534841"
    "2d31040a4449474553542d4d443504084352414d2d4d443504044e544c4d300c02010165070a010004"
    "000400"
)
# a simple bind answered confidentialityRequired (13), then StartTLS refused (operationsError)
SLAPD_BIND_13 = bytes.fromhex(
    "3024020102611f0a010d04000418636f6e666964656e7469616c697479207265717569726564303c0201"
    "0378370a01010400043063616e6e6f7420737461727420544c53207768656e206f7065726174696f6e"
    "7320617265206f75747374616e64696e67"
)
SLAPD_BIND_49 = bytes.fromhex("300c02010261070a013104000400")


def test_ldap_slapd_root_dse() -> None:
    events, error, pending = assert_chunking_invariant(LDAPDialogue, SLAPD_ROOT_DSE)
    assert error is None and pending == b""
    entry, done = events
    assert isinstance(entry, LDAPEntry) and entry.dn == ""
    assert STARTTLS_OID in entry.values("supportedextension")
    assert entry.values("namingContexts") == ("dc=example,dc=test",)
    assert isinstance(done, LDAPResult) and (done.operation, done.result_code) == (
        "searchResDone", 0)


def test_ldap_slapd_bind_results() -> None:
    events, error, _ = assert_chunking_invariant(LDAPDialogue, SLAPD_BIND_13 + SLAPD_BIND_49)
    assert error is None
    assert [(e.message_id, e.operation, e.result_code) for e in events] == [
        (2, "bindResponse", 13), (3, "extendedResponse", 1), (2, "bindResponse", 49)]
    assert events[0].diagnostic == "confidentiality required"
    assert events[0].raw == ("#2 bindResponse 13 (confidentialityRequired) "
                             "'confidentiality required'",)


def test_ldap_requests_round_trip_through_a_server_view() -> None:
    """The requests are the BER slapd answered in the interop suite; pin their bytes."""
    d = LDAPDialogue()
    assert d.start_tls().hex() == "301d02010177188016312e332e362e312e342e312e313436362e3230303337"
    assert d.bind_simple("cn=x", "y").hex() == "3011020102600c0201030404636e3d78800179"
    assert d.last_id == 2
    assert d.unbind() == bytes.fromhex("30050201034200")
    with pytest.raises(LocalProtocolError):
        d.search_root_dse(("bad attr",))


def test_ldap_notice_of_disconnection() -> None:
    events, error, _ = assert_chunking_invariant(LDAPDialogue, _notice())
    assert error is None
    (event,) = events
    assert isinstance(event, LDAPResult) and event.message_id == 0
    assert event.response_name == "1.3.6.1.4.1.1466.20036"


def _notice() -> bytes:
    oid = b"1.3.6.1.4.1.1466.20036"
    body = b"\x0a\x01\x34\x04\x00\x04\x00" + b"\x8a" + bytes([len(oid)]) + oid
    op = b"\x78" + bytes([len(body)]) + body
    msg = b"\x02\x01\x00" + op
    return b"\x30" + bytes([len(msg)]) + msg


@pytest.mark.parametrize("data", [
    b"HTTP/1.1 400\r\n",  # not a SEQUENCE
    b"\x30\x80",  # indefinite length
    b"\x30\x03\x02\x01\x01",  # no protocolOp
    b"\x30\x05\x02\x01\x01\x60\x00",  # a bindRequest: not something a client receives
    b"\x30\x06\x02\x01\x01\x61\x01\x0a",  # truncated inside the op
    b"\x30\x08\x02\x05\x01\x02\x03\x04\x05\x61",  # a 5-octet messageID
])
def test_ldap_garbage(data: bytes) -> None:
    _events, error, _ = assert_chunking_invariant(LDAPDialogue, data)
    assert error is ProtocolError or error is ReplyTooLong


def test_ldap_size_limit_seen_from_the_header() -> None:
    d = LDAPDialogue(max_message=100)
    with pytest.raises(ReplyTooLong):
        d.receive_data(b"\x30\x84\x7f\xff\xff\xff")  # 2 GiB announced: refused at once
    _, error, _ = assert_chunking_invariant(lambda: LDAPDialogue(max_message=16),
                                            b"\x30\x82\x01\x00")
    assert error is ReplyTooLong


def test_ldap_events_before_an_error_come_first() -> None:
    events, error, _ = run(LDAPDialogue, [SLAPD_BIND_49 + b"\x31\x00"])
    assert len(events) == 1 and error is ProtocolError
