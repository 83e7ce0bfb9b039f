"""Mail client configurations, parsed into ``ServerSetting``s. Pure: bytes in, settings out.

Three formats (draft-ietf-mailmaint-autoconfig, Thunderbird prefs.js, Apple's
com.apple.mail.managed payload):

* autoconfig XML (``config-v1.1.xml``, Thunderbird / the IETF mailmaint draft): every
  ``incomingServer`` (imap, pop3) and ``outgoingServer`` (smtp), with ``socketType`` SSL,
  STARTTLS or plain, and the ``%EMAILADDRESS%``-style placeholders filled in when the address
  is known;
* Thunderbird's ``prefs.js``: ``mail.server.<id>.*`` (incoming) and ``mail.smtpserver.<id>.*``
  (outgoing), ``socketType``/``try_ssl`` 0 plain, 1 STARTTLS-if-available, 2 STARTTLS,
  3 SSL/TLS;
* an Apple configuration profile (``.mobileconfig``, ``com.apple.mail.managed`` payloads),
  signed (CMS) or not: ``UseSSL`` is a boolean, so implicit TLS or STARTTLS follows from the
  port as Thunderbird decides it for Autodiscover (143/110/25/587 STARTTLS, anything else
  implicit); an unset outgoing port is tried as 25, 587, 465, Apple's order.

Passwords a profile carries are never kept: only the fact that one is there.
"""

from __future__ import annotations

import dataclasses
import json
import plistlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, NoReturn
from xml.parsers import expat

from mailtls.errors import UsageError
from mailtls.model import (
    SERVICES,
    ConfigKind,
    Protocol,
    Role,
    ServerSetting,
    Service,
    SettingMethod,
    SocketType,
)
from mailtls.model.ports import is_port

MAX_CONFIG_BYTES = 1 << 20

# Thunderbird's rule for a boolean "use SSL" (Autodiscover, Apple): these ports mean STARTTLS.
STARTTLS_PORTS = frozenset({143, 110, 25, 587})
IMPLICIT_PORTS = frozenset({993, 995, 465})
DEFAULT_PORTS = {
    (Protocol.IMAP, True): 993, (Protocol.IMAP, False): 143,
    (Protocol.POP3, True): 995, (Protocol.POP3, False): 110,
    (Protocol.SMTP, True): 465, (Protocol.SMTP, False): 587,
}
APPLE_OUTGOING_PORTS = (25, 587, 465)


class ConfigError(UsageError):
    """The configuration cannot be read (a usage error for --config; a finding in discovery)."""


@dataclass(frozen=True)
class ParsedConfig:
    kind: ConfigKind
    settings: tuple[ServerSetting, ...]
    domains: tuple[str, ...] = ()  # autoconfig: emailProvider/domain
    notes: tuple[str, ...] = ()  # things worth saying that are not settings
    stored_passwords: tuple[str, ...] = ()  # where a password is stored (key names, no values)
    unset_outgoing_port: bool = False  # mobileconfig: Apple will try 25, 587, 465
    signed: bool = False  # mobileconfig inside a CMS signature (not verified here)
    address: str | None = None  # an e-mail address the file names (mobileconfig EmailAddress)


def service_for(protocol: Protocol, socket: SocketType) -> Service:
    """The mailtls service a setting is probed as: implicit TLS, or the STARTTLS port's dialogue
    (which also shows whether a plaintext setting could have had STARTTLS)."""
    implicit = socket is SocketType.SSL
    name = {
        Protocol.IMAP: ("imaps", "imap"),
        Protocol.POP3: ("pop3s", "pop3"),
        Protocol.SMTP: ("submissions", "submission"),
    }[protocol][0 if implicit else 1]
    return SERVICES[name]


def socket_from_port(use_ssl: bool, port: int) -> SocketType:
    if not use_ssl:
        return SocketType.PLAIN
    return SocketType.STARTTLS if port in STARTTLS_PORTS else SocketType.SSL


def detect_kind(data: bytes, name: str = "") -> ConfigKind:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = name.lower()
    if lower.endswith(".mobileconfig") or b"<plist" in data[:8192] or head.startswith(
        (b"bplist", b"\x30\x80", b"\x30\x82", b"\x30\x83")
    ):
        return ConfigKind.MOBILECONFIG
    if lower.endswith("prefs.js") or b"user_pref(" in data:
        return ConfigKind.PREFS_JS
    if head.startswith(b"<") or lower.endswith(".xml"):
        return ConfigKind.AUTOCONFIG
    raise ConfigError(
        f"{name or 'the file'}: not an autoconfig XML file, a Thunderbird prefs.js or an Apple "
        ".mobileconfig profile"
    )


