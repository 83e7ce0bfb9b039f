"""Fuzz the client-configuration parsers (autoconfig XML, Thunderbird prefs.js, Apple
.mobileconfig plain or in a CMS envelope): whatever a web server or a file holds, they give
settings or ``ConfigError``, expand no entity, and stay fast on the largest input they accept."""

from __future__ import annotations

import datetime as dt
import plistlib
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, strategies as st

from mailtls.formats.clientconfig import (
    MAX_CONFIG_BYTES,
    ConfigError,
    ParsedConfig,
    parse_autoconfig,
    parse_config,
    parse_mobileconfig,
    parse_prefs,
    read_prefs,
)
from mailtls.model import Protocol, SocketType
from tests.der_builder import tlv
from tests.fuzz.fuzz_helpers import FUZZ, edits_strategy, mutated, raises_only, tokens, within
from tests.profile_signing import sign_profile

FIXTURES = Path(__file__).parents[2] / "fixtures" / "clientconfig"
AUTOCONFIG = (FIXTURES / "config-v1.1.xml").read_bytes()
PREFS = (FIXTURES / "prefs.js").read_bytes()
MOBILECONFIG = (FIXTURES / "example.mobileconfig").read_bytes()
ADDRESS = st.sampled_from([None, "jane@example.com", "", "@", "a@b@c", "é@ü.example"])


def check(parsed: object) -> None:
    """What every parser promises about the settings it returns."""
    if parsed is None:
        return
    assert isinstance(parsed, ParsedConfig) and parsed.settings
    for s in parsed.settings:
        assert type(s.port) is int and 1 <= s.port <= 65535, s
        assert s.host and isinstance(s.host, str)
        assert isinstance(s.socket, SocketType) and isinstance(s.protocol, Protocol)
        assert (s.role == "outgoing") == (s.protocol is Protocol.SMTP)


# --- autoconfig XML ------------------------------------------------------------------------

XML_WORDS = ["<", ">", "</", "/>", "<clientConfig>", "</clientConfig>", "<emailProvider>",
             "</emailProvider>", '<incomingServer type="imap">', '<incomingServer type="pop3">',
             "</incomingServer>", '<outgoingServer type="smtp">', "</outgoingServer>",
             "<hostname>", "</hostname>", "mail.example.com", "%EMAILDOMAIN%", "<port>",
             "</port>", "993", "99999", "-1", "٣", "<socketType>", "</socketType>", "SSL",
             "STARTTLS", "plain", "<username>", "</username>", "%EMAILADDRESS%", "<domain>",
             "</domain>", "&amp;", "&lt;", "&x;", "&#0;", "&#x10FFFF;", "<![CDATA[", "]]>",
             "<!--", "-->", "<?xml version='1.0'?>", "<?xml version='1.0' encoding='utf-7'?>",
             "<?xml version='1.0' encoding='bogus'?>", "<!DOCTYPE x>", "<!ENTITY e 'x'>",
             ' xmlns="urn:x"', ' a:b="c"', "\x00", "\udcff", "é", " ", "\n"]


def xml_bytes(draw: st.DrawFn) -> bytes:
    text = draw(tokens(XML_WORDS, max_size=60))
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "utf-16-le", "latin-1"]))
    return text.encode(encoding, "surrogatepass" if "utf" in encoding else "replace")


@FUZZ
@given(st.one_of(st.binary(max_size=600), st.composite(xml_bytes)(),
                 st.builds(mutated, st.just(AUTOCONFIG), edits_strategy)), ADDRESS)
@example(b'<?xml version="1.0" encoding="foo"?><clientConfig/>', None)
@example(b'<?xml version="1.0" encoding="utf-7"?><clientConfig/>', None)
def test_autoconfig(data: bytes, address: str | None) -> None:
    check(raises_only(ConfigError, lambda: parse_autoconfig(data, address, source="fuzz")))


@FUZZ
@given(st.lists(st.tuples(
    st.sampled_from(["incomingServer", "outgoingServer", "other"]),
    st.sampled_from(["imap", "pop3", "smtp", "IMAP", "", "exchange"]),
    st.dictionaries(st.sampled_from(["hostname", "port", "socketType", "username",
                                     "authentication"]),
                    tokens(["mail.example.com", "993", "0", "65536", "1e3", " 25 ", "SSL", "TLS",
                            "STARTTLS", "plain", "%EMAILLOCALPART%", ".", "&amp;"], max_size=4),
                    max_size=5)), max_size=5), ADDRESS)
