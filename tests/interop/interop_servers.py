"""Private instances of the real Debian Postfix and Dovecot for the interoperability suite.

Each :class:`Profile` gets its own loopback address and the seven standard mail ports on it:
Postfix serves SMTP 25, submission 587 and submissions 465; Dovecot serves IMAP 143/993 and
POP3 110/995. Everything an instance needs lives in one temp directory: Postfix's
config_directory, queue_directory and data_directory, Dovecot's configuration, base_dir,
state_dir and logs, the certificates and keys minted at run time. Nothing under /etc is read
or written except the package defaults (Postfix's postfix-files and dynamicmaps.cf).

Only loopback addresses (127.0.0.0/8) are ever bound or connected to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import pty
import pwd
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import trustme

HOST = "mail.example.test"
USER = "user"
PASSWORD = "secret-password"  # the passwd-file user for SASL and IMAP/POP3 logins

SMTP_PORTS = {"smtp": 25, "submission": 587, "submissions": 465}
DOVECOT_PORTS = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
ALL_PORTS = {**SMTP_PORTS, **DOVECOT_PORTS}

DEBIAN_DH = Path("/usr/share/dovecot/dh.pem")
SBIN = ("/usr/sbin", "/sbin", "/usr/lib/postfix/sbin")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

# "Strong" for the good profile: forward secrecy and AEAD only (TLS 1.3 suites are separate).
MODERN_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!SHA1"
# OpenSSL 3 refuses TLS 1.0/1.1 below security level 0 (SHA-1/MD5 handshake signatures).
LEGACY_CIPHERS = "ALL:!aNULL:!eNULL:@SECLEVEL=0"


class InteropError(RuntimeError):
    """A private instance could not be set up, started or stopped."""


def find_program(name: str) -> str | None:
    """``name`` on PATH or in the sbin directories (root's PATH is not always complete)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    return shutil.which(name, path=path)


def missing_programs() -> list[str]:
    wanted = ["postfix", "postconf", "dovecot"]
    missing = [p for p in wanted if find_program(p) is None]
    for proto in ("imap", "pop3", "imap-login", "pop3-login"):
        if not Path("/usr/lib/dovecot", proto).exists():
            missing.append(f"/usr/lib/dovecot/{proto}")
    for user in ("postfix", "dovecot", "dovenull"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            missing.append(f"user {user}")
    return missing


# --- profiles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    address: str
    tls: str  # "modern" (TLS 1.2-1.3), "legacy" (TLS 1.0-1.1), "none"
    cert: str = "good"  # "good" (leaf + intermediate sent) or "expired_no_chain"
    plaintext_login: bool = False  # AUTH/LOGIN/USER offered before TLS
    submission_tls: str = "encrypt"  # smtpd_tls_security_level on 587: "encrypt" or "may"
    postscreen: bool = False  # postscreen in front of smtpd on port 25
    implicit: bool = True  # listen on 465/993/995
    deliver: bool = False  # user@example.test is delivered: Postfix -> LMTP -> Dovecot INBOX
    description: str = ""

    @property
    def ports(self) -> dict[str, int]:
        if self.implicit:
            return dict(ALL_PORTS)
        return {k: v for k, v in ALL_PORTS.items() if k in ("smtp", "submission", "imap", "pop3")}


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "good", "127.0.0.11", "modern", postscreen=True,
            description="TLS 1.2+1.3, strong ciphers, trusted chain incl. intermediate, "
            "STARTTLS on 25/587/143/110, implicit TLS on 465/993/995, AUTH only after TLS, "
            "postscreen on 25",
        ),
        Profile(
            "legacy", "127.0.0.12", "legacy",
            description="TLS 1.0 and 1.1 only (security level 0)",
        ),
        Profile(
            "plaintext-login", "127.0.0.13", "modern", plaintext_login=True,
            description="modern TLS, but AUTH on 587, LOGIN on 143 and USER on 110 before TLS",
        ),
        Profile(
            "no-starttls", "127.0.0.14", "none", implicit=False,
            description="no TLS at all: plaintext 25/587/143/110, nothing on 465/993/995",
        ),
        Profile(
            "expired-chain", "127.0.0.15", "modern", cert="expired_no_chain",
            description="expired leaf, intermediate not sent",
        ),
        Profile(
            "submission-may", "127.0.0.16", "modern", submission_tls="may",
            description="like good without postscreen, but STARTTLS is optional on 587 "
            "(smtpd_tls_security_level = may): AUTH is offered only after TLS and only SASL "
            "clients may relay, so no mail is submitted without TLS - a common Postfix setup",
        ),
    )
}


