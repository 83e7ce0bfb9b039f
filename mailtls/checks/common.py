"""Small helpers every check module shares."""

from __future__ import annotations

from typing import TypedDict

from mailtls.model import PortObservation


class Where(TypedDict):
    endpoint: str
    service: str


def where(obs: PortObservation) -> Where:
    """The endpoint and service a finding about ``obs`` belongs to."""
    return {"endpoint": obs.endpoint.key, "service": obs.endpoint.service.name}


def port_label(obs: PortObservation) -> str:
    return f"port {obs.endpoint.port} ({obs.endpoint.service.name})"