def test_autoconfig_structured(
    servers: list[tuple[str, str, dict[str, str]]], address: str | None
) -> None:
    from xml.sax.saxutils import escape, quoteattr

    body = "".join(
        f"<{tag} type={quoteattr(kind)}>"
        + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
        + f"</{tag}>"
        for tag, kind, fields in servers
    )
    data = f"<clientConfig><emailProvider>{body}</emailProvider></clientConfig>".encode(
        "utf-8", "surrogatepass")
    check(raises_only(ConfigError, lambda: parse_autoconfig(data, address, source="fuzz")))


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1 if i > 1 else "") + ";") * 10}">'
              for i in range(1, 10))
    + ']><clientConfig><emailProvider>&lol9;</emailProvider></clientConfig>'
)
HOSTILE_XML = {
    "billion laughs": BILLION_LAUGHS.encode(),
    "billion laughs in UTF-16": ('<?xml version="1.0" encoding="UTF-16"?>'
                                 + BILLION_LAUGHS).encode("utf-16"),
    "billion laughs behind a 70 KiB comment": b"<!--" + b"x" * 70000 + b"-->"
    + BILLION_LAUGHS.encode(),
    "quadratic blowup": ('<!DOCTYPE x [<!ENTITY a "' + "a" * 50000 + '">]><clientConfig>'
                         + "&a;" * 20000 + "</clientConfig>").encode(),
    "external entity": b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                       b"<clientConfig><emailProvider>&e;</emailProvider></clientConfig>",
    "parameter entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>'
                        b"<clientConfig/>",
    "external DTD": b'<!DOCTYPE clientConfig SYSTEM "http://127.0.0.1:9/x.dtd"><clientConfig/>',
    "undefined entity": b"<clientConfig>&e;</clientConfig>",
    "deep nesting": b"<clientConfig>" + b"<a>" * 100000 + b"</a>" * 100000 + b"</clientConfig>",
    "many attributes": b"<clientConfig " + b" ".join(b'a%d="x"' % i for i in range(50000))
                       + b"/>",
    "too large": b"<clientConfig>" + b" " * MAX_CONFIG_BYTES + b"</clientConfig>",
}


@pytest.mark.parametrize("name", list(HOSTILE_XML))
def test_hostile_autoconfig(name: str) -> None:
    with within(), pytest.raises(ConfigError) as caught:
        parse_autoconfig(HOSTILE_XML[name], None, source="hostile")
    assert "root:" not in str(caught.value)  # nothing from /etc/passwd


# --- Thunderbird prefs.js ------------------------------------------------------------------

PREF_NAMES = ["mail.server.server1.hostname", "mail.server.server1.type",
              "mail.server.server1.port", "mail.server.server1.socketType",
              "mail.server.server1.authMethod", "mail.server.server1.userName",
              "mail.smtpserver.smtp1.hostname", "mail.smtpserver.smtp1.port",
              "mail.smtpserver.smtp1.try_ssl", "mail.outgoingserver.o.hostname",
              "mail.accountmanager.accounts", "mail.account.account1.server", "x"]
PREF_VALUES = ['"imap.example.com"', '"imap"', '"pop3"', "993", "0", "-1", "70000", "true",
               "false", '"server1"', '"a\\"b"', '"\\u00e9"', '"unterminated', "3", "٣", "1e3",
               "9" * 5000, '"account1,account2"', "null"]


@FUZZ
@given(st.lists(st.one_of(
    st.tuples(st.sampled_from(PREF_NAMES), st.sampled_from(PREF_VALUES),
              st.sampled_from(["", " ", "\t", "  "])).map(
        lambda t: f'user_pref("{t[0]}",{t[2]}{t[1]}{t[2]});'),
    tokens(['user_pref(', '"', ",", ")", ";", " ", "\\", "\r", "\n"], max_size=12)),
    max_size=20).map("\n".join), ADDRESS)
def test_prefs(text: str, address: str | None) -> None:
    check(raises_only(ConfigError, lambda: parse_prefs(text, address, source="fuzz")))


