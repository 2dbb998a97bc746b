"""The S3 client: one per process, built by ``create_app`` after gunicorn forks, shared by threads."""

import email.utils
import functools
import time
from datetime import datetime, timezone

import boto3
import botocore
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from flask import current_app

from config import ConfigError, Setting, choice, number, prefix, text

ADDRESSING_STYLES = ("auto", "path", "virtual")

# The S3 client's settings (config.py describes a ``Setting``); every package reads the bucket and prefix.
SETTINGS = (
    Setting("S3_BUCKET", None, text, "bucket to serve; required (`make run` without it serves its local bucket of sample projects)", "docs"),
    Setting("S3_PREFIX", "", prefix, "key prefix that `/docs/` maps to; empty or ending in `/`", "sites/"),
    Setting("S3_ENDPOINT_URL", None, text, "S3-compatible endpoint (MinIO, Ceph, moto server, ...); unset: AWS",
            "http://minio.internal:9000"),
    Setting("S3_REGION", None, text, "region; unset: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then boto3's", "eu-west-1"),
    Setting("S3_ADDRESSING_STYLE", "auto", choice(*ADDRESSING_STYLES), "`auto`, `path` or `virtual`", "path"),
    # gthread: four times its default 16 threads, so no thread ever waits for a connection. gevent: the
    # idle connections kept for reuse; a download beyond them opens its own, closed after use.
    Setting("S3_MAX_POOL_CONNECTIONS", 64, number(int, 1, 10_000),
            "idle S3 connections kept per worker process for reuse (gevent opens more while more downloads "
            "run); with `GUNICORN_WORKER_CLASS=gthread` it must be >= `GUNICORN_THREADS`", "32"),
    Setting("S3_CONNECT_TIMEOUT", 5.0, number(float, 0.01), "seconds to connect to S3 before giving up (then `504`)", "2.5"),
    Setting("S3_READ_TIMEOUT", 30.0, number(float, 0.01), "seconds to wait for S3 to send the next bytes (then `504`)", "10"),
    Setting("S3_MAX_ATTEMPTS", 3, number(int, 1, 20),
            "total tries per S3 request, first one included (throttling and connection errors are retried with backoff)",
            "5"),
    # Well inside nginx's default 60 s proxy_read_timeout, so a stalled S3 gets our 504, not the proxy's.
    Setting("S3_FIRST_BYTE_DEADLINE", 20.0, number(float, 0.01, 3600),
            "seconds a reader waits at most for S3 to start answering, every retry included (then `504`); "
            "well inside a fronting proxy's 60 s ([docs/reliability.md](reliability.md))", "12.5"),
)


def check(settings):
    """Refuse to start without a bucket."""
    if not settings.get("S3_BUCKET"):
        raise ConfigError(
            "S3_BUCKET is not set; set it to the bucket to serve "
            "(or run `make run` without it for the embedded sample site)"
        )


RAW_ERROR_BODY = "DocsProxyRawBody"
DEADLINE = "docs_proxy_deadline"

# Writes keep only the per-attempt timeouts: uploading a large part, or S3 assembling a multipart
# upload, may rightly take longer than a reader should wait for a page to start.
UNBOUNDED_OPERATIONS = frozenset(
    {"PutObject", "UploadPart", "UploadPartCopy", "CopyObject", "CompleteMultipartUpload"}
)


class FirstByteDeadlineExceeded(BotoCoreError):
    """S3 did not start answering a call within ``S3_FIRST_BYTE_DEADLINE``, retries included."""

    fmt = "S3 did not start answering {operation} within {seconds:g} s (S3_FIRST_BYTE_DEADLINE)"


def client_config(config):
    """Return the botocore ``Config`` for the app's settings (pool, timeouts, retries, addressing)."""
    return Config(
        max_pool_connections=config["S3_MAX_POOL_CONNECTIONS"],
        connect_timeout=config["S3_CONNECT_TIMEOUT"],
        read_timeout=config["S3_READ_TIMEOUT"],
        # total_max_attempts counts the first try too, as AWS_MAX_ATTEMPTS does ("max_attempts" here would not).
        retries={"total_max_attempts": config["S3_MAX_ATTEMPTS"], "mode": "standard"},
        s3={"addressing_style": config["S3_ADDRESSING_STYLE"]},
        tcp_keepalive=True,
        # A fixed User-Agent names us in S3's access logs and skips botocore assembling and sanitising
        # ~90 components twice per request (7% of a small page's CPU in bench/).
        user_agent=f"docs-proxy botocore/{botocore.__version__}",
        # botocore checks S3's CRC only on the empty read after the last chunk, when a streaming proxy
        # has already sent every byte: it could log a mismatch but never protect the client, and it
        # costs ~0.25 CPU s/GB (bench/). Truncation is still caught by botocore's length check.
        response_checksum_validation="when_required",
    )


