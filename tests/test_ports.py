"""The one port-range check (mailtls.model.ports) and two of its callers' messages."""

from __future__ import annotations

import pytest

from mailtls.cli.targets import split_target
from mailtls.errors import UsageError
from mailtls.model.ports import MAX_PORT, is_port
from mailtls.scan.host import parse_port


@pytest.mark.parametrize(("value", "expected"), [
    (1, True), (25, True), (MAX_PORT, True), (0, False), (-1, False), (MAX_PORT + 1, False),
    (True, False), (False, False), ("25", False), (25.0, False), (None, False),
])
def test_is_port(value: object, expected: bool) -> None:
    assert is_port(value) is expected


def test_zero_allowed() -> None:
    assert is_port(0, zero_allowed=True)
    assert not is_port(False, zero_allowed=True)
    assert not is_port(MAX_PORT + 1, zero_allowed=True)


@pytest.mark.parametrize("text", ["mx.test:0", "mx.test:65536", "mx.test:²", "mx.test:-1"])
def test_target_port_out_of_range_is_one_usage_line(text: str) -> None:
    with pytest.raises(UsageError, match="port must be 1-65535"):
        split_target(text)


def test_target_port_in_range() -> None:
    assert split_target("mx.test:65535") == ("mx.test", 65535)


def test_parse_port_message() -> None:
    with pytest.raises(UsageError, match=r"^port out of range 1-65535: 70000$"):
        parse_port("70000")
