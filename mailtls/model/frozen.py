"""``FrozenMap``: the read-only mapping of the frozen model types and the model's constant tables.

A frozen dataclass with a ``dict`` field is only frozen at the top: ``scan.versions["TLS 1.0"] =
False`` would change a report that checks and renderers share. ``types.MappingProxyType`` is
read-only but cannot be pickled or deep-copied, and reports are deep-copied by
``dataclasses.asdict``/``copy.deepcopy`` and pickled by ``multiprocessing`` and the fleet's
workers. This one can: it keeps a private ``dict``, offers only the ``Mapping`` methods, equals
any mapping with the same items (a ``dict`` included), hashes when its values do, and pickles
and deep-copies as a new ``FrozenMap``. The JSON renderer writes ``dict(m)``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Generic, NoReturn, TypeVar

__all__ = ["FrozenMap", "frozen_map"]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """A mapping that cannot change after it is made."""

    __slots__ = ("_data",)
    _data: dict[K, V]

    def __init__(self, items: Mapping[K, V] | None = None, /) -> None:
        object.__setattr__(self, "_data", dict(items) if items is not None else {})

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        """Raises ``TypeError`` when a value is unhashable (a list among a report's options)."""
        return hash(frozenset(self._data.items()))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"FrozenMap is read-only (cannot set {name!r})")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"FrozenMap is read-only (cannot delete {name!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy rebuild it from a plain dict (the slots would be set one by one)
        return (FrozenMap, (self._data,))

    def __copy__(self) -> FrozenMap[K, V]:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenMap[K, V]:
        return FrozenMap(copy.deepcopy(self._data, memo))

    def __or__(self, other: Mapping[K, V]) -> FrozenMap[K, V]:
        return FrozenMap({**self._data, **other})


def frozen_map(items: Mapping[K, V]) -> FrozenMap[K, V]:
    """``items`` as a ``FrozenMap``; one already is returned as it is (nothing to copy)."""
    return items if isinstance(items, FrozenMap) else FrozenMap(items)
