"""Private Redis and PostgreSQL instances for the tests and the benchmark (never the system's).

Each runs from its own temporary directory with its own configuration on a loopback address and
a free port, and is stopped and removed on ``close()``. PostgreSQL refuses to run as root, so as
root the cluster belongs to the ``postgres`` user (Debian's package creates it); as any other
user, to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["PrivatePostgres", "PrivateRedis", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None,
               what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {host}:{port} within {timeout:g} s")


def _binary(name: str, *dirs: str) -> str:
    for d in dirs:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found (scripts/install/fleet.sh installs it)")
    return found


@dataclass
class PrivateRedis:
    """``redis-server`` on ``host``:``port`` with no persistence; ``password``: requirepass."""

    host: str = "127.0.0.1"
    port: int = 0
    password: str | None = None
    dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="mailtls-redis-"))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.port = self.port or free_port(self.host)
        conf = os.path.join(self.dir, "redis.conf")
        lines = [f"bind {self.host}", f"port {self.port}", f"dir {self.dir}", 'save ""',
                 "appendonly no", "daemonize no", "protected-mode no", "loglevel warning",
                 f"logfile {os.path.join(self.dir, 'redis.log')}", "databases 4"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(conf, 0o600)
        self.proc = subprocess.Popen([_binary("redis-server", "/usr/bin"), conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.host, self.port, 10.0, self.proc, "redis-server")
        return self

    def url(self, db: int = 0, *, with_password: bool = True) -> str:
        auth = f":{self.password}@" if self.password and with_password else ""
        return f"redis://{auth}{self.host}:{self.port}/{db}"

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class PrivatePostgres:
    """A throwaway cluster (initdb) on ``host``:``port``, its socket in its own directory.

    The superuser ``postgres`` has ``password`` (scram-sha-256 over TCP); the cluster's own
    socket trusts local connections, which only its owner can reach (mode 0700 directory).
    """

    host: str = "127.0.0.1"
    port: int = 0
    password: str = "pg-test-password"
    dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="mailtls-pg-"))
    _user: str | None = None

    def _run(self, argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self._user:
            argv = ["runuser", "-u", self._user, "--", *argv]
        return subprocess.run(list(argv), check=check, capture_output=True, text=True,
                              timeout=120)

    def _bin(self, name: str) -> str:
        dirs = sorted((os.path.join("/usr/lib/postgresql", v, "bin") for v in
                       (os.listdir("/usr/lib/postgresql") if os.path.isdir(
                           "/usr/lib/postgresql") else [])), reverse=True)
        return _binary(name, *dirs)

    def start(self) -> PrivatePostgres:
        self.port = self.port or free_port(self.host)
        if os.geteuid() == 0:
            self._user = "postgres"
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        data = os.path.join(self.dir, "data")
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self._user:
            pw = pwd.getpwnam(self._user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        self._run([self._bin("initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile,
                   "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
                   "--no-instructions"])
        os.unlink(pwfile)
        options = (f"-c listen_addresses={self.host} -p {self.port} "
                   f"-c unix_socket_directories={self.dir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run([self._bin("pg_ctl"), "-D", data, "-o", options, "-l",
                   os.path.join(self.dir, "log"), "-w", "-t", "60", "start"])
        _wait_port(self.host, self.port, 30.0, None, "postgres")
        return self

    def url(self, database: str = "postgres", *, with_password: bool = True) -> str:
        auth = f"postgres:{self.password}@" if with_password else "postgres@"
        return f"postgresql://{auth}{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run([self._bin("createdb"), "-h", self.dir, "-p", str(self.port), "-U",
                   "postgres", name])
        return name

    def close(self) -> None:
        data = os.path.join(self.dir, "data")
        if os.path.isdir(data):
            self._run([self._bin("pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                      check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
