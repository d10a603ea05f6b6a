"""Operations endpoints: liveness, readiness and Prometheus metrics (no session, no personal data)."""

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, jsonify, request

from screening.core.extensions import db
from screening.operations import health, metrics

bp = Blueprint("operations", __name__)

NETWORKS_KEY = "operations_metrics_networks"
READINESS_KEY = "operations_readiness"


@bp.get("/health/live")
def live():
    """The process is up and answering; nothing else is checked."""
    return jsonify(status="alive")


@bp.get("/health/ready")
def ready():
    """200 when every check passes, else 503 naming the failing checks."""
    readiness = current_app.extensions[READINESS_KEY].get(current_app._get_current_object())
    return jsonify(readiness.as_dict()), 200 if readiness.ready else 503


def _bearer_token_matches(expected: str) -> bool:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), expected.encode())


def _from_allowed_network() -> bool:
    """Direct requests from a listed network; anything relayed by a proxy never qualifies."""
    networks = current_app.extensions[NETWORKS_KEY]
    if not networks or "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


@bp.get("/metrics")
def scrape():
    token = current_app.config.get("METRICS_TOKEN")
    if not token and not current_app.extensions[NETWORKS_KEY]:
        return jsonify(error="not found"), 404  # metrics are off unless configured
    if not ((token and _bearer_token_matches(token)) or _from_allowed_network()):
        if token:
            return jsonify(error="a bearer token is required"), 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}
        return jsonify(error="not found"), 404
    extra = metrics.database_gauges(db.session) + metrics.queue_length_gauge(current_app.config.get("REDIS_URL"))
    body, content_type = metrics.exposition(extra)
    return Response(body, content_type=content_type)


def parse_networks(values: list[str] | str | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``SCREENING_METRICS_ALLOWED_NETWORKS``: a list (or comma-separated text) of addresses or CIDR networks."""
    if not values:
        return []
    items = values.split(",") if isinstance(values, str) else list(values)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"SCREENING_METRICS_ALLOWED_NETWORKS: {item!r} is not an address or network") from exc
    return networks


def readiness_cache(app) -> health.CachedReadiness:
    return health.CachedReadiness(float(app.config["HEALTH_CACHE_SECONDS"]))
