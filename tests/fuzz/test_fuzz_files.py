"""Fuzz the parsers of the user's own files and words: baseline reports (``mailtls diff``,
``--baseline``), expectation files (``--expect``, TOML) and the command line's small parsers.
A broken file or word is a ``UsageError`` (exit 3, one line), never a traceback; ``ValueError``
where a function documents it (``TLSVersion.parse``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, strategies as st

from mailtls.errors import UsageError
from mailtls.model import SERVICES
from mailtls.net.dns import parse_resolver
from mailtls.regression.diff import parse_report
from mailtls.regression.expect import Expectations, load, parse
from mailtls.scan.host import check_host_name, parse_plan, parse_port
from mailtls.testing.imap import parse_astrings
from mailtls.testing.servers import decode_sasl_plain
from mailtls.tls.versions import TLSVersion
from tests.fuzz.fuzz_helpers import FUZZ, edits_strategy, mutated, raises_only, tokens, within

GOLDEN = Path(__file__).parent.parent / "regression" / "golden"
REPORT = (GOLDEN / "report.json").read_bytes()
REPORT_LINES = (GOLDEN / "report.jsonl").read_bytes()

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["schema", "hosts", "name", "started_at"])
                      | st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


@FUZZ
@given(st.one_of(
    st.text(max_size=300),
    json_value.map(json.dumps),
    st.fixed_dictionaries({"schema": st.just("mailtls/1")},
                          optional={"hosts": json_value, "started_at": json_value}).map(
        json.dumps),
    st.builds(mutated, st.sampled_from([REPORT, REPORT_LINES]), edits_strategy).map(_text),
))
@example("[" * 100000)
@example('{"schema": "mailtls/1", "hosts": 1}\n{"schema": "mailtls/1"}')
def test_parse_report(text: str) -> None:
    doc = raises_only(UsageError, lambda: parse_report(text, "fuzz"))
    if doc is not None:
        assert isinstance(doc, dict) and doc["schema"] == "mailtls/1"
        assert isinstance(doc.get("hosts", []), list)


def test_parse_report_deep_nesting_is_fast() -> None:
    with within(), pytest.raises(UsageError, match="neither JSON"):
        parse_report("[" * 1_000_000 + "]" * 1_000_000)


# --- expectations (TOML) -----------------------------------------------------------------------

SPEC_KEYS = ["open", "closed", "starttls_required", "min_tls_version", "cert_min_days",
             "max_severity", "accept", "ignore", "forbid"]
toml_scalar = st.one_of(
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1), st.booleans(),
    st.text(max_size=8), st.floats(allow_nan=False),
    st.sampled_from([*SERVICES, "TLSv1.2", "TLS 1.3", "warn", "fail", "info", "cert.*", 25]),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from([*SPEC_KEYS, "hosts", "ca_file"]) | st.text(max_size=6),
                      inner, max_size=4),
    max_leaves=12,
)
toml_doc = st.dictionaries(
    st.sampled_from([*SPEC_KEYS, "version", "scan", "hosts"]) | st.text(max_size=6),
    toml_value, max_size=6,
)


@FUZZ
@given(toml_doc)
@example({"max_severity": ["warn"]})  # an unhashable value once raised TypeError
def test_parse_expectations(data: dict[str, Any]) -> None:
    result = raises_only(UsageError, lambda: parse(data, "fuzz.toml"))
    assert result is None or isinstance(result, Expectations)


TOML_WORDS = ["version = 1\n", "[scan]\n", "[hosts.\"mail.example.com\"]\n", "open = [", "]",
              "\"smtp\"", ", ", "993", "min_tls_version = ", "\"TLSv1.2\"", "max_severity = ",
              "[[", "{", "}", "=", "\n", "\"", "'''", "\\u", "\xff", "#", "a.b"]


@FUZZ
@given(st.one_of(st.binary(max_size=300),
                 tokens(TOML_WORDS).map(lambda t: t.encode("utf-8", "surrogatepass"))))
@example(b"a = " + b"[" * 5000)  # RecursionError in tomllib
@example(b'a = "\xff"')  # UnicodeDecodeError in tomllib.load
def test_load_expectations_file(data: bytes) -> None:
    with tempfile.NamedTemporaryFile("wb", suffix=".toml", delete=False) as f:
        f.write(data)
    try:
        result = raises_only(UsageError, lambda: load(f.name))
        assert result is None or isinstance(result, Expectations)
    finally:
        os.unlink(f.name)


# --- the command line's words --------------------------------------------------------------

WORDS = ["smtp", "submission", "imaps", "=", ",", ":", "[", "]", "::1", "127.0.0.1", "53",
         "65536", "0", "-1", " ", "%", "٣", "9" * 5000, "TLSv1.2", "tls", "ssl", "v", "1.3", "."]


@FUZZ
@given(tokens(WORDS, max_size=8))
def test_parse_resolver(text: str) -> None:
    result = raises_only(UsageError, lambda: parse_resolver(text))
    if result is not None:
        ip, port = result
        assert 1 <= port <= 65535 and ip


@FUZZ
@given(tokens(WORDS, max_size=6), st.lists(tokens(WORDS, max_size=4), max_size=3),
       st.lists(tokens(WORDS, max_size=4), max_size=3))
def test_ports_plans_and_host_names(word: str, only: list[str], services: list[str]) -> None:
    port = raises_only(UsageError, lambda: parse_port(word))
    assert port is None or 1 <= port <= 65535
    raises_only(UsageError, lambda: parse_plan(only, services))
    raises_only(UsageError, lambda: check_host_name(word))


@FUZZ
@given(tokens(WORDS, max_size=6))
def test_tls_version_parse_documents_value_error(text: str) -> None:
    version = raises_only(ValueError, lambda: TLSVersion.parse(text))
    assert version is None or isinstance(version, TLSVersion)


@FUZZ
@given(tokens(['"', "\\", " ", "{", "a", "é"], max_size=30), st.text(max_size=60))
def test_test_server_parsers(astrings: str, sasl: str) -> None:
    """The loopback test servers' own readers of what a client sends."""
    words = parse_astrings(astrings)
    assert words is None or all(isinstance(w, str) for w in words)
    creds = decode_sasl_plain(sasl)
    assert creds is None or len(creds) == 2