def _keep_error_body(response_dict, customized_response_dict, **kwargs):
    # botocore parses S3's error XML and drops the bytes; errors.py passes them through unchanged.
    if response_dict.get("status_code", 200) >= 300:
        customized_response_dict[RAW_ERROR_BODY] = response_dict.get("body") or b""


class FirstByteDeadline:
    """Bound the wait for S3's response head, every attempt and backoff included, by one deadline.

    botocore's retries multiply the read timeout (3 attempts x 30 s), while a fronting proxy gives
    up at 60 s; each attempt's read timeout is cut to what is left of the deadline, and no attempt
    starts once it has passed. Retries within the deadline (throttling, refused or reset connections,
    a stall) still happen. Once the head has arrived, body reads get ``S3_READ_TIMEOUT`` again.
    """

    def __init__(self, seconds, read_timeout):
        self.seconds = seconds
        self.read_timeout = read_timeout

    def register(self, events):
        """Register the deadline's handlers on a client's event system."""
        events.register("before-call.s3.*", self.start)
        events.register("before-send.s3.*", self.bound_attempt)
        events.register("needs-retry.s3.*", self.refuse_late_retry)
        events.register("after-call.s3.*", self.restore_read_timeout)

    def start(self, model, context, **kwargs):
        """Start the clock when a bounded call begins."""
        if model.name not in UNBOUNDED_OPERATIONS:
            context[DEADLINE] = (time.monotonic() + self.seconds, model.name)

    def bound_attempt(self, request, **kwargs):
        """Give an attempt what is left of the deadline as its read timeout, or refuse to start it."""
        context = getattr(request, "context", None) or {}
        if DEADLINE not in context:
            return None
        remaining = self._remaining(context)
        if remaining <= 0:
            raise FirstByteDeadlineExceeded(operation=context[DEADLINE][1], seconds=self.seconds)
        # botocore's URLLib3Session reads this per-request override (its connect timeout stays).
        context["read_timeout"] = min(self.read_timeout, remaining)
        return None

    def refuse_late_retry(self, request_dict, caught_exception=None, **kwargs):
        """Stop after a failed attempt once the deadline has passed, before botocore's backoff sleep."""
        context = request_dict.get("context") or {}
        if caught_exception is not None and DEADLINE in context and self._remaining(context) <= 0:
            raise FirstByteDeadlineExceeded(operation=context[DEADLINE][1], seconds=self.seconds)

    def restore_read_timeout(self, parsed, **kwargs):
        """Let a streamed body's reads wait ``S3_READ_TIMEOUT`` again, not the deadline's remainder."""
        sock = body_socket(parsed.get("Body") if isinstance(parsed, dict) else None)
        if sock is not None:
            sock.settimeout(self.read_timeout)

    @staticmethod
    def _remaining(context):
        return context[DEADLINE][0] - time.monotonic()


def body_socket(body):
    """Return the socket a streamed S3 body is read from, or ``None``."""
    raw = getattr(body, "_raw_stream", None)
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is None:
        # A response that ends its connection (Connection: close) holds the socket in its file object.
        file = getattr(getattr(raw, "_fp", None), "fp", None)
        sock = getattr(getattr(file, "raw", None), "_sock", None)
    return sock


def parse_timestamp(value):
    """Parse an S3 timestamp (RFC 1123 in headers, ISO 8601 in XML) into an aware ``datetime``.

    botocore's default goes through dateutil for every response, 7% of a small page's CPU in
    bench/; the standard library parses both of S3's formats in a fraction of that.
    """
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return botocore_parse_timestamp(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@functools.cache
def shared_loader():
    """Return the process's one botocore data loader: the service models are read-only JSON, parsed once.

    A fresh session per client would parse the S3 model again (about 0.15 s, ten times the rest of
    building a client) at every create_app: the test suite builds thousands of apps.
    """
    return botocore.loaders.create_loader()


def new_session():
    """Return a boto3 session on the process's shared loader (``shared_loader``), parsing timestamps cheaply."""
    core_session = botocore.session.get_session()
    loader = shared_loader()
    core_session.register_component("data_loader", loader)
    core_session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    session = boto3.session.Session(botocore_session=core_session)
    # boto3 appends its own data folder to the loader's search paths for every session: keep one copy.
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


def create_client(config):
    """Return a new S3 client for ``config``; credentials come from boto3's own chain."""
    client = new_session().client(
        "s3",
        region_name=config["S3_REGION"],
        endpoint_url=config["S3_ENDPOINT_URL"],
        config=client_config(config),
    )
    client.meta.events.register("before-parse.s3.*", _keep_error_body)
    FirstByteDeadline(config["S3_FIRST_BYTE_DEADLINE"], config["S3_READ_TIMEOUT"]).register(client.meta.events)
    return client


def init_app(app):
    """Build the app's S3 client and keep it in ``app.extensions``."""
    app.extensions["s3"] = create_client(app.config)


def get_s3():
    """Return the current app's S3 client."""
    return current_app.extensions["s3"]
