"""Helpers of the ``mailtls serve`` tests: the real clients' templates and a runner."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mailtls.serve.cases import Protocol, select_cases
from mailtls.serve.runner import CaseResult, ServeConfig, run_serve

MBSYNC_RUN = Path(__file__).with_name("mbsync_run.py")
#: curl's message options for the SMTP cases (the message comes on its standard input)
CURL_MAIL = "--mail-from a@example.test --mail-rcpt b@example.test --upload-file -"


def need(program: str) -> None:
    if shutil.which(program) is None:
        reason = f"{program} is not installed (scripts/install/clients.sh)"
        if os.environ.get("MAILTLS_INTEROP") == "require":  # scripts/test as root: it must be
            pytest.fail(f"real clients required (MAILTLS_INTEROP=require) but {reason}")
        pytest.skip(reason)


Serve = Callable[..., dict[str, CaseResult]]


def run_cases(protocol: Protocol, run: str, run_implicit: str | None = None,
              patterns: tuple[str, ...] = ()) -> dict[str, CaseResult]:
    """Run the cases of ``protocol`` (``patterns`` to narrow) with the client templates."""
    config = ServeConfig(cases=tuple(select_cases((protocol,), patterns)), port_base=0,
                         run=run, run_implicit=run_implicit, case_timeout=20,
                         idle_timeout=5, grace=2, injection_hold=1.5,
                         announce=lambda text: None)
    result = run_serve(config)
    return {r.case.id: r for r in result.results}


def mbsync(tls_type: str) -> str:
    return (f"{sys.executable} {MBSYNC_RUN} {{workdir}} {{name}} {{port}} {{user}} "
            f"{{password}} {{cafile}} {tls_type}")
