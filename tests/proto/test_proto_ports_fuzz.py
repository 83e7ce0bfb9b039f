"""Property tests of the other ports' dialogues (FTP, NNTP, HTTP, LDAP), as for the mail ones:
only ProtocolError escapes, the outcome does not depend on the chunking, memory stays bounded."""

from __future__ import annotations

from hypothesis import given, strategies as st

from mailtls.proto.ftp import FTPDialogue
from mailtls.proto.http import HTTPDialogue
from mailtls.proto.ldap import LDAPDialogue
from mailtls.proto.nntp import CAPABILITIES_CODES, NNTPDialogue
from tests.proto.test_proto_fuzz import FUZZ, check, line_of, payloads, positions_for

# -- FTP ---------------------------------------------------------------------------------------
FTP_FRAGMENTS = [b"220", b"211", b"-", b" ", b"\r\n", b"\n", b"211 End\r\n", b" AUTH TLS\r\n",
                 b"2", b"\x16\x03\x01", b"\xff", b"x" * 30]
FTP_TEXT = st.sampled_from([b"", b"Features:", b" AUTH TLS", b"\xff\x1b", b"x" * 15])
FTP_GOOD = line_of(st.sampled_from([b"220", b"211", b"211", b" ", b"331"]),
                   st.sampled_from([b" ", b"-", b"", b" "]), FTP_TEXT)
FTP_BAD = line_of(st.sampled_from([b"2x0", b"21", b"", b"\x16\x03"]),
                  st.sampled_from([b" ", b"-", b"x", b"\r"]), FTP_TEXT, good=False)


@FUZZ
@given(st.data(), payloads(FTP_FRAGMENTS, FTP_GOOD, FTP_BAD))
def test_ftp_small_limits(draw: st.DataObject, data: bytes) -> None:
    check(lambda: FTPDialogue(max_line=24, max_reply_lines=3), data,
          draw.draw(positions_for(data)), 4 * 25 + 24, 24)


@FUZZ
@given(st.data(), st.binary(max_size=2000))
def test_ftp_arbitrary_bytes(draw: st.DataObject, data: bytes) -> None:
    check(FTPDialogue, data, draw.draw(positions_for(data)), 513 * 8193 + 8192, 8192)


# -- NNTP --------------------------------------------------------------------------------------
NNTP_FRAGMENTS = [b"200 ", b"101 ", b"382", b".\r\n", b"..x\r\n", b"\r\n", b"\n", b"STARTTLS",
                  b"1", b"\x16", b"y" * 30]
NNTP_GOOD = line_of(st.sampled_from([b"200 hi", b"101 caps", b"VERSION 2", b".", b"..x",
                                     b"382 go", b"500 no"]))
NNTP_BAD = line_of(st.sampled_from([b"20", b"2000", b"+OK", b"", b"\x16\x03"]), good=False)


def nntp(max_lines: int = 4096, max_line: int = 8192) -> NNTPDialogue:
    d = NNTPDialogue(max_line=max_line, max_lines=max_lines)
    for _ in range(4):
        d.send_command("CAPABILITIES", multiline=CAPABILITIES_CODES)
    return d


@FUZZ
@given(st.data(), payloads(NNTP_FRAGMENTS, NNTP_GOOD, NNTP_BAD))
def test_nntp_small_limits(draw: st.DataObject, data: bytes) -> None:
    check(lambda: nntp(3, 24), data, draw.draw(positions_for(data)), 5 * 25 + 24, 24)


@FUZZ
@given(st.data(), st.binary(max_size=2000))
def test_nntp_arbitrary_bytes(draw: st.DataObject, data: bytes) -> None:
    check(nntp, data, draw.draw(positions_for(data)), 4098 * 8193 + 8192, 8192)


# -- HTTP --------------------------------------------------------------------------------------
HTTP_FRAGMENTS = [b"HTTP/1.1 ", b"301 ", b"200 OK", b"\r\n", b"\n", b"Location: https://x/",
                  b"\tfold", b":", b"HTTP/", b"\x16\x03", b"z" * 30]
HTTP_GOOD = line_of(st.sampled_from([b"HTTP/1.1 301 Moved", b"HTTP/1.0 200", b"Location: x",
                                     b"Strict-Transport-Security: max-age=1", b" fold", b"",
                                     b"HTTP/1.1 100 Continue"]))
HTTP_BAD = line_of(st.sampled_from([b"HTTP/1 200", b"nocolon", b"HTTP/1.1 2000", b"\x16"]),
                   good=False)


def http(max_fields: int = 128, max_line: int = 8192) -> HTTPDialogue:
    d = HTTPDialogue(max_line=max_line, max_fields=max_fields)
    d.request("mail.example.test")
    return d


@FUZZ
@given(st.data(), payloads(HTTP_FRAGMENTS, HTTP_GOOD, HTTP_BAD))
def test_http_small_limits(draw: st.DataObject, data: bytes) -> None:
    check(lambda: http(3, 40), data, draw.draw(positions_for(data)), 5 * 41 + 40, 40)


@FUZZ
@given(st.data(), st.binary(max_size=2000))
def test_http_arbitrary_bytes(draw: st.DataObject, data: bytes) -> None:
    check(http, data, draw.draw(positions_for(data)), 130 * 8193 + 8192, 8192)


# -- LDAP --------------------------------------------------------------------------------------
def tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag, len(content)]) + content if len(content) < 128 else (
        bytes([tag, 0x82]) + len(content).to_bytes(2, "big") + content)


LDAP_RESULT = st.builds(
    lambda mid, op, code, text: tlv(0x30, tlv(0x02, bytes([mid])) + tlv(
        op, tlv(0x0A, bytes([code])) + tlv(0x04, b"") + tlv(0x04, text))),
    st.integers(0, 127), st.sampled_from([0x61, 0x65, 0x78, 0x60, 0x64]),
    st.sampled_from([0, 13, 49, 200]), st.sampled_from([b"", b"confidentiality", b"\xff" * 3]),
)
LDAP_PIECES = st.one_of(LDAP_RESULT, st.binary(max_size=12),
                        st.sampled_from([b"\x30\x80", b"\x30\x84\xff\xff\xff\xff", b"\x30\x00"]))


@FUZZ
@given(st.data(), st.lists(LDAP_PIECES, max_size=6).map(b"".join))
def test_ldap_structured(draw: st.DataObject, data: bytes) -> None:
    check(lambda: LDAPDialogue(max_message=64), data, draw.draw(positions_for(data)), 64, 64)


@FUZZ
@given(st.data(), st.binary(max_size=2000))
def test_ldap_arbitrary_bytes(draw: st.DataObject, data: bytes) -> None:
    check(LDAPDialogue, data, draw.draw(positions_for(data)), 65536, 65536)
