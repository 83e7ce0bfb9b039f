"""mailtls.net.dns against the loopback DNS server: answers, the AD bit, NXDOMAIN and NODATA
as answers, SERVFAIL / REFUSED / silence as errors, TCP after truncation, CNAMEs."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mailtls.errors import DNSError, DNSRefused, DNSServerFailure, DNSTimeout
from mailtls.net.dns import ANSWER, NODATA, NXDOMAIN, Resolver
from tests.domain.domain_dns import FakeDNS, load_zone

Make = Callable[..., FakeDNS]


def _fallback() -> str:
    return load_zone("fallback.test", {"IMPLICIT": "127.0.0.5"})


def _resolver(server: FakeDNS, timeout: float = 2.0) -> Resolver:
    return Resolver(("127.0.0.1", server.port), timeout=timeout)


async def test_answers_and_the_ad_bit(make_dns: Make) -> None:
    signed = _resolver(make_dns(_fallback(), ad=True))
    answer = await signed.query("mixed.fallback.test", "MX")
    assert answer.status == ANSWER and answer.authenticated
    assert sorted(answer.records) == ["0 .", "10 mx.fallback.test."]
    plain = _resolver(make_dns(_fallback(), ad=False))
    assert not (await plain.query("mixed.fallback.test", "MX")).authenticated


async def test_ad_bit_only_for_signed_names(make_dns: Make) -> None:
    res = _resolver(make_dns(_fallback(), ad=True, unsigned=["implicit.fallback.test"]))
    assert not (await res.query("implicit.fallback.test", "A")).authenticated
    assert (await res.query("mx.fallback.test", "A")).authenticated


async def test_nxdomain_and_nodata_are_answers(make_dns: Make) -> None:
    res = _resolver(make_dns(_fallback()))
    assert (await res.query("nosuch.fallback.test", "MX")).status == NXDOMAIN
    nodata = await res.query("implicit.fallback.test", "MX")
    assert nodata.status == NODATA and nodata.records == ()


@pytest.mark.parametrize(("option", "error"), [
    ("servfail", DNSServerFailure), ("refused", DNSRefused),
])
async def test_servfail_and_refused_are_errors(
    make_dns: Make, option: str, error: type[DNSError]
) -> None:
    res = _resolver(make_dns(_fallback(), **{option: ["mx.fallback.test/A"]}))
    with pytest.raises(error) as caught:
        await res.query("mx.fallback.test", "A")
    assert caught.value.status == option
    assert (await res.query("mx.fallback.test", "AAAA")).status == NODATA


async def test_silence_is_a_timeout(make_dns: Make) -> None:
    res = _resolver(make_dns(_fallback(), silent=["mx.fallback.test"]), timeout=1.0)
    started = time.monotonic()
    with pytest.raises(DNSTimeout, match="within 1 s"):
        await res.query("mx.fallback.test", "A")
    assert time.monotonic() - started < 3


async def test_names_outside_the_zones_are_refused_never_forwarded(make_dns: Make) -> None:
    res = _resolver(make_dns(_fallback()))
    with pytest.raises(DNSRefused):
        await res.query("example.com", "MX")


async def test_truncated_answer_is_retried_over_tcp(make_dns: Make) -> None:
    server = make_dns(_fallback(), truncate=["mixed.fallback.test/MX"])
    answer = await _resolver(server).query("mixed.fallback.test", "MX")
    assert answer.status == ANSWER and len(answer.records) == 2
    assert [q[2] for q in server.queries if q[0] == "mixed.fallback.test"] == ["udp", "tcp"]


async def test_cname_is_followed_and_reported(make_dns: Make) -> None:
    answer = await _resolver(make_dns(_fallback())).query("alias.fallback.test", "A")
    assert answer.records == ("127.0.0.9",)
    assert answer.canonical_name == "mx.fallback.test"


async def test_a_resolver_nobody_listens_on_times_out(make_dns: Make) -> None:
    server = make_dns(_fallback())
    port = server.port
    server.stop()
    with pytest.raises(DNSError):
        await Resolver(("127.0.0.1", port), timeout=1.0).query("mx.fallback.test", "A")


def test_trust_in_the_ad_bit() -> None:
    assert Resolver(("127.0.0.1", 5353)).trusted
    assert Resolver(("192.0.2.53", 53)).trusted  # named by the user: trusted by choice
    assert Resolver(("127.0.0.1", 5353)).description == "127.0.0.1:5353"
    assert Resolver(("::1", 53)).description == "[::1]"
