"""Pure judgement of the round trip (``mailtls client --round-trip``) into findings."""

from __future__ import annotations

from mailtls.checks import rules
from mailtls.model import Finding, HopTLS, RoundTrip


def judge_round_trip(rt: RoundTrip) -> tuple[Finding, ...]:
    """The findings of one round trip (pure)."""
    out: list[Finding] = []
    tried = tuple(rt.attempts)
    if not rt.submitted and not rt.attempts and (rt.error or "").startswith("no secure"):
        return (rules.ROUNDTRIP_NO_SECURE_SETTING.finding(
            rt.error or "no secure submission setting to send the test message with",
            endpoint=None, service=None),)
    if not rt.submitted:
        return (rules.ROUNDTRIP_SUBMISSION_FAILED.finding(
            f"the test message could not be submitted: {rt.error or 'every setting failed'}",
            endpoint=None, service="submission", evidence=tried),)
    if rt.retrieval is None and not rt.delivered:
        rule = rules.ROUNDTRIP_RETRIEVAL_FAILED if rt.error else rules.ROUNDTRIP_NOT_DELIVERED
        if rt.error:
            return (rule.finding(f"submitted, but the mailbox could not be read: {rt.error}",
                                 endpoint=None, service=None, evidence=tried),)
    if not rt.delivered:
        return (rules.ROUNDTRIP_NOT_DELIVERED.finding(
            f"submitted via {rt.submission}, not found within {rt.timeout:g} s",
            endpoint=None, service=None,
            evidence=(f"tag {rt.tag}", *tried)),)
    hop_lines = [f"hop {h.index}: by {h.by or '?'} with {h.with_ or '?'}: {h.tls}"
                 + (f" ({h.detail})" if h.detail else "") for h in rt.hops]
    evidence = [
        f"submitted via {rt.submission} ({rt.submission_tls})",
        f"found via {rt.retrieval} ({rt.retrieval_tls}) after {rt.delivery_seconds:.2f} s",
        *hop_lines,
        *(f"Authentication-Results: {a}" for a in rt.authentication_results),
    ]
    out.append(rules.ROUNDTRIP_DELIVERED.finding(
        f"delivered in {rt.delivery_seconds:.2f} s over {len(rt.hops)} hop(s)",
        endpoint=None, service=None, evidence=evidence))
    for h in rt.hops:
        if h.tls is HopTLS.NONE:
            out.append(rules.ROUNDTRIP_HOP_WITHOUT_TLS.finding(
                f"hop {h.index} (by {h.by or '?'}, with {h.with_}) without TLS",
                endpoint=None, service=None, evidence=(h.raw,)))
    if not rt.deleted:
        out.append(rules.ROUNDTRIP_NOT_DELETED.finding(
            "the test message is still in the mailbox", endpoint=None, service=None,
            evidence=(f"{'X-Mailtls-Roundtrip'}: {rt.tag}",)))
    return tuple(out)