def parse_config(
    data: bytes, name: str, address: str | None = None, *, source: str | None = None,
    method: SettingMethod = SettingMethod.FILE,
) -> ParsedConfig:
    """Parse any of the three formats (detected from the content)."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{name}: larger than {MAX_CONFIG_BYTES} bytes")
    kind = detect_kind(data, name)
    label = source or name
    if kind is ConfigKind.AUTOCONFIG:
        return parse_autoconfig(data, address, source=label, method=method)
    if kind is ConfigKind.PREFS_JS:
        return parse_prefs(data.decode("utf-8", "replace"), address, source=label)
    return parse_mobileconfig(data, address, source=label)


# --- autoconfig XML ------------------------------------------------------------------------


def substitute(text: str, address: str | None) -> str:
    if not address or "@" not in address:
        return text
    local, _, domain = address.rpartition("@")
    return (
        text.replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
    )


def _child(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    if found is None or found.text is None:
        return None
    return found.text.strip()


class _Declaration(Exception):
    """A DOCTYPE or ENTITY declaration: the parse is stopped there (nothing is expanded)."""


def _forbid(*_args: object) -> NoReturn:
    raise _Declaration


def _xml_name(name: str) -> str:
    """expat's ``uri}local`` as ElementTree spells it: ``{uri}local``."""
    return "{" + name if "}" in name else name


