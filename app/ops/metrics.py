"""Prometheus metrics: requests, durations, bytes, S3 calls, downloads in flight, cache results, access decisions.

Under gunicorn every worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (created and
emptied by gunicorn.conf.py) and ``/_/metrics`` sums them, whichever worker answers; elsewhere (the
dev server, tests) the app's own registry is served.
"""

import ipaddress
import os
import time

from botocore.exceptions import ConnectTimeoutError, NoCredentialsError, ReadTimeoutError
from flask import current_app, g, has_request_context
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)

from .context import ENVIRON_KEYS

METRICS = "ops.metrics"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

# Requests: a page is ~10 ms, a large download minutes; S3 calls: time to S3's response headers.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
S3_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# The values other concerns set on g (docs/architecture.md); anything else is counted as "other".
CACHE_RESULTS = ("HIT", "MISS", "REVALIDATED", "STALE", "BYPASS")
ACCESS_DECISIONS = ("public", "allowed", "denied", "unauthenticated", "error")
# gunicorn passes any token as a method; each new label value would be a new series until restart.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT")
STARTED = "docs_proxy.s3_started"


def status_class(status):
    """Return the status class label of an HTTP status: ``2xx`` ... ``5xx``."""
    return f"{int(status) // 100}xx"


def s3_outcome(status=None, error=None):
    """Return the outcome label of one S3 call from its HTTP status, or the exception that ended it."""
    if error is not None:
        if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
            return "timeout"
        if isinstance(error, NoCredentialsError):
            return "no_credentials"
        return "unreachable"
    if status < 300 or status == 416:
        return "ok"
    return {304: "not_modified", 403: "denied", 404: "not_found", 412: "precondition_failed"}.get(
        status, "client_error" if status < 500 else "server_error"
    )


def known(value, allowed):
    """Return ``value`` when it is one of ``allowed``, else ``"other"`` (labels stay a fixed set)."""
    return value if value in allowed else "other"


def is_allowed(address, networks):
    """Tell whether ``address`` may read the metrics: in one of ``networks``, or ``networks`` is empty."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def is_multiprocess():
    """Tell whether the metrics are in files shared by the workers (under gunicorn)."""
    return bool(os.environ.get(MULTIPROC_DIR))


class Metrics:
    """The app's metric objects, registered in its own registry (tests build many apps in one process)."""

    def __init__(self):
        if is_multiprocess() and values.ValueClass is values.MutexValue:
            # prometheus_client chose its mode when first imported; if that was before the directory
            # was set, choose again so this worker writes files the others' sums include.
            values.ValueClass = values.get_value_class()
        self.registry = CollectorRegistry(auto_describe=True)
        self.children = {}  # (metric, label values) -> labelled child: see child()
        r = self.registry
        self.requests = Counter(
            "docs_proxy_http_requests", "HTTP requests answered.", ["route", "method", "status"], registry=r
        )
        self.duration = Histogram(
            "docs_proxy_http_request_duration_seconds",
            "Time from the request reaching the app to the last byte of the response.",
            ["route"], buckets=REQUEST_BUCKETS, registry=r,
        )
        self.bytes_sent = Counter(
            "docs_proxy_http_response_bytes", "Response body bytes sent.", ["route"], registry=r
        )
        self.s3_calls = Counter(
            "docs_proxy_s3_requests", "S3 calls by operation and outcome (retries included in one call).",
            ["operation", "outcome"], registry=r,
        )
        self.s3_duration = Histogram(
            "docs_proxy_s3_request_duration_seconds", "Time from an S3 call to S3's response headers.",
            ["operation"], buckets=S3_BUCKETS, registry=r,
        )
        self.downloads = Gauge(
            "docs_proxy_downloads_in_flight", "Document responses whose body is being sent.",
            registry=r, multiprocess_mode="livesum",
        )
        self.cache_results = Counter(
            "docs_proxy_cache_results", "Document requests by cache result.", ["result"], registry=r
        )
        self.access_decisions = Counter(
            "docs_proxy_access_decisions", "Requests by access-control decision.", ["decision"], registry=r
        )

    def child(self, metric, *labels):
        """Return ``metric.labels(*labels)``, looked up once: every request counts into five of them.

        The label values are fixed sets (routes, methods, status classes, ...), so this stays small.
        """
        try:
            return self.children[metric, labels]
        except KeyError:
            child = self.children[metric, labels] = metric.labels(*labels)
            return child

    def observe_request(self, environ, status, sent, seconds):
        """Count one finished request from what the app left in ``environ``."""
        route = environ.get(ENVIRON_KEYS["route"], "unmatched")
        method = known(environ.get("REQUEST_METHOD"), HTTP_METHODS)
        self.child(self.requests, route, method, status_class(status)).inc()
        self.child(self.duration, route).observe(seconds)
        if sent:
            self.child(self.bytes_sent, route).inc(sent)
        cache = environ.get(ENVIRON_KEYS["cache_result"])
        if cache is not None:
            self.child(self.cache_results, known(cache, CACHE_RESULTS)).inc()
        decision = environ.get(ENVIRON_KEYS["access_decision"])
        if decision is not None:
            self.child(self.access_decisions, known(decision, ACCESS_DECISIONS)).inc()

    def observe_s3(self, operation, outcome, seconds):
        """Count one S3 call."""
        self.child(self.s3_calls, operation, outcome).inc()
        if seconds is not None:
            self.child(self.s3_duration, operation).observe(seconds)


