"""Re-record fixtures/tls/flights.json from loopback servers (test-only tool).

    python tests/tls/record_fixtures.py

Needs tlslite-ng for the SSLv3/TLS 1.0 flights. The certificates inside are throw-away trustme
test certificates.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))  # the checkout: tests.* by package

from tests.tls.tls_helpers import record_flights  # noqa: E402


def main() -> None:
    flights = asyncio.run(record_flights())
    path = HERE.parents[1] / "fixtures" / "tls" / "flights.json"
    path.write_text(json.dumps(flights, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(flights)} flights to {path}")


if __name__ == "__main__":
    main()
