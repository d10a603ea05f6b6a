"""Authorisation expectations for the operations endpoints (docs/operations.md).

None uses a session: the health checks are public, and /metrics is guarded by its own bearer token
or address list (off by default: 404 for everybody; tests/operations/test_metrics.py covers it).
"""

SPEC = {
    "operations.live": ("GET", lambda ids: "/health/live", "public"),
    "operations.ready": ("GET", lambda ids: "/health/ready", "public"),
    "operations.scrape": ("GET", lambda ids: "/metrics", "public"),
}