@FUZZ
@given(st.one_of(st.binary(max_size=600), st.builds(mutated, st.just(PREFS), edits_strategy)))
def test_prefs_bytes(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    check(raises_only(ConfigError, lambda: parse_prefs(text, None, source="fuzz")))


HOSTILE_PREFS = {
    # the old one-regex reader backtracked cubically on these (35 s for 4,000 spaces)
    "spaces before no closing paren": 'user_pref("a", ' + " " * MAX_CONFIG_BYTES + "x",
    "blank lines": "\n" * MAX_CONFIG_BYTES,
    "spaces between parens": 'user_pref("a", 1' + " )" * (MAX_CONFIG_BYTES // 2),
    "long escaped name": 'user_pref("' + "\\a" * (MAX_CONFIG_BYTES // 2),
    # int() refuses more than 4,300 digits
    "huge number": 'user_pref("mail.server.s.port", ' + "9" * 5000 + ");",
}


@pytest.mark.parametrize("name", list(HOSTILE_PREFS))
def test_hostile_prefs(name: str) -> None:
    with within(), pytest.raises(ConfigError):
        parse_prefs(HOSTILE_PREFS[name], None, source="hostile")


def test_boolean_is_not_a_port() -> None:
    text = ('user_pref("mail.server.s.type", "imap");\n'
            'user_pref("mail.server.s.hostname", "imap.example.com");\n'
            'user_pref("mail.server.s.port", true);\n')
    assert read_prefs(text)["mail.server.s.port"] is True
    with pytest.raises(ConfigError):
        parse_prefs(text, None, source="bool")


# --- Apple .mobileconfig -------------------------------------------------------------------

MAIL_KEYS = ["PayloadType", "PayloadContent", "PayloadDisplayName", "EmailAccountType",
             "EmailAddress", "IncomingMailServerHostName", "IncomingMailServerPortNumber",
             "IncomingMailServerUseSSL", "IncomingPassword", "OutgoingMailServerHostName",
             "OutgoingMailServerPortNumber", "OutgoingMailServerUseSSL",
             "OutgoingMailServerAuthentication", "IncomingMailServerUsername"]
plist_scalar = st.one_of(
    st.sampled_from(["com.apple.mail.managed", "EmailTypeIMAP", "EmailTypePOP",
                     "mail.example.com", "", " "]),
    st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1), st.booleans(),
    st.text(max_size=10), st.binary(max_size=10),
    st.floats(allow_nan=False), st.datetimes(min_value=dt.datetime(1, 1, 1)),
)
plist_value = st.recursive(
    plist_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(MAIL_KEYS) | st.text(max_size=5),
                                            inner, max_size=6)),
    max_leaves=20,
)
mail_payload = st.fixed_dictionaries(
    {"PayloadType": st.just("com.apple.mail.managed")},
    optional={k: plist_value for k in MAIL_KEYS[2:]},
)
profile = st.one_of(
    mail_payload,
    st.fixed_dictionaries({"PayloadType": st.just("Configuration"),
                           "PayloadContent": st.one_of(st.lists(mail_payload | plist_value,
                                                                max_size=3), plist_value)}),
    plist_value,
)


def envelope(content: bytes, chunks: int = 0) -> bytes:
    """A CMS SignedData skeleton (no signature) around ``content``, primitive or constructed."""
    oid_data = tlv(0x06, bytes.fromhex("2a864886f70d010701"))
    if chunks:
        size = max(1, len(content) // chunks)
        pieces = b"".join(tlv(0x04, content[i : i + size])
                          for i in range(0, len(content), size))
        econtent = tlv(0x24, pieces)
    else:
        econtent = tlv(0x04, content)
    encap = tlv(0x30, oid_data + tlv(0xA0, econtent))
    signed = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x31, b"") + encap + tlv(0x31, b""))
    return tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010702")) + tlv(0xA0, signed))


SIGNED = sign_profile(MOBILECONFIG)


@st.composite
def profiles(draw: st.DrawFn) -> bytes:
    value: Any = draw(profile)
    fmt = draw(st.sampled_from([plistlib.FMT_XML, plistlib.FMT_BINARY]))
    try:
        data = plistlib.dumps(value, fmt=fmt)
    except (TypeError, ValueError, OverflowError):  # what plistlib cannot write
        data = plistlib.dumps({"PayloadType": "com.apple.mail.managed"}, fmt=fmt)
    wrap = draw(st.sampled_from(["plain", "cms", "cms-constructed", "junk-around"]))
    if wrap == "cms":
        data = envelope(data)
    elif wrap == "cms-constructed":
        data = envelope(data, draw(st.integers(min_value=1, max_value=5)))
    elif wrap == "junk-around":
        data = draw(st.binary(max_size=20)) + data + draw(st.binary(max_size=20))
    return mutated(data, draw(edits_strategy)) if draw(st.booleans()) else data


