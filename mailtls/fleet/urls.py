"""Broker and database URLs: from ``--broker``/``--db`` or the environment, never a password
in argv, never a password in what mailtls prints.

A URL on the command line is visible to every user of the machine (``ps``, shell history), so
one that holds a password is refused there: it belongs in ``$MAILTLS_BROKER`` / ``$MAILTLS_DB``.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from mailtls.errors import UsageError

BROKER_ENV = "MAILTLS_BROKER"
DB_ENV = "MAILTLS_DB"
FROM_ENV = "$env"  # `check --db` without a value: the URL of $MAILTLS_DB


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def resolve_url(given: str | None, env: str, option: str, *, required: bool = True) -> str | None:
    """The URL of ``option`` (``--db``): the command line's (without a password) or ``$env``."""
    if given == FROM_ENV:
        given = None
    if given:
        if _password(given):
            raise UsageError(f"{option}: the URL holds a password; put the URL in ${env} instead "
                             "(a command line is visible to every user of this machine)")
        return given
    value = os.environ.get(env, "").strip()
    if value:
        return value
    if required:
        raise UsageError(f"no {option}: give {option} URL or set ${env}")
    return None


def database_url(given: str | None, *, required: bool = True) -> str | None:
    """``--db``: a SQLAlchemy URL, or a plain file name for SQLite."""
    url = resolve_url(given, DB_ENV, "--db", required=required)
    if url is None:
        return None
    if "://" not in url:  # a path: SQLite
        return "sqlite:///" + os.path.abspath(os.path.expanduser(url))
    return url


def broker_url(given: str | None) -> str:
    url = resolve_url(given, BROKER_ENV, "--broker")
    assert url is not None
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("redis", "rediss", "redis+socket"):
        raise UsageError(f"--broker: not a Redis URL: {redact(url)} (redis://HOST:PORT/DB)")
    return url


def redact(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return re.sub(r"//[^@/]*@", "//***@", url)
    if not password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str, *urls: str | None) -> str:
    """``text`` (an error message) with every password of ``urls`` replaced by ``***``."""
    for url in urls:
        if not url:
            continue
        password = _password(url)
        if password:
            text = text.replace(url, redact(url)).replace(password, "***")
    return text
