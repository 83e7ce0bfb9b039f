"""Every rule of the catalogue (checks/rules.py) has a table case in tests/checks, or an entry
in ``END_TO_END_ONLY`` saying which loopback test covers it and why no table case can.

A new rule without either fails here: add a case to the table of its check."""

from __future__ import annotations

from pathlib import Path

from mailtls.checks.rules import RULES
from tests.checks import (
    test_client_checks,
    test_domain_checks,
    test_other_port_checks,
    test_port_checks,
    test_roundtrip_checks,
    test_tls_checks,
)

_ROOT = Path(__file__).resolve().parents[2]

# rule id -> (the test file that covers it against real servers, why there is no table case).
# Keep it short: a judgement that can be built from model objects belongs in a table.
END_TO_END_ONLY: dict[str, tuple[str, str]] = {}


def table_ids() -> set[str]:
    return set().union(*(m.case_ids() for m in (
        test_port_checks, test_tls_checks, test_domain_checks, test_client_checks,
        test_other_port_checks, test_roundtrip_checks)))


def test_every_rule_has_a_table_case_or_an_end_to_end_test() -> None:
    missing = sorted(set(RULES) - table_ids() - set(END_TO_END_ONLY))
    assert not missing, f"rules without a table case in tests/checks: {missing}"


def test_cases_name_only_catalogue_rules() -> None:
    assert not table_ids() - set(RULES)


def test_end_to_end_entries_are_current() -> None:
    for rule_id, (path, why) in END_TO_END_ONLY.items():
        assert rule_id in RULES, rule_id
        assert rule_id not in table_ids(), f"{rule_id} has a table case now: drop the entry"
        assert why.strip(), rule_id
        assert f'"{rule_id}"' in (_ROOT / path).read_text(encoding="utf-8"), (rule_id, path)