def parse_xml(data: bytes, source: str) -> ET.Element:
    """The element tree of untrusted XML, defusedxml-style: at most ``MAX_CONFIG_BYTES``, no
    DOCTYPE (so no entity declarations: no billion laughs, no external entities, whatever the
    document's encoding), and every failure a ``ConfigError``."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES} bytes")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        _xml_name(tag), {_xml_name(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda tag: builder.end(_xml_name(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except _Declaration:
        raise ConfigError(
            f"{source}: a DOCTYPE or ENTITY declaration has no place in autoconfig"
        ) from None
    except (expat.ExpatError, LookupError, ValueError) as exc:
        # LookupError/ValueError: an encoding declaration expat cannot use ("utf-7", "foo")
        raise ConfigError(f"{source}: not well-formed XML: {exc}") from None


def parse_autoconfig(
    data: bytes, address: str | None, *, source: str,
    method: SettingMethod = SettingMethod.FILE,
) -> ParsedConfig:
    root = parse_xml(data, source)
    if root.tag != "clientConfig":
        raise ConfigError(f"{source}: the root element is <{root.tag}>, not <clientConfig>")
    providers = root.findall("emailProvider")
    if not providers:
        raise ConfigError(f"{source}: no <emailProvider> in <clientConfig>")
    settings: list[ServerSetting] = []
    domains: list[str] = []
    notes: list[str] = []
    for provider in providers:
        domains += [d.text.strip().lower() for d in provider.findall("domain") if d.text]
        position = 0
        for element in provider:
            if element.tag not in ("incomingServer", "outgoingServer"):
                continue
            position += 1
            kind = (element.get("type") or "").lower()
            role = Role.INCOMING if element.tag == "incomingServer" else Role.OUTGOING
            protocol = {"imap": Protocol.IMAP, "pop3": Protocol.POP3, "smtp": Protocol.SMTP}.get(
                kind
            )
            if protocol is None or (protocol is Protocol.SMTP) != (role is Role.OUTGOING):
                notes.append(f"{element.tag} type {kind or '(none)'!r} not checked")
                continue
            setting = _autoconfig_server(element, protocol, role, address, source, method)
            if isinstance(setting, str):
                notes.append(setting)
            else:
                settings.append(dataclasses.replace(setting, priority=position))
    if not settings:
        raise ConfigError(f"{source}: no usable IMAP, POP3 or SMTP server in the configuration")
    return ParsedConfig(ConfigKind.AUTOCONFIG, tuple(settings), tuple(dict.fromkeys(domains)),
                        tuple(notes))


def _autoconfig_server(
    element: ET.Element, protocol: Protocol, role: Role, address: str | None, source: str,
    method: SettingMethod,
) -> ServerSetting | str:
    host = substitute(_child(element, "hostname") or "", address).strip().rstrip(".").lower()
    socket_text = _child(element, "socketType") or ""
    socket = {"ssl": SocketType.SSL, "tls": SocketType.SSL, "starttls": SocketType.STARTTLS,
              "plain": SocketType.PLAIN}.get(socket_text.lower())
    where = f"{element.tag} {protocol.value} {host or '(no hostname)'}"
    if not host:
        return f"{where}: no <hostname>, skipped"
    if socket is None:
        return f"{where}: unknown socketType {socket_text!r}, skipped"
    port_text = _child(element, "port")
    try:
        port = int(port_text) if port_text else DEFAULT_PORTS[(protocol, socket is SocketType.SSL)]
    except ValueError:
        return f"{where}: port {port_text!r} is not a number, skipped"
    if not is_port(port):
        return f"{where}: port {port} out of range, skipped"
    username = _child(element, "username")
    return ServerSetting(
        role=role,
        protocol=protocol,
        host=host,
        port=port,
        socket=socket,
        source=source,
        method=method,
        configured=f"socketType={socket_text}",
        authentication=tuple(
            a.text.strip() for a in element.findall("authentication") if a.text and a.text.strip()
        ),
        username=substitute(username, address) if username else None,
    )


# --- Thunderbird prefs.js ------------------------------------------------------------------

# The head of a ``user_pref("name", value);`` line; the value is the rest of the line up to its
# closing ``);``, cut off with str methods (a regex for the whole line backtracks cubically).
_PREF = re.compile(r'\s*user_pref\(\s*"((?:[^"\\\n]|\\.)*)"\s*,')
_PREFS_SOCKET = {0: SocketType.PLAIN, 1: SocketType.TRY_STARTTLS, 2: SocketType.STARTTLS,
                 3: SocketType.SSL}
# nsMsgAuthMethod
_AUTH_METHODS = {1: "none", 2: "password-cleartext (legacy)", 3: "password-cleartext",
                 4: "password-encrypted", 5: "GSSAPI", 6: "NTLM", 7: "TLS-client-cert",
                 8: "secure", 9: "any", 10: "OAuth2"}


def read_prefs(text: str) -> dict[str, object]:
    """``user_pref("name", value);`` lines -> {name: str | int | bool}."""
    prefs: dict[str, object] = {}
    for line in text.split("\n"):
        match = _PREF.match(line)
        if match is None:
            continue
        tail = line[match.end() :].rstrip()
        if not tail.endswith(";") or not tail[:-1].rstrip().endswith(")"):
            continue
        name = match.group(1)
        raw = tail[:-1].rstrip()[:-1].strip()
        value: object
        if raw in ("true", "false"):
            value = raw == "true"
        elif re.fullmatch(r"-?\d+", raw):
            try:
                value = int(raw)
            except ValueError:  # more digits than int() converts (4300)
                continue
        elif raw.startswith('"') and raw.endswith('"'):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw[1:-1]
        else:
            continue
        prefs[name] = value
    return prefs


def parse_prefs(text: str, address: str | None, *, source: str) -> ParsedConfig:
    prefs = read_prefs(text)
    if not prefs:
        raise ConfigError(f"{source}: no user_pref(...) lines")
    settings: list[ServerSetting] = []
    notes: list[str] = []
    used = _used_servers(prefs)
    for server_id in _ids(prefs, "mail.server."):
        if used is not None and server_id not in used:
            continue
        p = f"mail.server.{server_id}."
        kind = str(prefs.get(p + "type", "")).lower()
        protocol = {"imap": Protocol.IMAP, "pop3": Protocol.POP3}.get(kind)
        host = str(prefs.get(p + "hostname", "")).strip().lower()
        if protocol is None or not host:
            if kind not in ("none", "rss", "nntp", "") and host:
                notes.append(f"{p.rstrip('.')}: type {kind!r} not checked")
            continue
        setting = _prefs_server(prefs, p, Role.INCOMING, protocol, host, "socketType", source)
        if isinstance(setting, str):
            notes.append(setting)
        else:
            settings.append(setting)
    for prefix in ("mail.smtpserver.", "mail.outgoingserver."):
        for server_id in _ids(prefs, prefix):
            p = f"{prefix}{server_id}."
            host = str(prefs.get(p + "hostname", "")).strip().lower()
            if not host:
                continue
            setting = _prefs_server(prefs, p, Role.OUTGOING, Protocol.SMTP, host, "try_ssl", source)
            if isinstance(setting, str):
                notes.append(setting)
            else:
                settings.append(setting)
    if not settings:
        raise ConfigError(f"{source}: no IMAP, POP3 or SMTP server in these preferences")
    return ParsedConfig(ConfigKind.PREFS_JS, tuple(settings), notes=tuple(notes))


def _ids(prefs: dict[str, object], prefix: str) -> list[str]:
    ids = [k[len(prefix):].split(".", 1)[0] for k in prefs if k.startswith(prefix)]
    return [i for i in dict.fromkeys(ids) if i != "default"]


def _used_servers(prefs: dict[str, object]) -> set[str] | None:
    """The incoming servers of the accounts in mail.accountmanager.accounts (None: unknown)."""
    accounts = prefs.get("mail.accountmanager.accounts")
    if not isinstance(accounts, str):
        return None
    used = {
        str(prefs.get(f"mail.account.{a.strip()}.server"))
        for a in accounts.split(",")
        if a.strip()
    }
    return used or None


def _prefs_server(
    prefs: dict[str, object], p: str, role: Role, protocol: Protocol, host: str,
    socket_key: str, source: str,
) -> ServerSetting | str:
    raw_socket = prefs.get(p + socket_key, 0)
    if type(raw_socket) is not int or raw_socket not in _PREFS_SOCKET:
        return f"{p + socket_key}={raw_socket!r}: unknown value, skipped"
    socket = _PREFS_SOCKET[raw_socket]
    port = prefs.get(p + "port", 0)
    if not is_port(port, zero_allowed=True):  # 0: the default port of the socket type
        return f"{p}port={port!r}: not a port, skipped"
    if port == 0:  # Thunderbird: the protocol's default for the socket type
        port = DEFAULT_PORTS[(protocol, socket is SocketType.SSL)]
    auth = prefs.get(p + "authMethod")
    username = prefs.get(p + ("username" if role is Role.OUTGOING else "userName"))
    return ServerSetting(
        role=role,
        protocol=protocol,
        host=host,
        port=port,
        socket=socket,
        source=f"{source} {p.rstrip('.')}",
        method=SettingMethod.FILE,
        configured=f"{socket_key}={raw_socket}",
        authentication=(_AUTH_METHODS.get(auth, f"authMethod {auth}"),)
        if isinstance(auth, int) else (),
        username=str(username) if isinstance(username, str) and username else None,
    )


# --- Apple .mobileconfig -------------------------------------------------------------------


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[at], data[at + 1]
    at += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 4 or at + count > len(data):
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, at, at + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, vstart, vend = _tlv(data, start)
        out.append((tag, vstart, vend))
        start = vend
    return out


def cms_content(data: bytes) -> bytes | None:
    """The signed content of a DER CMS SignedData (RFC 5652 §5): ContentInfo -> [0] SignedData
    -> encapContentInfo -> [0] eContent OCTET STRING (primitive or DER-constructed)."""
    try:
        tag, start, end = _tlv(data, 0)
        if tag != 0x30:
            return None
        info = _children(data, start, end)
        if len(info) < 2 or info[1][0] != 0xA0:
            return None
        tag, start, end = _tlv(data, info[1][1])
        signed = _children(data, start, end)
        if tag != 0x30 or len(signed) < 3:
            return None
        encap = _children(data, signed[2][1], signed[2][2])
        if len(encap) < 2 or encap[1][0] != 0xA0:
            return None
        tag, start, end = _tlv(data, encap[1][1])
        if tag == 0x04:
            return data[start:end]
        if tag == 0x24:  # constructed OCTET STRING: the concatenation of its pieces
            return b"".join(data[s:e] for t, s, e in _children(data, start, end) if t == 0x04)
    except ValueError:
        return None
    return None


def _plist_bytes(data: bytes) -> tuple[bytes, bool]:
    """The property list inside ``data``, and whether it came out of a CMS (signed) envelope.

    A signed profile is DER CMS with the plist as its content; the plist is found by its own
    markers (the signature is not verified: mailtls checks the settings, not who signed them).
    """
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"<?xml", b"<plist", b"<!DOCTYPE", b"bplist")):
        return stripped, False
    content = cms_content(data)
    if content is not None:
        return content, True
    start = data.find(b"<?xml")
    if start < 0:
        start = data.find(b"<plist")
    end = data.find(b"</plist>", max(start, 0))
    if start >= 0 and end > start:
        return data[start : end + len(b"</plist>")], True
    start = data.find(b"bplist00")
    if start >= 0:
        return data[start:], True
    raise ConfigError("no property list found in the profile (encrypted profiles are not read)")


# What plistlib lets through on a malformed profile besides InvalidFileException: expat's
# errors (XML), LookupError (an unknown encoding= in the XML declaration), ValueError (bad
# <integer>, base64, UTF-16), AttributeError (a bad <date>), IndexError (a stray end tag),
# RecursionError (binary objects nested deeper than the stack).
_PLIST_ERRORS = (
    plistlib.InvalidFileException, expat.ExpatError, LookupError, ValueError, AttributeError,
    IndexError, RecursionError,
)


def parse_mobileconfig(data: bytes, address: str | None, *, source: str) -> ParsedConfig:
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES} bytes")
    plist, signed = _plist_bytes(data)
    try:
        profile = plistlib.loads(plist)
    except _PLIST_ERRORS as exc:
        raise ConfigError(f"{source}: not a readable property list: {exc}") from None
    if not isinstance(profile, dict):
        raise ConfigError(f"{source}: the property list is not a dictionary")
    payloads: list[dict[str, Any]] = []
    if profile.get("PayloadType") == "com.apple.mail.managed":
        payloads.append(profile)
    content = profile.get("PayloadContent")
    for payload in content if isinstance(content, list) else []:
        if isinstance(payload, dict) and payload.get("PayloadType") == "com.apple.mail.managed":
            payloads.append(payload)
    if not payloads:
        raise ConfigError(f"{source}: no com.apple.mail.managed (e-mail) payload in the profile")
    settings: list[ServerSetting] = []
    stored: list[str] = []
    notes: list[str] = []
    unset = False
    found_address: str | None = None
    for index, payload in enumerate(payloads, start=1):
        name = str(payload.get("PayloadDisplayName") or payload.get("PayloadIdentifier") or index)
        label = f"{source} payload {name!r}"
        found_address = found_address or _str(payload.get("EmailAddress"))
        email = address or found_address
        for key in ("IncomingPassword", "OutgoingPassword"):
            if payload.get(key):
                stored.append(f"{label} {key}")
        account = str(payload.get("EmailAccountType", ""))
        protocol = {"EmailTypeIMAP": Protocol.IMAP, "EmailTypePOP": Protocol.POP3}.get(account)
        if protocol is None:
            notes.append(f"{label}: EmailAccountType {account!r} not checked")
        else:
            incoming = _apple_server(payload, "Incoming", protocol, label, email)
            if isinstance(incoming, str):
                notes.append(incoming)
            else:
                settings += incoming
        outgoing = _apple_server(payload, "Outgoing", Protocol.SMTP, label, email)
        if isinstance(outgoing, str):
            notes.append(outgoing)
        else:
            settings += outgoing
            unset = unset or payload.get("OutgoingMailServerPortNumber") is None
    if not settings:
        raise ConfigError(f"{source}: no usable server in the e-mail payload(s)")
    return ParsedConfig(
        ConfigKind.MOBILECONFIG, tuple(settings), notes=tuple(notes),
        stored_passwords=tuple(stored), unset_outgoing_port=unset, signed=signed,
        address=found_address,
    )


def _str(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _apple_server(
    payload: dict[str, Any], side: str, protocol: Protocol, label: str, address: str | None
) -> list[ServerSetting] | str:
    host = _str(payload.get(f"{side}MailServerHostName"))
    if host is None:
        return f"{label}: no {side}MailServerHostName"
    use_ssl = payload.get(f"{side}MailServerUseSSL", False) is True
    port = payload.get(f"{side}MailServerPortNumber")
    if port is not None and not is_port(port):
        return f"{label}: {side}MailServerPortNumber {port!r} is not a port"
    ports: tuple[int, ...]
    if port is not None:
        ports = (port,)
    elif protocol is Protocol.SMTP:
        ports = APPLE_OUTGOING_PORTS
    else:
        ports = (DEFAULT_PORTS[(protocol, use_ssl)],)
    auth = _str(payload.get(f"{side}MailServerAuthentication"))
    username = _str(payload.get(f"{side}MailServerUsername"))
    return [
        ServerSetting(
            role=Role.INCOMING if side == "Incoming" else Role.OUTGOING,
            protocol=protocol,
            host=host.lower().rstrip("."),
            port=p,
            socket=socket_from_port(use_ssl, p),
            source=f"{label} {side}MailServer"
            + ("" if port is not None else f" (port unset: Apple tries {p})"),
            method=SettingMethod.FILE,
            configured=f"{side}MailServerUseSSL={str(use_ssl).lower()}",
            authentication=(auth,) if auth else (),
            username=username or address,
            priority=position,
        )
        for position, p in enumerate(ports, start=1)
    ]