PLIST_WORDS = ["<plist>", "</plist>", "<dict>", "</dict>", "<key>", "</key>", "<array>",
               "</array>", "<string>", "</string>", "<integer>", "</integer>", "<date>",
               "</date>", "<data>", "</data>", "<real>", "</real>", "<true/>", "<false/>",
               "<?xml version='1.0'?>", "<?xml version='1.0' encoding='bogus'?>",
               "<!DOCTYPE plist>", "<!ENTITY a 'b'>", "&a;", "PayloadContent", "PayloadType",
               "com.apple.mail.managed", "EmailAccountType", "EmailTypeIMAP",
               "IncomingMailServerHostName", "IncomingMailServerPortNumber", "993", "x", "=="]
plist_text = tokens(PLIST_WORDS, max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.one_of(profiles(), plist_text, st.binary(max_size=600),
                 st.builds(mutated, st.sampled_from([MOBILECONFIG, SIGNED]), edits_strategy)),
       ADDRESS)
def test_mobileconfig(data: bytes, address: str | None) -> None:
    check(raises_only(ConfigError, lambda: parse_mobileconfig(data, address, source="fuzz")))


def _deep_binary_plist(depth: int) -> bytes:
    """``depth`` arrays, each holding the next: plistlib reads them recursively."""
    objects = [b"\xa1" + struct.pack(">I", i + 1) for i in range(depth)] + [b"\xa0"]
    offsets, at = [], 8
    for obj in objects:
        offsets.append(at)
        at += len(obj)
    table = b"".join(struct.pack(">I", o) for o in offsets)
    trailer = struct.pack(">6xBBQQQ", 4, 4, len(objects), 0, at)
    return b"bplist00" + b"".join(objects) + table + trailer


HOSTILE_PLISTS = {
    "unclosed XML (ExpatError)": b"<plist><dict>",
    "unknown encoding (LookupError)": b"<?xml version='1.0' encoding='bogus'?><plist/>",
    "multi-byte encoding": b"<?xml version='1.0' encoding='utf-7'?><plist/>",
    "bad date (AttributeError)": b"<plist><dict><key>a</key><date>x</date></dict></plist>",
    "stray end tag": b"<plist></array></plist>",
    "PayloadContent not a list": b"<plist><dict><key>PayloadContent</key><integer>5</integer>"
                                 b"</dict></plist>",
    "entity declaration": b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "b">]>'
                          b"<plist><string>&a;</string></plist>",
    "deep binary nesting (RecursionError)": _deep_binary_plist(100000),
    "truncated CMS": SIGNED[: len(SIGNED) // 2],
    "too large": b"<plist>" + b" " * MAX_CONFIG_BYTES + b"</plist>",
}


@pytest.mark.parametrize("name", list(HOSTILE_PLISTS))
def test_hostile_mobileconfig(name: str) -> None:
    with within(), pytest.raises(ConfigError):
        parse_mobileconfig(HOSTILE_PLISTS[name], None, source="hostile")


@pytest.mark.parametrize("port", [True, 0, 65536, "993", 1.5])
def test_mobileconfig_port_must_be_a_whole_number(port: object) -> None:
    payload = {"PayloadType": "com.apple.mail.managed", "EmailAccountType": "EmailTypeIMAP",
               "IncomingMailServerHostName": "imap.example.com",
               "IncomingMailServerPortNumber": port}
    with pytest.raises(ConfigError):
        parse_mobileconfig(plistlib.dumps(payload), None, source="port")


# --- any file -----------------------------------------------------------------------------


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.composite(xml_bytes)(), profiles(), plist_text,
                 st.builds(mutated, st.sampled_from([AUTOCONFIG, PREFS, MOBILECONFIG, SIGNED]),
                           edits_strategy)),
       st.sampled_from(["config-v1.1.xml", "prefs.js", "x.mobileconfig", "notes.txt", ""]),
       ADDRESS)
def test_parse_config(data: bytes, name: str, address: str | None) -> None:
    check(raises_only(ConfigError, lambda: parse_config(data, name, address)))