class MeteredBody:
    """The response iterable, counting bytes; closing it records the request (after the last byte)."""

    def __init__(self, body, metrics, environ, status, started, download):
        self.body = body
        self.metrics = metrics
        self.environ = environ
        self.status = status
        self.started = started
        self.download = download
        self.sent = 0
        self.closed = False
        if download:
            metrics.downloads.inc()

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        """Close the app's iterable, then record the request once."""
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self.closed:
                self.closed = True
                if self.download:
                    self.metrics.downloads.dec()
                self.metrics.observe_request(
                    self.environ, self.status, self.sent, time.perf_counter() - self.started
                )


class MetricsMiddleware:
    """WSGI middleware around the Flask app: status, bytes and duration include the streamed body."""

    def __init__(self, wsgi_app, metrics):
        self.wsgi_app = wsgi_app
        self.metrics = metrics

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        seen = []

        def recording_start_response(status, headers, exc_info=None):
            seen[:] = [status]
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, recording_start_response)
        except BaseException:
            self.metrics.observe_request(environ, 500, 0, time.perf_counter() - started)
            raise
        status = int(seen[0].split(None, 1)[0]) if seen else 500
        download = (
            environ.get(ENVIRON_KEYS["route"]) == "docs"
            and environ.get("REQUEST_METHOD") == "GET"
            and status in (200, 206)
        )
        return MeteredBody(body, self.metrics, environ, status, started, download)


def _operation(event_name):
    return event_name.rsplit(".", 1)[-1]


def register_s3_hooks(client, metrics):
    """Time and count every call of ``client`` through botocore's events, and keep S3's request id on ``g``."""

    def before_call(event_name, context, **kwargs):
        context[STARTED] = time.perf_counter()

    def after_call(event_name, http_response, parsed, context, **kwargs):
        started = context.get(STARTED)
        seconds = time.perf_counter() - started if started is not None else None
        metrics.observe_s3(_operation(event_name), s3_outcome(status=http_response.status_code), seconds)
        request_id = parsed.get("ResponseMetadata", {}).get("RequestId") if isinstance(parsed, dict) else None
        if request_id and has_request_context():
            g.s3_request_id = request_id

    def after_call_error(event_name, exception, context, **kwargs):
        started = context.get(STARTED)
        seconds = time.perf_counter() - started if started is not None else None
        metrics.observe_s3(_operation(event_name), s3_outcome(error=exception), seconds)

    client.meta.events.register("before-call.s3", before_call)
    client.meta.events.register("after-call.s3", after_call)
    client.meta.events.register("after-call-error.s3", after_call_error)


def render(app):
    """Return the metrics in Prometheus' text format and its content type: summed over workers under gunicorn."""
    if is_multiprocess():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = get_metrics(app).registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def init_app(app):
    """Create the app's metrics, wrap its WSGI app and hook its S3 client (unless ``DOCS_METRICS`` is off)."""
    app.extensions["ops.metrics_allow"] = app.config["DOCS_METRICS_ALLOW"]  # networks, parsed by config.networks
    if not app.config["DOCS_METRICS"]:
        return
    metrics = Metrics()
    app.extensions[METRICS] = metrics
    app.wsgi_app = MetricsMiddleware(app.wsgi_app, metrics)
    register_s3_hooks(app.extensions["s3"], metrics)


def get_metrics(app=None):
    """Return the app's ``Metrics``, or ``None`` when metrics are off."""
    return (app or current_app).extensions.get(METRICS)
