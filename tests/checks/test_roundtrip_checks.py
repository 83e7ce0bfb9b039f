"""A round trip's record -> finding ids (checks/roundtrip.py), without servers. The round trip
itself against Postfix and Dovecot is in tests/delivery."""

from __future__ import annotations

import dataclasses

import pytest

from mailtls.checks.roundtrip import judge_round_trip
from mailtls.model import Hop, HopTLS, RoundTrip

_HOP_TLS = Hop(1, "mail.example.test", "client.test", "ESMTPS", HopTLS.TLS, "TLSv1.3",
               "Received: x")
_HOP_PLAIN = dataclasses.replace(_HOP_TLS, index=2, with_="ESMTP", tls=HopTLS.NONE, detail="")


def round_trip(**changes: object) -> RoundTrip:
    """Delivered over one TLS hop and deleted: the clean case."""
    base = RoundTrip(
        tag="t1", timeout=30.0, attempts=("mail.example.test:465 implicit TLS: ok",),
        submission="mail.example.test:465 implicit TLS", submission_tls="TLSv1.3",
        retrieval="imap mail.example.test:993 implicit TLS", retrieval_tls="TLSv1.3",
        submitted=True, delivered=True, delivery_seconds=0.5, hops=(_HOP_TLS,), deleted=True,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


CASES: dict[str, tuple[RoundTrip, set[str]]] = {
    "delivered": (round_trip(), {"roundtrip.delivered"}),
    "hop without TLS": (round_trip(hops=(_HOP_TLS, _HOP_PLAIN)),
                        {"roundtrip.delivered", "roundtrip.hop_without_tls"}),
    "not deleted": (round_trip(deleted=False), {"roundtrip.delivered", "roundtrip.not_deleted"}),
    "not delivered": (round_trip(delivered=False, delivery_seconds=None),
                      {"roundtrip.not_delivered"}),
    "mailbox unreadable": (round_trip(delivered=False, retrieval=None, error="login failed"),
                           {"roundtrip.retrieval_failed"}),
    "submission failed": (round_trip(submitted=False, delivered=False, error="AUTH refused"),
                          {"roundtrip.submission_failed"}),
    "no secure setting": (round_trip(submitted=False, delivered=False, attempts=(),
                                     error="no secure submission setting"),
                          {"roundtrip.no_secure_setting"}),
}


@pytest.mark.parametrize(("record", "expected"), CASES.values(), ids=CASES.keys())
def test_round_trip_checks(record: RoundTrip, expected: set[str]) -> None:
    assert {f.id for f in judge_round_trip(record)} == expected


def case_ids() -> set[str]:
    return {i for _r, expected in CASES.values() for i in expected}