#: Not in PROFILES (the suite's every-profile fixture): started on its own by the tests that
#: deliver mail (tests/interop/test_roundtrip.py). Addresses 127.0.0.30-39 are for such profiles.
DELIVERY = Profile(
    "delivery", "127.0.0.30", "modern", deliver=True,
    description="like good without postscreen, and mail for user@example.test is delivered: "
    "Postfix hands it over LMTP (a unix socket) to Dovecot, into the INBOX that IMAP and POP3 "
    "read; smtpd_tls_received_header records the TLS of each SMTP hop",
)
LMTP_PROGRAM = Path("/usr/lib/dovecot/lmtp")


def _check_loopback(address: str) -> None:
    if ipaddress.ip_address(address) not in ipaddress.ip_network("127.0.0.0/8"):
        raise InteropError(f"refusing non-loopback address {address}")


# --- certificates --------------------------------------------------------------------------------


class InteropPKI:
    """One root, one intermediate, and a leaf per certificate kind, as PEM files on disk.

    ``mailtls.testing.pki.TestPKI`` gives server contexts and the chain PEM but not the leaf
    key as a file, which Postfix and Dovecot need; trustme directly gives both.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._ca = trustme.CA(organization_name="mailtls interop root")
        self._intermediate = self._ca.create_child_ca()
        self._lock = threading.Lock()
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(self._ca.cert_pem.bytes())

    def leaf(self, kind: str, key_type: str = "ecdsa") -> tuple[Path, Path]:
        """(chain file as the server sends it, key file) for ``kind``."""
        with self._lock:
            return self._leaf(kind, key_type)

    def _leaf(self, kind: str, key_type: str) -> tuple[Path, Path]:
        chain_file = self.directory / f"{kind}-{key_type}-chain.pem"
        key_file = self.directory / f"{kind}-{key_type}-key.pem"
        if chain_file.exists():
            return chain_file, key_file
        kt = trustme.KeyType.RSA if key_type == "rsa" else trustme.KeyType.ECDSA
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        if kind == "good":
            cert = self._intermediate.issue_cert(
                HOST, common_name=HOST, organization_name="mailtls interop", key_type=kt
            )
            pems = [blob.bytes() for blob in cert.cert_chain_pems]  # leaf + intermediate
        elif kind == "expired_no_chain":
            cert = self._intermediate.issue_cert(
                HOST, common_name=HOST, organization_name="mailtls interop", key_type=kt,
                not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=2),
            )
            pems = [cert.cert_chain_pems[0].bytes()]  # the leaf alone
        else:
            raise ValueError(f"unknown certificate kind {kind!r}")
        chain_file.write_bytes(b"".join(pems))
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cert.private_key_pem.bytes())
        return chain_file, key_file


# --- sockets -------------------------------------------------------------------------------------


def _proc_listeners() -> set[tuple[str, int]]:
    """(address, port) of every IPv4 TCP socket in LISTEN state, from /proc/net/tcp."""
    out: set[tuple[str, int]] = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
        next(f, None)
        for line in f:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":
                continue
            hex_addr, hex_port = fields[1].split(":")
            addr = socket.inet_ntoa(bytes.fromhex(hex_addr)[::-1])
            out.add((addr, int(hex_port, 16)))
    return out


def listening_ports(address: str) -> set[int]:
    """Ports in LISTEN on ``address`` (or the IPv4 wildcard) - read from /proc, no connection."""
    return {p for a, p in _proc_listeners() if a in (address, "0.0.0.0")}


def _listener_pids(address: str, port: int) -> list[int]:
    """Processes holding a listening socket on (address or 0.0.0.0):port, from /proc."""
    inodes = set()
    with contextlib.suppress(OSError), open("/proc/net/tcp") as f:
        next(f, None)
        for line in f:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A":
                continue
            hex_addr, hex_port = fields[1].split(":")
            addr = socket.inet_ntoa(bytes.fromhex(hex_addr)[::-1])
            if int(hex_port, 16) == port and addr in (address, "0.0.0.0"):
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/fd/{fd}") in inodes:
                    pids.append(int(entry))
                    break
    return pids


def _describe_pid(pid: int) -> str:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        comm = "?"
    return f"pid {pid} {comm}"


def _is_interop_process(pid: int) -> bool:
    prefix = os.path.join(os.path.realpath(tempfile.gettempdir()), "mailtls-interop-")
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(prefix)
    except OSError:
        return False


def ensure_ports_free(address: str, ports: Iterable[int]) -> None:
    """Fail clearly when a standard port of ``address`` is already taken."""
    _check_loopback(address)
    taken = []
    interop = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, port))
            except OSError as exc:
                holders = _listener_pids(address, port)
                interop += [pid for pid in holders if _is_interop_process(pid)]
                who = ", ".join(_describe_pid(pid) for pid in holders)
                taken.append(f"{address}:{port} ({exc.strerror}{'; ' + who if who else ''})")
    if taken:
        if interop:
            hint = (f"processes {sorted(set(interop))} are a private instance of another "
                    "interop run, still running or killed before it could clean up")
        else:
            hint = ("something else listens there (the system postfix/dovecot on *:25?); "
                    "the suite never stops a system service")
        raise InteropError(
            "standard mail port(s) already in use, cannot start the private Postfix/Dovecot: "
            + ", ".join(taken) + " - " + hint
        )


# --- processes -----------------------------------------------------------------------------------


def pids_under(root: Path) -> list[int]:
    """Processes whose working directory or root directory lies under ``root``.

    Postfix daemons run in their queue_directory, Dovecot's in its base_dir (login processes
    chrooted to base_dir/login): so this finds every process of an instance, whatever its
    process title.
    """
    root_s = str(root.resolve())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for link in ("cwd", "root"):
            try:
                target = os.readlink(f"/proc/{entry}/{link}")
            except OSError:
                continue
            if target == root_s or target.startswith(root_s + "/"):
                found.append(int(entry))
                break
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _run(
    args: list[str], what: str, timeout: float = 30.0, env: dict[str, str] | None = None
) -> str:
    """Run a daemon's control command; its output is returned or put into the error.

    Output goes to a pseudo-terminal, not a pipe: a daemon that forks would keep a pipe open
    forever, and Postfix's commands print their errors only when stderr is a terminal
    (otherwise they go to syslog, which a test machine may not have).
    """
    controller, terminal = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while select.select([controller], [], [], 0)[0]:
            try:
                data = os.read(controller, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    try:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env,
            start_new_session=True,
        )
        os.close(terminal)
        terminal = -1
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise InteropError(f"{what}: {' '.join(args)} timed out after {timeout:g} s")
            select.select([controller], [], [], 0.05)
            drain()
        drain()
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    text = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    if proc.returncode != 0:
        raise InteropError(f"{what}: {' '.join(args)} exited {proc.returncode}\n{text}")
    return text


def _wait(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --- one profile: Postfix + Dovecot ---------------------------------------------------------------


class MailServer:
    """Postfix and Dovecot for one :class:`Profile`, configured under ``root``."""

    def __init__(self, profile: Profile, pki: InteropPKI, root: Path) -> None:
        _check_loopback(profile.address)
        self.profile = profile
        self.pki = pki
        self.root = root
        self.pf_etc = root / "postfix" / "etc"
        self.pf_queue = root / "postfix" / "spool"
        self.pf_data = root / "postfix" / "data"
        self.pf_log = root / "postfix" / "maillog"
        self.dc_dir = root / "dovecot"
        self.dc_conf = self.dc_dir / "dovecot.conf"
        self.dc_base = self.dc_dir / "run"
        self.dc_log = self.dc_dir / "dovecot.log"
        self.openssl_conf = root / "openssl.cnf"
        self.started = False
        self.start_seconds: float | None = None

    @property
    def address(self) -> str:
        return self.profile.address

    @property
    def auth_socket(self) -> Path:
        return self.dc_base / "auth-postfix"

    # -- configuration -----------------------------------------------------------------------

    def write_config(self) -> None:
        self.root.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the postfix and dovecot users must reach their sockets
        self._write_openssl_conf()
        self._write_dovecot()
        self._write_postfix()

    def _write_openssl_conf(self) -> None:
        # Only the legacy profile needs it: caps both daemons at TLS 1.1 (Dovecot 2.3 has no
        # ssl_max_protocol) and lowers the security level so OpenSSL 3 still speaks TLS 1.0/1.1.
        if self.profile.tls != "legacy":
            return
        self.openssl_conf.write_text(textwrap.dedent("""\
            openssl_conf = openssl_init
            [openssl_init]
            ssl_conf = ssl_sect
            [ssl_sect]
            system_default = system_default_sect
            [system_default_sect]
            MinProtocol = TLSv1
            MaxProtocol = TLSv1.1
            CipherString = ALL:!aNULL:!eNULL:@SECLEVEL=0
            """))

    def _cert_files(self) -> tuple[Path, Path]:
        key_type = "rsa" if self.profile.tls == "legacy" else "ecdsa"
        return self.pki.leaf(self.profile.cert, key_type)

    def _write_dovecot(self) -> None:
        p = self.profile
        self.dc_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        mail_dir = self.dc_dir / "mail"
        mail_dir.mkdir(mode=0o700, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(mail_dir, nobody.pw_uid, nobody.pw_gid)
        passwd = self.dc_dir / "passwd"
        passwd.write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{nobody.pw_uid}:{nobody.pw_gid}::{mail_dir}/{USER}::\n"
        )
        os.chmod(passwd, 0o640)
        os.chown(passwd, 0, pwd.getpwnam("dovecot").pw_gid)

        if p.tls == "none":
            ssl = "ssl = no"
        else:
            chain, key = self._cert_files()
            ssl_lines = [
                # "required": no plaintext authentication before TLS, whatever
                # disable_plaintext_auth says; "yes" lets disable_plaintext_auth decide.
                f"ssl = {'yes' if p.plaintext_login else 'required'}",
                f"ssl_cert = <{chain}",
                f"ssl_key = <{key}",
                "ssl_prefer_server_ciphers = yes",
            ]
            if DEBIAN_DH.exists():  # as Debian's 10-ssl.conf has it: DHE suites need it
                ssl_lines.append(f"ssl_dh = <{DEBIAN_DH}")
            if p.tls == "legacy":
                ssl_lines += ["ssl_min_protocol = TLSv1", f"ssl_cipher_list = {LEGACY_CIPHERS}"]
            else:
                ssl_lines += ["ssl_min_protocol = TLSv1.2", f"ssl_cipher_list = {MODERN_CIPHERS}"]
            ssl = "\n".join(ssl_lines)

        env = "TZ CORE_OUTOFMEM CORE_ERROR LISTEN_PID LISTEN_FDS NOTIFY_SOCKET"
        if self.openssl_conf.exists():
            env += f" OPENSSL_CONF={self.openssl_conf}"

        imaps = "inet_listener imaps {\n    port = 993\n    ssl = yes\n  }" if p.implicit else ""
        pop3s = "inet_listener pop3s {\n    port = 995\n    ssl = yes\n  }" if p.implicit else ""
        conf = f"""\
