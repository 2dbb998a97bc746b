"""Liveness and readiness: does S3 answer for our bucket and prefix with our credentials, and is this worker draining?

Readiness makes one cheap call, a one-byte ranged GET of the docs root's index document, on its own
client with a short timeout and no retries, and reuses its answer for ``DOCS_READY_CACHE_SECONDS``.
A GET rather than a HEAD because only a GET's error carries S3's error code: HEAD answers a missing
bucket and a missing key with the same bare 404. A missing key is fine (the bucket answered);
a 403 means the credentials may not read the docs.
"""

import threading
import time

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from flask import current_app

from ..s3 import create_client

HEALTH = "ops.health"
OK_CODES = ("NoSuchKey", "InvalidRange", "404", "416")
DENIED_CODES = (
    "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "AllAccessDisabled", "AccountProblem", "403",
)


def probe_config(config):
    """Return ``config`` adjusted for a probe: its own short timeout, one attempt, a pool of two."""
    timeout = config["DOCS_READY_TIMEOUT"]
    return {
        **config,
        "S3_CONNECT_TIMEOUT": min(config["S3_CONNECT_TIMEOUT"], timeout),
        "S3_READ_TIMEOUT": min(config["S3_READ_TIMEOUT"], timeout),
        "S3_MAX_ATTEMPTS": 1,
        "S3_MAX_POOL_CONNECTIONS": 2,
    }


def probe_key(config):
    """Return the key the readiness call reads: the docs root's index document."""
    return config["S3_PREFIX"] + config["DOCS_INDEX_DOCUMENT"]


def not_ready_reason(error, bucket, endpoint=None):
    """Return why S3 is not usable, in one line starting with the cause, or ``None`` when ``error`` is fine."""
    where = endpoint or "S3"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in OK_CODES:
            return None
        if code == "NoSuchBucket":
            return f"no such bucket: {where} has no bucket {bucket!r} (NoSuchBucket)"
        if code in DENIED_CODES:
            return f"denied: {where} refused the credentials for bucket {bucket!r} ({status} {code})"
        return f"S3 error: {where} answered {status} {code} for bucket {bucket!r}"
    if isinstance(error, NoCredentialsError):
        return "no credentials: boto3 found no AWS credentials (environment, ~/.aws, or an instance or container role)"
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return f"timed out: {where} did not answer in time ({error})"
    if isinstance(error, EndpointConnectionError):
        return f"unreachable: {where} could not be reached ({error})"
    if isinstance(error, BotoCoreError):
        return f"unreachable: {where} could not be used ({error})"
    return f"unreachable: {type(error).__name__}: {error}"


def check_s3(client, config):
    """Make the readiness call with ``client``; return ``None`` when S3 answers, else the one-line reason."""
    bucket = config["S3_BUCKET"]
    try:
        response = client.get_object(Bucket=bucket, Key=probe_key(config), Range="bytes=0-0")
        response["Body"].close()
    except Exception as error:  # every failure is a reason to report, never a crash of the probe
        return not_ready_reason(error, bucket, config.get("S3_ENDPOINT_URL"))
    return None


class Health:
    """Readiness for one app in one process: the probe client, the cached answer, the draining flag."""

    def __init__(self, config):
        self.config = probe_config(config)
        self.ttl = config["DOCS_READY_CACHE_SECONDS"]
        self.lock = threading.Lock()
        self.client = None
        self.checked_at = None
        self.reason = None
        self.draining = False

    def not_ready_reason(self):
        """Return why this worker should get no traffic, or ``None`` when it is ready."""
        if self.draining:
            return "draining: this worker is shutting down and finishes its requests in flight"
        # One probe at a time: a burst of probes waits for one S3 call rather than making many.
        with self.lock:
            now = time.monotonic()
            if self.checked_at is None or now - self.checked_at >= self.ttl:
                if self.client is None:
                    self.client = create_client(self.config)
                self.reason = check_s3(self.client, self.config)
                self.checked_at = time.monotonic()
            return self.reason


def init_app(app):
    """Give ``app`` its readiness state (the probe client is built on the first probe)."""
    app.extensions[HEALTH] = Health(app.config)


def get_health(app=None):
    """Return the app's ``Health``."""
    return (app or current_app).extensions[HEALTH]


def mark_draining(app):
    """Make ``app``'s readiness answer 503 from now on: its worker has begun a graceful shutdown."""
    health = app.extensions.get(HEALTH) if hasattr(app, "extensions") else None
    if health is not None:
        health.draining = True
