"""``mailtls.model.record.Record``: the shared methods mean what dataclass's generated ones do."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import dataclass, field

import pytest

from mailtls.model import SERVICES, CertificateInfo, Endpoint, Finding, Severity
from mailtls.model.record import Record


@dataclass(frozen=True, repr=False, eq=False)
class Shared(Record):
    name: str
    port: int = 25
    raw: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class Generated:
    name: str
    port: int = 25
    raw: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True, repr=False, eq=False)
class Other(Record):
    name: str
    port: int = 25


def test_repr_eq_hash_as_generated() -> None:
    a, b = Shared("mx", 25, b"x"), Shared("mx", 25, b"y")
    g = Generated("mx", 25, b"x")
    assert repr(a).replace("Shared", "Generated") == repr(g)
    assert a == b and hash(a) == hash(b)  # raw is not compared
    assert hash(a) == hash(g)  # the same tuple of compared values
    assert a != Shared("mx", 587)
    assert a != Other("mx", 25)  # another class, even with the same fields
    assert a != ("mx", 25)
    assert len({a, b, Shared("mx", 587)}) == 2


def test_frozen_copyable_picklable() -> None:
    a = Shared("mx")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.port = 1  # type: ignore[misc]
    assert copy.deepcopy(a) == a == pickle.loads(pickle.dumps(a))
    assert dataclasses.replace(a, port=465) == Shared("mx", 465)
    assert dataclasses.asdict(a) == {"name": "mx", "port": 25, "raw": b""}


def test_model_records_use_it() -> None:
    endpoint = Endpoint("mx.example", "127.0.0.1", 25, SERVICES["smtp"])
    assert endpoint == Endpoint("mx.example", "127.0.0.1", 25, SERVICES["smtp"])
    assert endpoint != dataclasses.replace(endpoint, port=587)
    assert repr(endpoint).startswith("Endpoint(host='mx.example', ")
    finding = Finding("tls.weak", Severity.FAIL, "t", None, None, ("e",), "RFC 8996", "r")
    assert {finding, dataclasses.replace(finding)} == {finding}
    for cls in (CertificateInfo, Endpoint, Finding):
        assert issubclass(cls, Record)
        assert "__eq__" not in cls.__dict__ and "__repr__" not in cls.__dict__