# Private Dovecot for the mailtls interop profile {p.name!r}; started with dovecot -c.
instance_name = mailtls-{p.name}
protocols = imap pop3
listen = {p.address}
base_dir = {self.dc_base}
state_dir = {self.dc_dir / "state"}
log_path = {self.dc_log}
import_environment = {env}
login_greeting = Dovecot ready.
shutdown_clients = yes

{ssl}

disable_plaintext_auth = {"no" if p.plaintext_login else "yes"}
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
mail_location = maildir:~/Maildir

# Login processes and limits as a default install has them (10-master.conf, 20-imap.conf,
# 20-pop3.conf, and the compiled-in defaults): high-security mode, one process per connection,
# none pre-forked.
default_process_limit = 100
default_client_limit = 1000
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  {imaps}
  service_count = 1
  process_min_avail = 0
  client_limit = 0
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  {pop3s}
  service_count = 1
  process_min_avail = 0
  client_limit = 0
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
protocol imap {{
  mail_max_userip_connections = 10
}}
protocol pop3 {{
  mail_max_userip_connections = 10
}}
"""
        if p.deliver:
            conf = conf.replace("protocols = imap pop3\n", "protocols = imap pop3 lmtp\n")
            conf += """
service lmtp {
  unix_listener lmtp-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
protocol lmtp {
  # Postfix gives the whole address; the passwd-file knows the local part
  auth_username_format = %Ln
  postmaster_address = postmaster@example.test
}
"""
        self.dc_conf.write_text(conf)

    def check_postfix_config(self) -> None:
        """``postconf -n`` warns about misspelt or unused parameters: treat that as an error."""
        postconf = find_program("postconf")
        assert postconf is not None
        out = _run([postconf, "-c", str(self.pf_etc), "-n"], f"postconf ({self.profile.name})",
                   env=self._env())
        warnings = [line for line in out.splitlines() if "warning:" in line]
        if warnings:
            raise InteropError(f"profile {self.profile.name}: main.cf: " + "; ".join(warnings))

    def _write_postfix(self) -> None:
        p = self.profile
        self.pf_etc.mkdir(mode=0o755, parents=True, exist_ok=True)
        for d in (self.pf_queue, self.pf_data):
            d.mkdir(mode=0o755, parents=True, exist_ok=True)
        postfix_user = pwd.getpwnam("postfix")
        os.chown(self.pf_data, postfix_user.pw_uid, postfix_user.pw_gid)

        env = "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME"
        if self.openssl_conf.exists():
            env += f" OPENSSL_CONF={self.openssl_conf}"
        main = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.pf_queue),
            "data_directory": str(self.pf_data),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": f"postfix-{p.name}",
            "maillog_file": str(self.pf_log),
            "maillog_file_prefixes": str(self.root),
            "import_environment": env,
            "myhostname": HOST,
            "mydomain": "example.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            # Postfix insists that inet_interfaces names an interface address, and 127.0.0.1x
            # is only routed to lo, not configured on it: the inet services in master.cf bind
            # to the profile address by name instead ("127.0.0.11:25").
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            # Only the server's own address is trusted: the scanner (127.0.0.1) is an ordinary
            # internet client, for smtpd and for postscreen's permit_mynetworks alike.
            "mynetworks": f"{p.address}/32",
            "smtpd_banner": "$myhostname ESMTP",
            "biff": "no",
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject_unauth_destination",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": str(self.auth_socket),
            "smtpd_sasl_auth_enable": "no",
        }
        if p.tls == "none":
            main["smtpd_tls_security_level"] = "none"
        else:
            chain, key = self._cert_files()
            main.update({
                "smtpd_tls_chain_files": f"{key}, {chain}",
                "smtpd_tls_security_level": "may",
                "smtpd_tls_auth_only": "no" if p.plaintext_login else "yes",
                "smtpd_tls_loglevel": "1",
                "smtpd_tls_session_cache_database": "btree:${data_directory}/smtpd_scache",
                "tls_preempt_cipherlist": "yes",
            })
            if p.tls == "legacy":
                main.update({
                    "smtpd_tls_protocols": ">=TLSv1, <=TLSv1.1",
                    "smtpd_tls_mandatory_protocols": ">=TLSv1, <=TLSv1.1",
                    "smtpd_tls_ciphers": "low",
                    "smtpd_tls_mandatory_ciphers": "low",
                    "tls_low_cipherlist": LEGACY_CIPHERS,
                })
            else:
                main.update({
                    "smtpd_tls_protocols": ">=TLSv1.2",
                    "smtpd_tls_mandatory_protocols": ">=TLSv1.2",
                    "smtpd_tls_ciphers": "high",
                    "smtpd_tls_mandatory_ciphers": "high",
                    "tls_high_cipherlist": MODERN_CIPHERS,
                })
        if p.deliver:
            main.update({
                "mydestination": "example.test",
                "local_transport": f"lmtp:unix:{self.dc_base / 'lmtp-postfix'}",
                "smtpd_tls_received_header": "yes",
            })
        if p.postscreen:
            main.update({
                # Postfix's POSTSCREEN_README setup: the pregreet test with the default
                # ${stress?{2}:{6}}s wait, a 220- banner first, pregreeting clients blocked.
                "postscreen_access_list": "permit_mynetworks",
                "postscreen_greet_banner": "$smtpd_banner",
                "postscreen_greet_action": "enforce",
                "postscreen_greet_wait": "${stress?{2}:{6}}s",
                "postscreen_cache_map": "btree:$data_directory/postscreen_cache",
            })
        (self.pf_etc / "main.cf").write_text(
            "# Private Postfix for the mailtls interop profile "
            f"{p.name!r}; run with postfix -c {self.pf_etc}.\n"
            + "".join(f"{k} = {v}\n" for k, v in main.items())
        )
        (self.pf_etc / "master.cf").write_text(self._master_cf())
        # Postfix re-reads a config file until it is over a second old (a guard against files
        # still being edited): that costs each command ~2 s, so the files are dated back.
        past = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(self.pf_etc / name, (past, past))

    def _master_cf(self) -> str:
        p = self.profile
        a = p.address
        # service type private unpriv chroot wakeup maxproc command; chroot off everywhere:
        # the queue directory is a temp dir without the copies of /etc a chroot needs.
        lines = ["# Private Postfix master.cf for the mailtls interop suite (no chroot)."]
        if p.postscreen:
            lines += [
                f"{a}:25 inet  n       -       n       -       1       postscreen",
                f"  -o syslog_name=postfix-{p.name}/smtp",
                "smtpd     pass  -       -       n       -       -       smtpd",
                "dnsblog   unix  -       -       n       -       0       dnsblog",
                "tlsproxy  unix  -       -       n       -       0       tlsproxy",
            ]
        else:
            lines.append(f"{a}:25 inet  n       -       n       -       -       smtpd")
            lines.append(f"  -o syslog_name=postfix-{p.name}/smtp")
        if p.tls == "none":
            sub_opts = ["-o syslog_name=postfix-{n}/submission"]
        else:
            sub_opts = [
                "-o syslog_name=postfix-{n}/submission",
                "-o smtpd_tls_security_level="
                + ("may" if p.plaintext_login else p.submission_tls),
            ]
        sub_opts += [
            "-o smtpd_sasl_auth_enable=yes",
            "-o smtpd_client_restrictions=permit_sasl_authenticated,reject",
            "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
        ]
        lines.append(f"{a}:587 inet n       -       n       -       -       smtpd")
        lines += [f"  {o.format(n=p.name)}" for o in sub_opts]
        if p.implicit and p.tls != "none":
            lines.append(f"{a}:465 inet n       -       n       -       -       smtpd")
            lines += [
                f"  -o syslog_name=postfix-{p.name}/submissions",
                "  -o smtpd_tls_wrappermode=yes",
                "  -o smtpd_sasl_auth_enable=yes",
                "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject",
                "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
            ]
        lines += [
            "pickup    unix  n       -       n       60      1       pickup",
            "cleanup   unix  n       -       n       -       0       cleanup",
            "qmgr      unix  n       -       n       300     1       qmgr",
            "tlsmgr    unix  -       -       n       1000?   1       tlsmgr",
            "rewrite   unix  -       -       n       -       -       trivial-rewrite",
            "bounce    unix  -       -       n       -       0       bounce",
            "defer     unix  -       -       n       -       0       bounce",
            "trace     unix  -       -       n       -       0       bounce",
            "verify    unix  -       -       n       -       1       verify",
            "flush     unix  n       -       n       1000?   0       flush",
            "proxymap  unix  -       -       n       -       -       proxymap",
            "proxywrite unix -       -       n       -       1       proxymap",
            "smtp      unix  -       -       n       -       -       smtp",
            "relay     unix  -       -       n       -       -       smtp",
            "showq     unix  n       -       n       -       -       showq",
            "error     unix  -       -       n       -       -       error",
            "retry     unix  -       -       n       -       -       error",
            "discard   unix  -       -       n       -       -       discard",
            "local     unix  -       n       n       -       -       local",
            "virtual   unix  -       n       n       -       -       virtual",
            "lmtp      unix  -       -       n       -       -       lmtp",
            "anvil     unix  -       -       n       -       1       anvil",
            "scache    unix  -       -       n       -       1       scache",
            "postlog   unix-dgram n  -       n       -       1       postlogd",
        ]
        return "\n".join(lines) + "\n"

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        ensure_ports_free(self.address, self.profile.ports.values())
        self.write_config()
        self.check_postfix_config()
        self.started = True  # from here on, stop() has something to clean up
        dovecot = find_program("dovecot")
        postfix = find_program("postfix")
        assert dovecot is not None and postfix is not None
        _run([dovecot, "-c", str(self.dc_conf)], f"dovecot ({self.profile.name})",
             env=self._env())
        # Postfix's smtpd asks Dovecot's auth socket for SASL: Dovecot first.
        _run([postfix, "-c", str(self.pf_etc), "start"], f"postfix ({self.profile.name})",
             env=self._env())
        want = set(self.profile.ports.values())
        if not _wait(lambda: want <= listening_ports(self.address), START_TIMEOUT):
            missing = sorted(want - listening_ports(self.address))
            raise InteropError(
                f"profile {self.profile.name}: ports {missing} on {self.address} did not open "
                f"within {START_TIMEOUT:g} s\n{self.logs()}"
            )
        if not _wait(self.auth_socket.exists, 5.0):
            raise InteropError(f"profile {self.profile.name}: Dovecot made no auth socket "
                               f"{self.auth_socket}\n{self.logs()}")
        self.start_seconds = round(time.monotonic() - started, 2)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TZ")}
        env["PATH"] = os.pathsep.join([env.get("PATH", "/usr/bin:/bin"), *SBIN])
        return env

    def stop(self) -> None:
        """Stop both daemons, kill any straggler of this instance; idempotent."""
        if not self.started:
            return
        errors = []
        postfix = find_program("postfix")
        master_pid = _read_pid(self.pf_queue / "pid" / "master.pid")
        dovecot_pid = _read_pid(self.dc_base / "master.pid")
        known = set(pids_under(self.root)) | {p for p in (master_pid, dovecot_pid) if p}
        if postfix and master_pid and _alive(master_pid):
            try:
                _run([postfix, "-c", str(self.pf_etc), "stop"], "postfix stop",
                     timeout=STOP_TIMEOUT, env=self._env())
            except InteropError as exc:
                errors.append(str(exc))
            if not _wait(lambda: not _alive(master_pid), STOP_TIMEOUT):
                errors.append(f"postfix master {master_pid} did not stop")
        if dovecot_pid and _alive(dovecot_pid):
            # What "dovecot stop" does, without its one-second polling.
            with contextlib.suppress(ProcessLookupError):
                os.kill(dovecot_pid, signal.SIGTERM)
            if not _wait(lambda: not _alive(dovecot_pid), STOP_TIMEOUT):
                errors.append(f"dovecot master {dovecot_pid} did not stop")
        # The masters are gone; their children (Dovecot's log process drains last) follow within
        # moments. Whatever is still running after that is ours and hung: kill it.
        _wait(lambda: not any(_alive(pid) for pid in pids_under(self.root)), STOP_TIMEOUT)
        stragglers = [pid for pid in pids_under(self.root) if _alive(pid)]
        for pid in stragglers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if stragglers:
            _wait(lambda: not any(_alive(pid) for pid in stragglers), 5.0)
            errors.append(f"killed leftover process(es) {stragglers}")
        # The daemons were re-parented to init when they detached; give init a moment to reap
        # them, so that no <defunct> entry of ours outlives the run.
        _wait(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in known), 5.0)
        self.started = False
        if errors:
            raise InteropError(f"profile {self.profile.name}: " + "; ".join(errors))

    def logs(self, tail: int = 40) -> str:
        out = []
        for name, path in (("postfix", self.pf_log), ("dovecot", self.dc_log)):
            try:
                lines = path.read_text(errors="replace").splitlines()[-tail:]
            except OSError:
                lines = ["(no log)"]
            out.append(f"--- {name} log ({path}) ---\n" + "\n".join(lines))
        return "\n".join(out)

    def postfix_log(self) -> str:
        try:
            return self.pf_log.read_text(errors="replace")
        except OSError:
            return ""

    def dovecot_log(self) -> str:
        try:
            return self.dc_log.read_text(errors="replace")
        except OSError:
            return ""


def _stop_all(servers: Iterable[MailServer]) -> list[str]:
    servers = list(servers)
    if not servers:
        return []
    errors = []
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        for server, future in [(s, pool.submit(s.stop)) for s in servers]:
            try:
                future.result()
            except Exception as exc:
                errors.append(f"{server.profile.name}: {exc}")
    return errors


def leftovers(root: Path, servers: Iterable[MailServer]) -> list[str]:
    """What an instance left behind: processes, or listeners on its mail ports."""
    found = [f"process {pid}" for pid in pids_under(root) if _alive(pid)]
    for server in servers:
        still = sorted(set(ALL_PORTS.values()) & listening_ports(server.address))
        found += [f"{server.address}:{port} still listening" for port in still]
    return found


@contextlib.contextmanager
def running(
    profiles: Iterable[Profile],
) -> Iterator[tuple[InteropPKI, dict[str, MailServer]]]:
    """Start every profile (in parallel) under one temp dir; always stop them and clean up.

    On the way out every instance is stopped, stragglers are killed, the temp dir is removed,
    and it is checked that no process of ours is left and nothing listens on a mail port of a
    profile address - also when the body failed (then the problems are added as notes).
    """
    profiles = list(profiles)
    root = Path(tempfile.mkdtemp(prefix="mailtls-interop-"))
    os.chmod(root, 0o755)
    servers: dict[str, MailServer] = {}
    try:
        pki = InteropPKI(root / "pki")
        for profile in profiles:
            servers[profile.name] = MailServer(profile, pki, root / profile.name)
        errors = []
        with ThreadPoolExecutor(max_workers=len(servers) or 1) as pool:
            for server, future in [(s, pool.submit(s.start)) for s in servers.values()]:
                try:
                    future.result()
                except Exception as exc:
                    errors.append(f"{server.profile.name}: {exc}")
        if errors:
            raise InteropError("could not start: " + "\n".join(errors))
        yield pki, servers
    except BaseException as exc:
        problems = _stop_all(servers.values())
        problems += leftovers(root, servers.values())
        _kill_under(root)
        shutil.rmtree(root, ignore_errors=True)
        for problem in problems:
            exc.add_note(f"cleanup: {problem}")
        raise
    else:
        problems = _stop_all(servers.values())
        problems += leftovers(root, servers.values())
        _kill_under(root)
        shutil.rmtree(root, ignore_errors=True)
        if problems:
            raise InteropError("cleanup: " + "; ".join(problems))


def _kill_under(root: Path) -> None:
    for pid in pids_under(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
