"""Private instances of real Debian servers for the other secure ports of a mail host: slapd
(LDAP 389 StartTLS, LDAPS 636), vsftpd (FTP 21 AUTH TLS, FTPS 990), INN's nnrpd (NNTP 119
STARTTLS, NNTPS 563) and nginx (HTTP 80, HTTPS 443).

Each :class:`PortsProfile` ("good", "flawed") gets its own loopback address with all eight
ports. Every file an instance needs (configuration, database, pid, logs, the certificates of
``interop_servers.InteropPKI``) lives in one temp directory; nothing under /etc is written, and
the system services of these packages are never touched. The daemons run in the foreground as
children of the test process, each in its own session, and are stopped by process group.

Only loopback addresses (127.0.0.0/8) are ever bound or connected to.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.interop.interop_servers import (
    HOST,
    InteropError,
    InteropPKI,
    _check_loopback,
    _wait,
    listening_ports,
)

PORTS = {
    "ldap": 389, "ldaps": 636, "ftp": 21, "ftps": 990, "nntp": 119, "nntps": 563,
    "http": 80, "https": 443,
}  # fmt: skip


def _inn_root() -> str:
    """Where INN lives: "" for the inn2 package (unpacked, even if its configuration failed),
    or the tree scripts/install/ports.sh extracted it to (MAILTLS_INN_ROOT overrides)."""
    if "MAILTLS_INN_ROOT" in os.environ:
        return os.environ["MAILTLS_INN_ROOT"].rstrip("/")
    if os.access("/usr/lib/news/bin/nnrpd", os.X_OK):
        return ""
    return "/opt/mailtls-inn2"


INN_ROOT = _inn_root()
INN_LIB = f"{INN_ROOT}/usr/lib/news"
NNRPD = f"{INN_LIB}/bin/nnrpd"
PROGRAMS = {
    "slapd": "/usr/sbin/slapd", "vsftpd": "/usr/sbin/vsftpd", "nginx": "/usr/sbin/nginx",
    "nnrpd": NNRPD, "makehistory": f"{INN_LIB}/bin/makehistory",
}  # fmt: skip
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LDAP_SUFFIX = "dc=example,dc=test"
# Debian's slapd uses GnuTLS: TLS 1.2/1.3, ECDHE with AEAD only (like the mail suite's good
# profile; the flawed profiles keep these strong too, their defects are elsewhere).
GNUTLS_PRIORITY = (
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:"
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305"
)
OPENSSL_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"


@dataclass(frozen=True)
class PortsProfile:
    name: str
    address: str
    good: bool  # the secure configuration of each server, or its flawed twin


PROFILES = {
    "good": PortsProfile("good", "127.0.0.40", True),
    "flawed": PortsProfile("flawed", "127.0.0.41", False),
}


def missing_programs() -> list[str]:
    return [name for name, path in PROGRAMS.items() if not os.access(path, os.X_OK)]


class PortsServers:
    """slapd, vsftpd (x2), nnrpd (x2) and nginx for one profile, under ``root``."""

    def __init__(self, profile: PortsProfile, pki: InteropPKI, root: Path) -> None:
        _check_loopback(profile.address)
        self.profile = profile
        self.pki = pki
        self.root = root
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.start_seconds: float | None = None

    @property
    def address(self) -> str:
        return self.profile.address

    # -- configuration --------------------------------------------------------------------------
    def _certs(self) -> tuple[Path, Path]:
        """The good chain and key for the good profile; the flawed one gets an expired leaf
        without its intermediate on the implicit ports (see _implicit_certs)."""
        return self.pki.leaf("good", "rsa")

    def _implicit_certs(self) -> tuple[Path, Path]:
        return self.pki.leaf("good" if self.profile.good else "expired_no_chain", "rsa")

    def _copy_key(self, key: Path, name: str, owner: str | None = None) -> Path:
        target = self.root / name
        shutil.copyfile(key, target)
        os.chmod(target, 0o600)
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(target, entry.pw_uid, entry.pw_gid)
        return target

    def _slapd_conf(self) -> Path:
        d = self.root / "slapd"
        (d / "db").mkdir(parents=True)
        chain, key = self._certs()
        conf = d / "slapd.conf"
        # good: a simple bind without TLS is refused with confidentialityRequired (13)
        security = "security simple_bind=128\n" if self.profile.good else ""
        conf.write_text(textwrap.dedent(f"""\
            include /etc/ldap/schema/core.schema
            pidfile {d}/slapd.pid
            argsfile {d}/slapd.args
            modulepath /usr/lib/ldap
            moduleload back_mdb
            TLSCertificateFile {chain}
            TLSCertificateKeyFile {self._copy_key(key, "slapd-key.pem")}
            TLSCipherSuite {GNUTLS_PRIORITY}
            {security}
            database mdb
            maxsize 10485760
            suffix "{LDAP_SUFFIX}"
            rootdn "cn=admin,{LDAP_SUFFIX}"
            directory {d}/db
            """))
        return conf

    def _vsftpd_conf(self, port: int, implicit: bool) -> Path:
        d = self.root / "vsftpd"
        (d / "empty").mkdir(parents=True, exist_ok=True)
        os.chmod(d / "empty", 0o555)
        chain, key = self._implicit_certs() if implicit else self._certs()
        key_copy = self._copy_key(key, f"vsftpd-{port}-key.pem")
        good = self.profile.good
        force = "YES" if good else "NO"
        conf = d / f"vsftpd-{port}.conf"
        conf.write_text(textwrap.dedent(f"""\
            listen=YES
            listen_ipv6=NO
            listen_address={self.address}
            listen_port={port}
            background=NO
            anonymous_enable=NO
            local_enable=YES
            pam_service_name=vsftpd
            secure_chroot_dir={d / "empty"}
            nopriv_user=nobody
            vsftpd_log_file={d}/vsftpd-{port}.log
            xferlog_enable=NO
            seccomp_sandbox=NO
            isolate=NO
            isolate_network=NO
            ssl_enable=YES
            implicit_ssl={"YES" if implicit else "NO"}
            rsa_cert_file={chain}
            rsa_private_key_file={key_copy}
            ssl_tlsv1=YES
            ssl_sslv2=NO
            ssl_sslv3=NO
            require_ssl_reuse=NO
            ssl_ciphers={OPENSSL_CIPHERS}
            force_local_logins_ssl={force}
            force_local_data_ssl={force}
            """))
        os.chmod(conf, 0o600)
        return conf

    def _inn_conf(self) -> Path:
        """INN for nnrpd alone: its own inn.conf (INNCONF), paths, an empty overview and
        history made by makehistory. Good: TLS configured, AUTHINFO only under TLS; flawed:
        no TLS at all (STARTTLS advertised but refused) and AUTHINFO USER in plaintext."""
        d = self.root / "inn"
        for sub in ("etc", "db", "spool/overview", "run", "log", "tmp", "http"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        base = Path(f"{INN_ROOT}/etc/news/inn.conf").read_text()
        kept = [line for line in base.splitlines()
                if not line.startswith(("path", "domain", "port", "mta", "tls", "nnrpdloadlimit",
                                        "server", "fromhost"))]
        chain, key = self._certs()
        tls = ""
        if self.profile.good:
            # nnrpd reads them after dropping to the news user: its own copies
            tls = (f"tlscertfile: {self._copy_key(chain, 'inn-chain.pem', 'news')}\n"
                   f"tlskeyfile: {self._copy_key(key, 'inn-key.pem', 'news')}\n"
                   f'tlsciphers: "{OPENSSL_CIPHERS}"\n')
        (d / "etc/inn.conf").write_text("\n".join(kept) + textwrap.dedent(f"""
            domain: example.test
            fromhost: example.test
            server: {HOST}
            pathnews: {INN_LIB}
            pathbin: {INN_LIB}/bin
            pathcontrol: {INN_LIB}/bin/control
            pathfilter: {INN_ROOT}/etc/news/filter
            pathetc: {d}/etc
            pathdb: {d}/db
            pathspool: {d}/spool
            pathoverview: {d}/spool/overview
            pathrun: {d}/run
            pathlog: {d}/log
            pathtmp: {d}/tmp
            pathincoming: {d}/spool/incoming
            pathoutgoing: {d}/spool/outgoing
            patharchive: {d}/spool/archive
            pathhttp: {d}/http
            port: 119
            mta: "/bin/true"
            nnrpdloadlimit: 0
            """) + tls)
        passwd = d / "etc/passwd.nntp"
        passwd.write_text("")
        # AUTHINFO USER/PASS checked by ckpasswd: advertised before TLS unless require_ssl
        require = "    require_encryption: true\n" if self.profile.good else ""
        (d / "etc/readers.conf").write_text(
            'auth "readers" {\n    hosts: "*"\n'
            f'    auth: "ckpasswd -f {passwd}"\n{require}'
            '}\n'
            'auth "everyone" {\n    hosts: "*"\n    default: "<anyone>"\n}\n'
            'access "all" {\n    users: "*"\n    newsgroups: "*"\n    access: R\n}\n'
        )
        for name in ("storage.conf", "newsfeeds"):
            shutil.copyfile(Path(f"{INN_ROOT}/etc/news") / name, d / "etc" / name)
        (d / "db/active").write_text("control 0000000000 0000000001 n\n"
                                     "junk 0000000000 0000000001 n\n")
        (d / "db/newsgroups").write_text("")
        (d / "db/history").write_text("")
        (d / "spool/tradspool.map").write_text("control 1\njunk 2\n")
        news = pwd.getpwnam("news")
        for path in [d, *d.rglob("*")]:
            os.chown(path, news.pw_uid, news.pw_gid)
        env = self._inn_env()
        subprocess.run([PROGRAMS["makehistory"], "-O", "-x"], user="news", group="news",
                       extra_groups=[], env=env, check=True, capture_output=True, timeout=30,
                       cwd=d)
        if not (d / "spool/overview/group.index").exists():
            raise InteropError(f"makehistory made no overview in {d}")
        return d / "etc/inn.conf"

    def _inn_env(self) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
               "INNCONF": str(self.root / "inn/etc/inn.conf")}
        if INN_ROOT:  # extracted outside dpkg: its own libinn*.so
            env["LD_LIBRARY_PATH"] = INN_LIB
        return env

    def _nginx_conf(self) -> Path:
        d = self.root / "nginx"
        (d / "tmp").mkdir(parents=True)
        chain, key = self._certs()
        key_copy = self._copy_key(key, "nginx-key.pem")
        if self.profile.good:
            plain = "return 301 https://$host$request_uri;"
            hsts = 'add_header Strict-Transport-Security "max-age=31536000" always;'
        else:
            plain = 'return 200 "webmail\\n";'
            hsts = ""
        conf = d / "nginx.conf"
        conf.write_text(textwrap.dedent(f"""\
            pid {d}/nginx.pid;
            error_log {d}/error.log;
            worker_processes 1;
            events {{ worker_connections 64; }}
            http {{
                access_log off;
                client_body_temp_path {d}/tmp/body;
                proxy_temp_path {d}/tmp/proxy;
                fastcgi_temp_path {d}/tmp/fastcgi;
                uwsgi_temp_path {d}/tmp/uwsgi;
                scgi_temp_path {d}/tmp/scgi;
                server {{
                    listen {self.address}:80;
                    server_name {HOST};
                    location / {{ {plain} }}
                }}
                server {{
                    listen {self.address}:443 ssl;
                    server_name {HOST};
                    ssl_certificate {chain};
                    ssl_certificate_key {key_copy};
                    ssl_protocols TLSv1.2 TLSv1.3;
                    ssl_ciphers {OPENSSL_CIPHERS};
                    ssl_prefer_server_ciphers on;
                    {hsts}
                    location / {{ return 200 "webmail\\n"; }}
                }}
            }}
            """))
        return conf

    # -- life cycle ------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 - closed with the process
        try:
            self.procs[name] = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, cwd=self.root,
            )
        finally:
            log.close()

    def start(self) -> None:
        started = time.monotonic()
        a = self.address
        self._spawn("slapd", [PROGRAMS["slapd"], "-d", "0", "-f", str(self._slapd_conf()),
                              "-h", f"ldap://{a}:389/ ldaps://{a}:636/"])
        self._spawn("vsftpd-21", [PROGRAMS["vsftpd"], str(self._vsftpd_conf(21, False))])
        self._spawn("vsftpd-990", [PROGRAMS["vsftpd"], str(self._vsftpd_conf(990, True))])
        self._inn_conf()
        env = self._inn_env()
        self._spawn("nnrpd-119", [NNRPD, "-D", "-f", "-b", a, "-p", "119"], env)
        # flawed: -S (TLS from the first byte) without any certificate configured
        self._spawn("nnrpd-563", [NNRPD, "-D", "-f", "-S", "-b", a, "-p", "563"], env)
        nginx = self._nginx_conf()
        self._spawn("nginx", [PROGRAMS["nginx"], "-p", str(nginx.parent), "-c", str(nginx),
                              "-g", "daemon off;"])
        wanted = set(PORTS.values())
        if not _wait(lambda: wanted <= listening_ports(a) or self._dead() is not None,
                     START_TIMEOUT):
            raise InteropError(f"{self.profile.name}: ports {sorted(wanted - listening_ports(a))}"
                               f" not listening after {START_TIMEOUT:g} s\n{self.logs()}")
        dead = self._dead()
        if dead is not None:
            raise InteropError(f"{self.profile.name}: {dead} exited at start\n{self.logs()}")
        self.start_seconds = round(time.monotonic() - started, 2)

    def _dead(self) -> str | None:
        return next((n for n, p in self.procs.items() if p.poll() is not None), None)

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            # children of a daemon (vsftpd/nnrpd session processes) share its process group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def logs(self, tail: int = 30) -> str:
        out = []
        for path in sorted(self.root.glob("*.out")) + sorted(self.root.glob("*/*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(out)


@contextlib.contextmanager
def running_ports(pki: InteropPKI) -> Iterator[dict[str, PortsServers]]:
    """Both profiles started, stopped (and their temp directories removed) at the end."""
    root = Path(tempfile.mkdtemp(prefix="mailtls-ports-"))
    os.chmod(root, 0o755)
    servers: dict[str, PortsServers] = {}
    try:
        for profile in PROFILES.values():
            sub = root / profile.name
            sub.mkdir()
            os.chmod(sub, 0o755)
            server = PortsServers(profile, pki, sub)
            servers[profile.name] = server
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
