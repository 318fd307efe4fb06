"""Runs the scim2-tester checker (PyPI, pinned in requirements.txt) against a live SCIM
endpoint: `check.py BASE_URL TOKEN`. Prints one JSON line per check ({status, title,
resource_type, reason}) and exits 0: the Rust test reads the lines and decides."""

import json
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def main() -> None:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    for r in check_server(client):
        print(
            json.dumps(
                {
                    "status": r.status.name,
                    "title": r.title,
                    "resource_type": r.resource_type,
                    "reason": r.reason,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
