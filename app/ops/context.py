"""Per-request context for logs and metrics: the request id, the route label, and what other concerns set on ``g``.

gunicorn's access logger and the metrics middleware run after Flask has popped its contexts, so
what they need is copied into the WSGI environ (the one dict both see) under ``ENVIRON_KEYS``.
"""

import re
import time
import uuid

from flask import g, request

# Printable, no spaces or quotes, bounded: what proxies and tracing systems send (UUIDs, hex, base64).
REQUEST_ID = re.compile(r"[A-Za-z0-9._~:/+=@-]{1,128}")

# The ``g`` attributes other concerns set (docs/architecture.md), copied for the access log and metrics.
G_ATTRIBUTES = ("request_id", "client_request_id", "user", "s3_key", "s3_request_id", "cache_result", "access_decision")
ENVIRON_PREFIX = "docs_proxy."
ENVIRON_KEYS = {name: ENVIRON_PREFIX + name for name in G_ATTRIBUTES + ("route",)}

OPS_ENDPOINTS = {"ops.health": "health", "ops.ready": "ready", "ops.metrics": "metrics"}
ROUTE_FAMILIES = ("docs", "portal", "search")
ROUTES = ROUTE_FAMILIES + tuple(OPS_ENDPOINTS.values()) + ("other", "unmatched")


def accepted_request_id(value):
    """Return the client's ``X-Request-ID`` when it is well-formed, else ``None``."""
    if value and REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id():
    """Return a fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def route_label(blueprint, endpoint):
    """Return the fixed metrics label for a request's route: never the URL path, so the label set stays small."""
    if endpoint is None:
        return "unmatched"
    if endpoint in OPS_ENDPOINTS:
        return OPS_ENDPOINTS[endpoint]
    if blueprint in ROUTE_FAMILIES:
        return blueprint
    return "other"


def begin_request():
    """Give the request its id and route label before any other package's hook runs."""
    # Ours is always generated, so one id finds one request; the sender's (a reader could copy anyone's)
    # is kept apart, validated, as client_request_id: a front door's id still correlates through it.
    # Every request pays for these hooks: the proxies are resolved once (each lookup costs a context-var read).
    values, current = g._get_current_object(), request._get_current_object()
    values.request_id = new_request_id()
    values.client_request_id = accepted_request_id(current.headers.get("X-Request-ID"))
    values.started = time.perf_counter()
    current.environ[ENVIRON_KEYS["route"]] = route_label(current.blueprint, current.endpoint)
    current.environ[ENVIRON_KEYS["request_id"]] = values.request_id


def end_request(response):
    """Return the request id on the response and copy what the access log and metrics read into the environ."""
    values = vars(g._get_current_object())
    request_id = values.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    environ = request.environ
    for name in G_ATTRIBUTES:
        value = values.get(name)
        if value is not None:
            environ[ENVIRON_KEYS[name]] = value
    return response


def init_app(app):
    """Register the request hooks on ``app``; ops initialises first, so these run before other packages'."""
    app.before_request(begin_request)
    app.after_request(end_request)
