"""Example queries of the results database, as documented in README ("Many hosts").

Plain SQL that runs unchanged on SQLite and PostgreSQL (the tests run each on both). Times are
UTC without a zone; pass the cut-off as a parameter rather than using the databases' own date
functions, which differ.
"""

from __future__ import annotations

#: every MX (every endpoint) that still accepts TLS 1.0, in run :run
LEGACY_TLS_1_0 = """
SELECT DISTINCT target, host, endpoint
FROM tls_versions
WHERE run_id = :run AND version = 'TLS 1.0' AND accepted
ORDER BY target, endpoint
"""

#: leaf certificates that expire before :cutoff (now + 14 days), soonest first
EXPIRING_CERTIFICATES = """
SELECT target, host, endpoint, subject, not_after
FROM certificates
WHERE run_id = :run AND not_after < :cutoff
ORDER BY not_after, target, endpoint
"""

#: every finding with id :finding_id in run :run (e.g. smtp.starttls.not_offered)
FINDING = """
SELECT target, host, endpoint, severity, summary
FROM findings
WHERE run_id = :run AND finding_id = :finding_id
ORDER BY target, endpoint
"""

#: how many targets of run :run have a finding of each severity
SEVERITY_COUNTS = """
SELECT severity, COUNT(DISTINCT target) AS targets
FROM findings
WHERE run_id = :run
GROUP BY severity
ORDER BY severity
"""

#: the newest run
LATEST_RUN = "SELECT id FROM runs ORDER BY created_at DESC LIMIT 1"
