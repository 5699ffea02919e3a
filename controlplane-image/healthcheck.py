#!/usr/bin/env python3
"""Docker HEALTHCHECK of the control plane: GET /healthz on the serve port (standard library).

Only the API serves HTTP: the worker and beat containers override the health check (compose
does) or have none. WP_HEALTH_URL overrides the address (default http://127.0.0.1:8000/healthz).
"""

from __future__ import annotations

import os
import sys
import urllib.request

URL = os.environ.get("WP_HEALTH_URL", "http://127.0.0.1:8000/healthz")

try:
    with urllib.request.urlopen(URL, timeout=4) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except Exception as exc:  # any failure is "unhealthy"; the reason goes to docker inspect
    print(f"{URL}: {exc}", file=sys.stderr)
    sys.exit(1)
