"""Shared settings and strategies of the parser fuzz tests (issue 8)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from hypothesis import HealthCheck, settings, strategies as st

T = TypeVar("T")

FUZZ = settings(
    max_examples=int(os.environ.get("MAILTLS_FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)

# A worst-case input must be refused or parsed within this many seconds (generous for CI; the
# bugs these guard against took minutes or hours).
FAST = 3.0


def tokens(vocabulary: Sequence[str], *, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text built from a grammar's own words mixed with arbitrary characters: random text alone
    rarely gets past the first check of a parser."""
    return st.lists(
        st.one_of(st.sampled_from(list(vocabulary)), st.text(max_size=4)), max_size=max_size
    ).map("".join)


def mutated(data: bytes, edits: Sequence[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each (position, cut, insert) edit applied: bytes dropped, bytes added."""
    out = bytearray(data)
    for position, cut, insert in edits:
        at = position % (len(out) + 1)
        out[at : at + cut] = insert
    return bytes(out)


edits_strategy = st.lists(
    st.tuples(st.integers(min_value=0, max_value=1 << 16), st.integers(min_value=0, max_value=8),
              st.binary(max_size=6)),
    max_size=4,
)


@contextmanager
def within(seconds: float = FAST) -> Iterator[None]:
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.2f} s (limit {seconds} s)"


def raises_only(
    allowed: type[BaseException] | tuple[type[BaseException], ...], call: Callable[[], T]
) -> T | None:
    """The result of ``call``, or None when it raised one of ``allowed`` with a message; any
    other exception fails the test (pytest shows it with its traceback)."""
    try:
        return call()
    except allowed as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return None
