"""What a ``mailtls check --quick`` process loads (issue 12: start-up time), without timing.

A quick check's own work is a few tens of milliseconds; the rest of the process is Python
starting and importing. The set of modules a real run imports is read from
``python -X importtime``, which names every module as it is first imported: a quick check in a
pipe (no terminal, so no progress line) with ``--format json`` must not load what only other
commands, output formats, the deep probes or the other ports need. Each name below cost a
measured share of every run's start-up before it was made lazy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

import pytest

from mailtls.cli.app import ALONE, build_parser, command_of
from mailtls.testing import TestPKI, start_imap, start_smtp
from tests.cli_runner import check_argv

HOST = "mail.example.test"

# Never loaded by `check --quick --format json` of the mail ports: (module or package, why not).
NOT_ON_THE_QUICK_JSON_PATH = {
    "rich": "terminal output and the progress line only (no terminal here)",
    "mailtls.render.terminal": "--format text",
    "mailtls.render.html": "--format html",
    "mailtls.render.junit": "--format junit",
    "mailtls.render.csv": "--format csv",
    "mailtls.render.nagios": "--format nagios",
    "mailtls.render.prometheus": "--format prometheus",
    "mailtls.render.load": "mailtls show",
    "mailtls.cli.client": "mailtls client",
    "mailtls.cli.serve": "mailtls serve",
    "mailtls.cli.completion": "mailtls completion",
    "mailtls.cli.demo": "mailtls demo",
    "mailtls.fleet.db": "--db, fleet",
    "sqlalchemy": "--db, fleet",
    "celery": "fleet",
    "redis": "fleet",
    "uuid": "fleet run ids",
    "mailtls.model.domain": "mail domains' records",
    "mailtls.model.client": "mailtls client's records",
    "mailtls.model.regression": "--expect, --baseline records",
    "mailtls.regression.expect": "--expect, init",
    "mailtls.regression.diff": "--baseline, diff",
    "mailtls.scan.batch": "--targets",
    "mailtls.scan.domain": "mail domains (DNS)",
    "mailtls.net.dns": "mail domains, --resolver",
    "dns": "dnspython: mail domains, --resolver",
    "mailtls.net.https": "MTA-STS, autoconfig",
    "httpx": "MTA-STS, autoconfig",
    "mailtls.tls.suites": "the suite table: the enumeration and its judgement",
    "mailtls.tls.enumeration": "the deep check",
    "mailtls.probes.tlsscan": "the deep check",
    "mailtls.probes.security": "the deep check",
    "mailtls.probes.portadapters": "LDAP, FTP, NNTP, HTTP ports (--also)",
    "mailtls.proto.ldap": "--also",
    "mailtls.proto.ftp": "--also",
    "mailtls.proto.nntp": "--also",
    "mailtls.proto.http": "--also",
}

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


def imported_by(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m mailtls ARGV``: the process and every module it imported."""
    # Not measured by coverage: its start-up hook (scripts/test) imports modules of its own
    # (uuid, ...) into the child, which are not the check's.
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "TERM", "COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mailtls", *argv],
                          capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)
    return proc, set(_IMPORTED.findall(proc.stderr))


def loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_a_quick_json_check_loads_only_what_it_uses(pki: TestPKI) -> None:
    with start_smtp(pki) as smtp, start_imap(pki, implicit_tls=True) as imaps:
        argv = check_argv(HOST, [f"submission={smtp.port}", f"imaps={imaps.port}"],
                          ca_file=pki.ca_file(), json_out=True, quick=True)
        proc, modules = imported_by(argv)
        text, text_modules = imported_by([a for a in argv if a not in ("--format", "json")])
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert [e["tls"]["version"] for e in report["hosts"][0]["endpoints"]] == ["TLSv1.3"] * 2
    # what the run really did is in the list (the reading of -X importtime works)
    for used in ("mailtls.probes.mailport", "mailtls.checks.judge", "mailtls.render.jsonout",
                 "cryptography.x509"):  # the certificate is parsed: cryptography stays
        assert used in modules
    # the same check with the default terminal format does load rich: the list can tell
    assert text.returncode == 0, text.stderr[-2000:]
    assert "mailtls.render.terminal" in text_modules and loaded(text_modules, "rich")
    assert "mailtls.render.progress" in text_modules and loaded(text_modules, "rich.console")
    assert not loaded(text_modules, "rich.live")  # no terminal: no progress line
    wrong = {name: why for name, why in NOT_ON_THE_QUICK_JSON_PATH.items()
             if loaded(modules, name)}
    assert not wrong, f"imported by a --quick --format json check: {wrong}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_but_completion_can_be_built_alone() -> None:
    assert set(_subparsers(build_parser())) == ALONE | {"completion"}


@pytest.mark.parametrize("command", sorted(ALONE))
def test_a_command_built_alone_is_the_same_command(command: str) -> None:
    """main() builds only the command it runs: its help and its parsing must be unchanged."""
    whole, alone = _subparsers(build_parser()), _subparsers(build_parser(command))
    assert command in alone and set(alone) <= set(whole)
    for name, sub in alone.items():
        assert sub.format_help() == whole[name].format_help()
        assert set(_subparsers(sub)) == set(_subparsers(whole[name]))
        for nested, nested_sub in _subparsers(sub).items():
            assert nested_sub.format_help() == _subparsers(whole[name])[nested].format_help()


@pytest.mark.parametrize("argv", [
    ["check", "mail.example.com", "--quick", "--format", "json"],
    ["check", "a.example", "b.example", "--only", "smtp", "--also", "web", "-o", "r.html"],
    ["domain", "example.com", "--format", "jsonl"],
    ["init", "mail.example.com"],
    ["diff", "a.json", "b.json"],
    ["fleet", "submit", "hosts.txt", "--chunk", "5"],
    ["fleet", "status", "RUN"],
    ["worker"],
    ["demo", "--quick"],
    ["client", "user@example.com"],
    ["serve"],
    ["show", "r.json"],
    ["rules", "cert."],
])
def test_arguments_parse_the_same_alone(argv: list[str]) -> None:
    assert command_of(argv) == argv[0]
    assert vars(build_parser(argv[0]).parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [[], ["--help"], ["--version"], ["completion", "bash"],
                                  ["chek", "x"], ["--", "check"]])
def test_everything_else_builds_the_whole_parser(argv: list[str]) -> None:
    assert command_of(argv) is None


def test_the_command_imports_without_the_cyclic_gc_and_runs_with_it() -> None:
    """``mailtls.launch`` imports the CLI with the cyclic garbage collector off (a quick check
    spent ~10 % of its time in collections during start-up), then freezes what start-up made
    (never scanned again) and turns the collector back on for the command."""
    code = ("import gc, sys\n"
            "sys.argv = ['mailtls', 'rules']\n"
            "import mailtls.launch as launch\n"
            "assert not gc.isenabled(), 'collector on while importing'\n"
            "assert launch.main() == 0\n"
            "print(gc.isenabled(), gc.get_freeze_count() > 1000)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "True True"
