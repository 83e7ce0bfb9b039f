"""The pure parts of the round trip: Received headers into hops (whole, and against hostile
input) and the roundtrip.* findings."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, strategies as st

from mailtls.checks.roundtrip import judge_round_trip
from mailtls.model import RoundTrip
from mailtls.proto.received import hops, parse_hop, without_comments
from tests.cli_runner import cli_output

POSTFIX = ("from client.example (localhost [127.0.0.1]) (using TLSv1.3 with cipher "
           "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA "
           "(prime256v1) server-digest SHA256) (No client certificate requested) by "
           "mail.example.test (Postfix) with ESMTPSA id 798C620C04E for <u@example.test>; "
           "Sun, 6 Dec 2026 05:33:07 +0000 (UTC)")
DOVECOT = ("from mail.example.test by vm with LMTP id mKK1H5PzFGsOSAAAg+zDdQ (envelope-from "
           "<u@example.test>) for <u@example.test>; Sun, 06 Dec 2026 05:33:07 +0000")
PLAIN_MX = ("from mx.sender.example (mx.sender.example [192.0.2.1]) by mail.example.test "
            "(Postfix) with ESMTP id 1234; Sun, 6 Dec 2026 05:33:07 +0000")
RFC3848 = "from a.example by b.example with ESMTPS id x; Sun, 6 Dec 2026 05:33:07 +0000"
PICKUP = ("by mail.example.test (Postfix, from userid 0) id 55; Sun, 6 Dec 2026 05:33:07 +0000")


def test_postfix_dovecot_and_plaintext_hops() -> None:
    h = hops([DOVECOT, POSTFIX, PLAIN_MX, RFC3848, PICKUP])
    assert [(x.index, x.with_, x.tls) for x in h] == [
        (1, "LMTP", "local"), (2, "ESMTPSA", "tls"), (3, "ESMTP", "none"),
        (4, "ESMTPS", "tls"), (5, "", "local")]
    assert h[1].detail == "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"
    assert (h[1].by, h[1].from_) == ("mail.example.test", "client.example")
    assert without_comments("a (b (c) d) e") == "a   e"


@given(st.text(max_size=3000))
def test_any_header_text_gives_a_hop(text: str) -> None:
    hop = parse_hop(1, text)
    assert hop.tls in ("tls", "none", "local", "unknown")
    assert len(hop.raw) <= 2000


def _rt(**changes: object) -> RoundTrip:
    base = RoundTrip(tag="t", timeout=10.0, attempts=("submit via smtp x:465",),
                     submission="smtp x:465 implicit TLS", submission_tls="TLSv1.3",
                     retrieval="imap x:993 implicit TLS", retrieval_tls="TLSv1.3",
                     submitted=True, delivered=True, delivery_seconds=1.5,
                     hops=hops([DOVECOT, POSTFIX]), deleted=True)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_findings() -> None:
    assert [f.id for f in judge_round_trip(_rt())] == ["roundtrip.delivered"]
    ids = [f.id for f in judge_round_trip(_rt(hops=hops([DOVECOT, PLAIN_MX, POSTFIX]),
                                              deleted=False))]
    assert ids == ["roundtrip.delivered", "roundtrip.hop_without_tls", "roundtrip.not_deleted"]
    late = judge_round_trip(_rt(delivered=False, delivery_seconds=None, hops=()))
    assert [(f.id, f.severity.label) for f in late] == [("roundtrip.not_delivered", "fail")]
    unsent = judge_round_trip(_rt(submitted=False, delivered=False, submission=None,
                                  error="every secure submission setting failed"))
    assert [f.id for f in unsent] == ["roundtrip.submission_failed"]
    none = judge_round_trip(_rt(submitted=False, delivered=False, attempts=(),
                                error="no secure, working submission setting"))
    assert [f.id for f in none] == ["roundtrip.no_secure_setting"]
    unread = judge_round_trip(_rt(delivered=False, retrieval=None, delivery_seconds=None,
                                  error="imap x:993 implicit TLS (127.0.0.1): refused"))
    assert [f.id for f in unread] == ["roundtrip.retrieval_failed"]


def test_round_trip_needs_a_user(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli_output(capsys, "client", "user@example.test", "--round-trip")
    assert code == 3 and not out
    assert "--round-trip needs an ADDRESS and --user" in err
    assert len(err.strip().splitlines()) == 1
