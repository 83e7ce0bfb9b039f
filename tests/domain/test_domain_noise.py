"""A dead resolver is one group of findings, not nine; DANE says "not looked up" when no TLSA
question was asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain_helpers import DomainRun


@dataclass
class _DeadResolver:
    address: str = "127.0.0.1:9"  # nothing listens: every question times out


def test_dead_resolver_findings_are_grouped(run: Callable[..., DomainRun]) -> None:
    r = run("example.test", "--dns-timeout", "1", "--no-color", dns=_DeadResolver(),
            json_out=False)
    out = r.out
    assert r.code == 3
    assert out.count("dns.lookup_failed") == 1, out
    assert "UNKNOWN dns.lookup_failed ×9" in out
    assert out.count("fix: The question could not be answered") == 1
    assert "no TLSA records" not in out
    assert "not looked up (no MX host to test)" in out
    assert "mail domain example.test: UNKNOWN (grade ?)" in out
