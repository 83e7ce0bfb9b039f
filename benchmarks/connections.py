"""Which question each connection of a full check answers, per port, on the real Postfix +
Dovecot of the interop suite; and the full JSON report of each profile, for comparing the
findings before and after a change of the enumeration.

    python benchmarks/connections.py [--profiles good,legacy] [--save DIR] [--compare DIR]

For each profile: one ``mailtls check HOST --address ADDR --ca-file CA --format json`` of the
seven ports (saved under ``--save DIR`` as PROFILE.json, order-free and timing fields dropped),
and then each port checked on its own in this process, with the enumeration's debug counter
(``mailtls.tls.enumeration.QUESTION_TALLY``) set: connections per question (basic probe, each
enumeration question, each STARTTLS security probe). ``--compare DIR`` diffs the saved reports
against this run's. Needs root (a private network namespace), Postfix and Dovecot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from _bench import PORTS, in_private_netns, mailtls_argv, timed

# Fields that differ between two runs of the same scan (time, the cost of the scan itself) or
# that list things in no fixed order; everything else of the report must stay the same.
VOLATILE = {"seconds", "handshake_seconds", "started", "finished", "generated", "connections",
            "transcript", "duration", "elapsed", "notes", "now", "scanned_at", "date",
            "rate_limited", "backoff_seconds", "peak_connections",
            # minted afresh by every run of the interop PKI
            "chain", "certificate", "certificates", "trust_store", "serial", "not_before",
            "not_after", "days_left", "sha256_fingerprint", "subject", "issuer",
            "subject_key_id", "authority_key_id", "pem", "der", "spki_sha256"}
_RANDOM = re.compile(r"(Testing (?:CA|cert) #)[\w-]+|/tmp/mailtls-interop-\w+|"
                     r"\bmailtls-[0-9a-f]{10}\b|\bM[0-9a-f]{10}\b|(?:[0-9a-f]{2}:){7,}[0-9a-f]{2}|"
                     r"\d{4}-\d\d-\d\d(?:[T ][\d:.]+)?(?:Z|[+-]\d\d:?\d\d)?|\d+ days?")


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        return _RANDOM.sub("*", value)
    return value


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            out += differences(before.get(key), after.get(key), f"{path}.{key}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for index, (a, b) in enumerate(zip(before, after, strict=True)):
            out += differences(a, b, f"{path}[{index}]")
        return out
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"[:300]]


def breakdown(host: str, address: str, ca: str, service: str) -> dict[str, int]:
    from mailtls.api import scan_host_async
    from mailtls.tls.enumeration import QUESTION_TALLY

    tally: Counter[str] = Counter()

    async def run() -> Any:
        QUESTION_TALLY.set(tally)
        return await scan_host_async(host, only=[service], addresses=[address], ca_file=ca)

    result = asyncio.run(run())
    endpoint = result.host.observations[0]
    security = {f"security: {p.name}": p.connections for p in endpoint.security}
    scan = endpoint.tls_scan.connections if endpoint.tls_scan is not None else 0
    basic = endpoint.connections - scan - sum(security.values())
    return {"basic probe": basic, **dict(sorted(tally.items())), **security,
            "total": endpoint.connections}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default="good")
    parser.add_argument("--save", help="write each profile's normalised report here")
    parser.add_argument("--compare", help="diff against the reports saved there")
    parser.add_argument("--no-breakdown", action="store_true")
    args = parser.parse_args()
    in_private_netns()
    from tests.interop.interop_servers import HOST, PROFILES, missing_programs, running

    missing = missing_programs()
    if missing:
        print(f"cannot run: missing {', '.join(missing)}", file=sys.stderr)
        return 3
    names = args.profiles.split(",")
    changed = 0
    with running([PROFILES[n] for n in names]) as (pki, servers), \
            tempfile.TemporaryDirectory() as tmp:
        ca = str(pki.ca_file)
        for name in names:
            address = servers[name].address
            # Warm-up: postscreen on port 25 keeps its first client waiting once.
            timed(mailtls_argv(HOST, address, ca, "--quick"), cwd=tmp)
            wall, _cpu, proc = timed(mailtls_argv(HOST, address, ca), cwd=tmp,
                                     env={**os.environ, "NO_COLOR": "1"})
            report = json.loads(proc.stdout)
            per_port = {e["port"]: e["connections"] for e in report["hosts"][0]["endpoints"]}
            print(f"profile {name}: full check {wall:.2f} s, "
                  f"{report['summary']['connections']} connections {per_port}")
            flat = normalise(report)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                Path(args.save, f"{name}.json").write_text(json.dumps(flat, indent=1) + "\n")
            if args.compare:
                before = normalise(json.loads(Path(args.compare, f"{name}.json").read_text()))
                diff = differences(before, flat)
                print(f"  {len(diff)} difference(s) from {args.compare}/{name}.json")
                for line in diff[:40]:
                    print(f"    {line}")
                changed += bool(diff)
            if args.no_breakdown:
                continue
            rows = {svc: breakdown(HOST, address, ca, svc) for svc in PORTS}
            questions = list(dict.fromkeys(q for r in rows.values() for q in r))
            print(f"{'question':34}" + "".join(f"{PORTS[s]:>6}" for s in PORTS))
            for q in questions:
                print(f"{q:34}" + "".join(f"{rows[s].get(q, 0):>6}" for s in PORTS))
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
