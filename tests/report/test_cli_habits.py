"""Habits of the trade: every option has help, completion scripts and the man page are
generated from the parser and know every subcommand, the same options behave the same across
subcommands, and the package says what it is (LICENSE, classifiers)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mailtls import __version__
from mailtls.cli import main
from mailtls.cli.app import build_parser
from mailtls.cli.completion import SHELLS, completion_script, manpage

ROOT = Path(__file__).resolve().parent.parent.parent


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_option_of_every_subcommand_has_help() -> None:
    missing = []
    for name, sub in {"mailtls": build_parser(), **_subcommands(build_parser())}.items():
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction) or action.help == argparse.SUPPRESS:
                continue
            if not (action.help or "").strip():
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_knows_every_subcommand(shell: str, capsys: Any) -> None:
    names = set(_subcommands(build_parser()))
    assert {"check", "domain", "client", "demo", "show", "rules", "completion"} <= names
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert script == completion_script(build_parser(), shell)
    for name in names:
        assert name in script, (shell, name)
    if shell != "tcsh":  # shtab completes only subcommand names for tcsh
        assert "--output" in script and "--format" in script
    if shell == "bash":
        check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr
    elif shutil.which(shell):
        check = subprocess.run([shell, "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_man_page_knows_every_subcommand_and_formats() -> None:
    page = manpage(build_parser(), __version__)
    assert page.startswith(".TH MAILTLS")
    for name in _subcommands(build_parser()):
        assert f"mailtls {name}" in page, name
    assert "\\-\\-output" in page and "mailtls " + __version__ in page
    if shutil.which("groff"):
        run = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page, text=True,
                             capture_output=True, timeout=60)
        assert run.returncode == 0 and run.stderr == "", run.stderr[:2000]


def test_quick_and_profile_mean_the_same_everywhere() -> None:
    parser = build_parser()
    for command in ("check", "domain", "demo", "client"):
        args = parser.parse_args([command, "--no-quick", "--profile", "ncsc"]
                                 + (["x"] if command in ("check", "domain") else []))
        assert args.quick is False and args.profile == "ncsc", command
        args = parser.parse_args([command, "--quick"]
                                 + (["x"] if command in ("check", "domain") else []))
        assert args.quick is True, command
    # the defaults differ on purpose, and the help says why
    assert parser.parse_args(["check", "x"]).quick is False
    assert parser.parse_args(["client"]).quick is True
    client_help = _subcommands(parser)["client"].format_help()
    assert "unlike check" in " ".join(client_help.split())


def test_demo_quick_still_demonstrates(capsys: Any) -> None:
    """`mailtls demo --quick`: one connection per port, the flawed host still fails."""
    assert main(["demo", "--quick", "--format", "json", "--profile", "mozilla-modern"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["options"]["quick"] is True and doc["options"]["profile"] == "mozilla-modern"
    good, flawed = doc["hosts"]
    assert good["grade"] == "A" and flawed["grade"] == "F"  # A, not A+: nothing enumerated
    assert all(e["tls_scan"] is None for h in doc["hosts"] for e in h["endpoints"])


def test_package_metadata() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "License :: OSI Approved :: MIT License" in meta["classifiers"]
    assert any(c.startswith("Topic :: Security") for c in meta["classifiers"])
    assert meta["license"] == {"text": "MIT"}


def test_help_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Descriptions and epilogs are wrapped (only an unbreakable URL may stick out); the
    exit-code table keeps its rows."""
    monkeypatch.setenv("COLUMNS", "80")
    parser = build_parser()
    pages = {"mailtls": parser.format_help()}
    pages.update({name: sub.format_help() for name, sub in _subcommands(parser).items()})
    for name, text in pages.items():
        for line in text.splitlines():
            if len(line) > 80:
                assert max(len(word) for word in line.split()) > 50, (name, line)
    exit_table = pages["check"].split("exit codes:")[1]
    assert "\n  0  no finding" in exit_table and "\n  3  could not test" in exit_table
