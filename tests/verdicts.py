"""Do a port's STARTTLS probe verdicts agree with its findings? Shared by tests/security (every
test-server variant) and tests/interop (real Postfix and Dovecot)."""

from __future__ import annotations

from typing import Any

# probe -> the finding its failure is reported as ({proto}: smtp, imap, pop3)
FINDING_OF = {
    "command_injection": "{proto}.starttls.command_injection",
    "starttls_enforced": "smtp.starttls.not_enforced",
    "starttls_not_required": "smtp.starttls.required_on_mx",
    "plaintext_login": "{proto}.auth.plaintext_accepted",
    "plaintext_auth": "{proto}.auth.plaintext_accepted",
    "state_reset": "smtp.starttls.state_kept",
    "open_relay": "smtp.open_relay",
    "capability_change": "{proto}.auth.plaintext_offered",
}


def contradictions(where: str, proto: str, endpoint: dict[str, Any],
                   findings: list[dict[str, Any]]) -> list[str]:
    """For each probe: ``failed`` <=> its finding is reported for the port; ``inconclusive`` =>
    a ``starttls.probe_inconclusive`` names it. ``findings``: the port's own."""
    ids = {f["id"] for f in findings}
    if "port.not_tested" in ids:
        return [f"{where}: not tested before the deadline"]
    inconclusive = " ".join(f["summary"] for f in findings
                            if f["id"] == "starttls.probe_inconclusive")
    problems = []
    failed: set[str] = set()
    judged: set[str] = set()
    for probe in endpoint.get("security", []):
        finding = FINDING_OF[probe["name"]].format(proto=proto)
        if probe["verdict"] in ("passed", "failed"):
            judged.add(finding)
        if probe["verdict"] == "failed":
            failed.add(finding)
            if finding not in ids:
                problems.append(f"{where}: {probe['name']} failed ({probe['reason']}) but no "
                                f"{finding} was reported")
        if probe["verdict"] == "inconclusive" and f"the {probe['name']} probe" not in inconclusive:
            problems.append(f"{where}: {probe['name']} inconclusive but not reported")
    for finding in sorted((judged & ids) - failed):
        problems.append(f"{where}: {finding} reported, but every probe behind it passed")
    return problems
