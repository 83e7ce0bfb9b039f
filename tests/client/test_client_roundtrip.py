"""A saved ``mailtls client`` report (settings, picks, recommendation, client findings and the
servers' host reports, a login test included) renders every format exactly as the scan did."""

from __future__ import annotations

from pathlib import Path

from mailtls.render.load import report_from_dict
from mailtls.testing import PASSWORD, TestPKI
from tests.client.client_helpers import ADDRESS, autoconfig_xml
from tests.client.test_client_config_verify import MAIL, Cli, Site
from tests.roundtrip import assert_round_trip


def test_client_report_round_trips_every_format(client_pki: TestPKI, client_cli: Cli,
                                                tmp_path: Path) -> None:
    site = Site(client_pki)
    try:
        config = tmp_path / "c.xml"
        config.write_bytes(autoconfig_xml(
            ("incoming", "imap", MAIL, site.imap.port, "STARTTLS"),
            ("outgoing", "smtp", MAIL, site.smtps.port, "SSL"),
        ))
        run = client_cli(ADDRESS, "--config", str(config), *site.ports(), "--user", "user",
                         password=PASSWORD)
    finally:
        site.stop()
    report, code = report_from_dict(run.report)
    assert report.client is not None and report.client.settings and report.hosts
    assert any(o.login is not None for h in report.hosts for o in h.observations)
    assert assert_round_trip(report, code) == run.report
