"""The hostile matrix: every protocol x phase x behaviour, on STARTTLS and implicit-TLS ports.

Each server (``mailtls.testing.hostile.misbehaving``) behaves until its phase — the greeting
(inside TLS on implicit ports), the capabilities before TLS, the answer to STARTTLS, the
capabilities inside TLS, or every other command (the security probes' and the login test's) —
and then sends endless short lines, one endless line, a 1 byte/s drip, nothing, garbage, or
closes or resets. Every case is a port of its own; a real ``mailtls check`` in a child process
checks, per protocol, all STARTTLS-port cases of the first four phases at once (``--quick``),
all implicit-TLS-port ones, and all "commands" cases (deep probes and ``--user``). Each run
must end within its deadline (+0.5 s), print a report with the right finding per port and exit
2 or 3, without a traceback and within a generous memory bound (the benchmark,
benchmarks/hostile_matrix.py, runs every case alone and holds it to 100 MB).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from mailtls.testing import TestPKI, hostile
from mailtls.testing.matrix import (
    PROTOCOLS,
    Case,
    Outcome,
    cases,
    check_argv,
    expected_findings,
    run_measured,
)

DEADLINE = 10.0  # generous: a busy machine must not turn a slow handshake into a verdict
SLACK = 0.5
STARVED_SLACK = 3.0
MAX_RSS_MB = 300
PARALLEL = 3  # children at once

Group = tuple[str, str]  # (protocol, which cases): one child each
KINDS = ("starttls", "implicit", "commands")
GROUPS: list[Group] = [(p, k) for p in PROTOCOLS for k in KINDS]


def _group(case: Case) -> Group:
    if case.phase == "commands":
        return case.protocol, "commands"
    return case.protocol, "implicit" if case.implicit else "starttls"


@pytest.fixture(scope="module")
def matrix(pki: TestPKI) -> Iterator[dict[Group, tuple[list[tuple[Case, int]], Outcome]]]:
    """Every group's servers, checked concurrently (PARALLEL children at a time)."""
    with contextlib.ExitStack() as stack:
        members: dict[Group, list[tuple[Case, int]]] = {}
        for case in cases():
            server = stack.enter_context(hostile.misbehaving(
                pki, case.protocol, case.phase, case.behaviour, implicit_tls=case.implicit))
            members.setdefault(_group(case), []).append((case, server.port))

        def run(group: Group) -> Outcome:
            services = [(case.service, port) for case, port in members[group]]
            deep = group[1] == "commands"
            argv = check_argv(pki.ca_file(), services, deadline=DEADLINE, quick=not deep,
                              user="alice" if deep else None,
                              # the deep probes' many handshakes, a few at a time
                              max_connections=5 if deep else 64)
            return run_measured(argv, limit=60, password="made-up-password-1")

        with ThreadPoolExecutor(PARALLEL) as pool:
            outcomes = dict(zip(GROUPS, pool.map(run, GROUPS), strict=True))
        yield {g: (members[g], outcomes[g]) for g in GROUPS}


@pytest.mark.parametrize("group", GROUPS, ids=[f"{p}-{k}" for p, k in GROUPS])
def test_hostile_matrix(
    group: Group, matrix: dict[Group, tuple[list[tuple[Case, int]], Outcome]]
) -> None:
    members, out = matrix[group]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.code in (2, 3), (out.code, out.stderr[-500:])
    # The report's own time runs from the child's process start to the end of the scan: the
    # deadline's promise. The wall time adds rendering and exit, and whatever a busy CI machine
    # takes from a child of several running at once (the benchmark holds it to the deadline).
    seconds = out.report["seconds"]
    assert seconds <= DEADLINE + SLACK, f"{seconds} s for a {DEADLINE} s deadline"
    assert out.seconds <= DEADLINE + STARVED_SLACK, f"{out.seconds} s wall"
    assert 0 < out.peak_rss_mb < MAX_RSS_MB
    problems = []
    for case, port in members:
        endpoint = out.endpoint(port)
        found = out.findings(port)
        want = expected_findings(case)
        if want and not found & want:
            problems.append(f"{case.name}: {sorted(found)} ({endpoint['error']}), "
                            f"wanted one of {sorted(want)}")
        if case.phase == "commands":
            # The basic probe is unharmed; what the deep probes and the login met is theirs.
            # (on a busy machine the deep probes may still run at the deadline: "not tested")
            if not endpoint["greeting_ok"] or endpoint["tls"] is None:
                problems.append(f"{case.name}: basic probe failed: {endpoint['error']}")
            login = endpoint.get("login") or {}
            if login.get("outcome") == "succeeded":
                problems.append(f"{case.name}: a login 'succeeded' against {case.behaviour}")
            for probe in endpoint.get("security") or []:
                if probe["verdict"] == "failed":
                    problems.append(f"{case.name}: {probe['name']} failed: {probe['reason']}")
        for line in endpoint["transcript"]:
            assert len(line["text"]) <= 1024, "evidence is excerpted, not stored whole"
        assert len(endpoint["transcript"]) <= 402
    assert not problems, "\n".join(problems)
