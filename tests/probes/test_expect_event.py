"""Server input of the wrong kind is a ProtocolError (a MailTLSError every probe handles), never
an ``assert`` that ``python -O`` would drop."""

from __future__ import annotations

import pytest

from mailtls.errors import MailTLSError, ProtocolError
from mailtls.probes.session import IMAPAdapter, POP3Adapter, SMTPAdapter, expect_event
from mailtls.proto.pop3 import POP3Status
from mailtls.proto.smtp import SMTPReply


def test_the_expected_kind_passes_through() -> None:
    reply = SMTPReply(250, ("ok",), ("250 ok",))
    assert expect_event(reply, SMTPReply, "an SMTP reply") is reply


def test_another_kind_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match=r"expected a POP3 status line.*SMTPReply"):
        expect_event(SMTPReply(250, ("ok",), ("250 ok",)), POP3Status, "a POP3 status line")
    assert issubclass(ProtocolError, MailTLSError)


def test_every_adapter_answers_the_shared_questions() -> None:
    # the MailAdapter protocol: code that reads these never branches on the protocol
    for adapter in (SMTPAdapter, POP3Adapter):
        assert adapter.preauth is False and adapter.greeting_caps is None
    assert {a.starttls_word for a in (SMTPAdapter, IMAPAdapter, POP3Adapter)} == {
        "STARTTLS", "STLS"}
