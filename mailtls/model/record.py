"""``Record``: the ``__repr__``, ``__eq__`` and ``__hash__`` the model's frozen dataclasses share.

``dataclass`` writes these three methods afresh for every class, as source text it compiles
(``exec``): for the model's 32 records that was about a third of importing ``mailtls.model``,
which every command pays at start-up (issue 12, ``mailtls check --quick``). The records are
declared ``@dataclass(frozen=True, repr=False, eq=False)`` and inherit these instead; they mean
exactly what the generated ones mean (fields with ``repr=False`` left out of the repr, fields
with ``compare=False`` out of equality and the hash, equal only to an instance of the same
class, the hash of the compared fields' values).
"""

from __future__ import annotations

from dataclasses import Field, fields
from typing import Any

_COMPARED: dict[type, tuple[str, ...]] = {}
_SHOWN: dict[type, tuple[str, ...]] = {}


def _names(cls: type, cache: dict[type, tuple[str, ...]], keep: str) -> tuple[str, ...]:
    names = cache.get(cls)
    if names is None:
        chosen: list[Field[Any]] = [f for f in fields(cls) if getattr(f, keep)]
        names = cache[cls] = tuple(f.name for f in chosen)
    return names


class Record:
    """Base of the model's frozen dataclasses (see the module's docstring)."""

    __slots__ = ()

    def __repr__(self) -> str:
        cls = type(self)
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in _names(cls, _SHOWN, "repr"))
        return f"{cls.__qualname__}({shown})"

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, n) for n in _names(type(self), _COMPARED, "compare"))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())
