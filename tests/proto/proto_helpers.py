"""Shared helpers for the sans-I/O dialogue tests (imported by the test modules)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from mailtls.errors import ProtocolError


class AnyDialogue(Protocol):
    def receive_data(self, data: bytes) -> Sequence[Any]: ...
    def pending(self) -> bytes: ...
    def discard_pending(self) -> bytes: ...


Outcome = tuple[list[Any], type[ProtocolError] | None, bytes | None]


def run(make: Callable[[], AnyDialogue], chunks: Sequence[bytes]) -> Outcome:
    """Feed chunks, then b"" to flush a deferred error.

    Returns (events, class of the ProtocolError or None, pending() if no error else None).
    """
    dialogue = make()
    events: list[Any] = []
    try:
        for chunk in chunks:
            events.extend(dialogue.receive_data(chunk))
        events.extend(dialogue.receive_data(b""))
    except ProtocolError as exc:
        return events, type(exc), None
    return events, None, dialogue.pending()


def chunkings(data: bytes) -> Iterator[list[bytes]]:
    """Whole, split at every byte position, and one byte at a time."""
    yield [data]
    for i in range(len(data) + 1):
        yield [data[:i], data[i:]]
    yield [data[i : i + 1] for i in range(len(data))]


def assert_chunking_invariant(make: Callable[[], AnyDialogue], data: bytes) -> Outcome:
    """Every chunking of ``data`` gives the same outcome as feeding it whole; returns it."""
    expected = run(make, [data])
    for chunks in chunkings(data):
        assert run(make, chunks) == expected, chunks
    return expected


def cut(data: bytes, positions: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given positions (any order, duplicates allowed)."""
    points = [0, *sorted(positions), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]
