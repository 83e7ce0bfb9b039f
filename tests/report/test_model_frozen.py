"""The model's mappings are read-only and survive pickle, deepcopy, asdict and replace; the JSON
of a report is the same before and after each."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mailtls.checks.client import ClientFacts
from mailtls.model import (
    ALL_SERVICES,
    IMPLICIT_SIBLING,
    OTHER_SERVICES,
    SERVICE_GROUPS,
    SERVICES,
    Report,
    TLSScan,
)
from mailtls.model.frozen import FrozenMap
from mailtls.proto.smtp import EhloInfo
from mailtls.render.jsonout import report_dict
from tests.regression.regression_helpers import full_report


def _scan(report: Report) -> TLSScan:
    return next(o.tls_scan for h in report.hosts for o in h.observations if o.tls_scan)


def _mutations(m: Any) -> list[Callable[[], object]]:
    key = next(iter(m), "x")
    return [
        lambda: m.__setitem__(key, None),
        lambda: m.__delitem__(key),
        lambda: m.update({"new": 1}),
        lambda: m.pop(key),
        lambda: m.setdefault("new", 1),
        lambda: m.clear(),
        lambda: setattr(m, "_data", {}),
    ]


def _frozen_fields() -> dict[str, Mapping[Any, Any]]:
    report = full_report()
    scan = _scan(report)
    return {
        "TLSScan.versions": scan.versions,
        "TLSScan.suites": scan.suites,
        "TLSScan.server_order": scan.server_order,
        "Report.options": report.options,
        "ClientFacts.resolve_errors": ClientFacts((), (), {"a.test": "NXDOMAIN"}).resolve_errors,
        "EhloInfo.keywords": EhloInfo("mx.test", {"STARTTLS": ()}).keywords,
        "SERVICES": SERVICES,
        "OTHER_SERVICES": OTHER_SERVICES,
        "ALL_SERVICES": ALL_SERVICES,
        "SERVICE_GROUPS": SERVICE_GROUPS,
        "IMPLICIT_SIBLING": IMPLICIT_SIBLING,
    }


@pytest.mark.parametrize("name", list(_frozen_fields()))
def test_mapping_cannot_be_changed(name: str) -> None:
    m = _frozen_fields()[name]
    assert isinstance(m, FrozenMap)
    before = dict(m)
    for mutate in _mutations(m):
        with pytest.raises((TypeError, AttributeError)):
            mutate()
    assert dict(m) == before


def test_a_dict_passed_in_is_copied_not_shared() -> None:
    versions: dict[str, bool | None] = {"TLS 1.2": True}
    scan = dataclasses.replace(_scan(full_report()), versions=versions)
    versions["TLS 1.0"] = True  # the caller's dict, changed afterwards
    assert scan.versions == {"TLS 1.2": True} and isinstance(scan.versions, FrozenMap)


def test_equal_to_a_dict_and_hashable_when_the_values_are() -> None:
    m = FrozenMap({"a": 1, "b": (2, 3)})
    plain = {"a": 1, "b": (2, 3)}
    assert m == {"b": (2, 3), "a": 1} and plain == m and m != {"a": 1}  # both ways
    assert hash(m) == hash(FrozenMap({"b": (2, 3), "a": 1}))
    assert {m: "key"}[FrozenMap({"a": 1, "b": (2, 3)})] == "key"
    with pytest.raises(TypeError):
        hash(FrozenMap({"a": [1]}))  # a list value: not hashable, as a tuple holding one
    assert repr(m) == "FrozenMap({'a': 1, 'b': (2, 3)})"
    assert (m | {"c": 4}) == {"a": 1, "b": (2, 3), "c": 4} and "c" not in m


@pytest.mark.parametrize("how", ["pickle", "deepcopy", "copy", "replace"])
def test_report_survives_and_renders_the_same_json(how: str) -> None:
    report = full_report()
    again: Report
    if how == "pickle":
        again = pickle.loads(pickle.dumps(report))
    elif how == "deepcopy":
        again = copy.deepcopy(report)
    elif how == "copy":
        again = copy.copy(report)
    else:
        again = dataclasses.replace(report, options={**report.options, "extra": 1})
        assert isinstance(again.options, FrozenMap) and again.options["extra"] == 1
        again = dataclasses.replace(again, options=report.options)
    assert again == report
    assert isinstance(again.options, FrozenMap) and isinstance(_scan(again).versions, FrozenMap)
    assert json.dumps(report_dict(again, 2)) == json.dumps(report_dict(report, 2))


def test_asdict_keeps_the_values() -> None:
    report = full_report()
    doc = dataclasses.asdict(report)
    assert doc["options"] == dict(report.options)
    scan = next(o["tls_scan"] for h in doc["hosts"] for o in h["observations"] if o["tls_scan"])
    assert scan["versions"] == dict(_scan(report).versions)
