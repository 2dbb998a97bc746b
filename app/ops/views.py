"""The ops blueprint: ``/_/health``, ``/_/ready`` and ``/_/metrics``, never behind access control."""

from flask import Blueprint, Response, current_app

from ..access import peer_address
from ..errors import DocsError, plain
from . import health, metrics

bp = Blueprint("ops", __name__)

# Probes must never be cached by a proxy in between: each answer is about this worker, now.
NO_STORE = {"Cache-Control": "no-store"}
ROUTE = {"methods": ["GET", "HEAD"], "provide_automatic_options": False}


@bp.route("/_/health", endpoint="health", **ROUTE)
def health_view():
    """Answer 200 while the process serves requests; no S3 call."""
    return plain(200, "ok", NO_STORE)


@bp.route("/_/ready", endpoint="ready", **ROUTE)
def ready():
    """Answer 200 when S3 answers for the bucket, else 503 with the one-line reason."""
    reason = health.get_health().not_ready_reason()
    if reason:
        return plain(503, f"503 Service Unavailable: not ready: {reason}", NO_STORE)
    return plain(200, "ready", NO_STORE)


@bp.route("/_/metrics", endpoint="metrics", **ROUTE)
def metrics_view():
    """Serve the metrics in Prometheus' text format to the allowed networks."""
    # The socket's peer, as access control judges: X-Forwarded-For (even through DOCS_TRUSTED_PROXIES)
    # is whatever the client wrote into it.
    if not metrics.is_allowed(peer_address(), current_app.extensions["ops.metrics_allow"]):
        raise DocsError("metrics are served only to the networks in DOCS_METRICS_ALLOW", 403)
    if metrics.get_metrics() is None:
        raise DocsError("metrics are turned off (DOCS_METRICS=off)", 404)
    body, content_type = metrics.render(current_app)
    return Response(body, headers={"Content-Type": content_type, **NO_STORE})
