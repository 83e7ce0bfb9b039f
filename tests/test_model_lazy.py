"""The domain, client and regression records load on first use, from their old path too."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mailtls.model as model


def test_old_paths_give_the_same_classes() -> None:
    from mailtls.model import ChangeKind, ClientReport, DomainReport
    from mailtls.model.client import ClientReport as client_report
    from mailtls.model.domain import DomainReport as domain_report
    from mailtls.model.regression import ChangeKind as change_kind

    assert (DomainReport, ClientReport, ChangeKind) == (domain_report, client_report, change_kind)
    assert {"DomainReport", "ClientReport", "Outcome", "Finding"} <= set(dir(model))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchRecord'"):
        model.NoSuchRecord  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_model_builds_none_of_them() -> None:
    code = ("import sys, mailtls.model\n"
            "print(sorted(m for m in sys.modules if m.startswith('mailtls.model.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    for lazy in ("mailtls.model.domain", "mailtls.model.client", "mailtls.model.regression"):
        assert lazy not in out
    assert "mailtls.model.record" in out
