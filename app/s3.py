"""The S3 client: one per process, built by ``create_app`` after gunicorn forks, shared by threads."""

import email.utils
from datetime import datetime, timezone

import boto3
import botocore
import botocore.session
from botocore.config import Config
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from flask import current_app

RAW_ERROR_BODY = "DocsProxyRawBody"


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


def create_client(config):
    """Return a new S3 client for ``config``; credentials come from boto3's own chain."""
    core_session = botocore.session.get_session()
    core_session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse_timestamp)
    session = boto3.session.Session(botocore_session=core_session)
    client = session.client(
        "s3",
        region_name=config["S3_REGION"],
        endpoint_url=config["S3_ENDPOINT_URL"],
        config=client_config(config),
    )
    client.meta.events.register("before-parse.s3.*", _keep_error_body)
    return client


def init_app(app):
    """Build the app's S3 client and keep it in ``app.extensions``."""
    app.extensions["s3"] = create_client(app.config)


def get_s3():
    """Return the current app's S3 client."""
    return current_app.extensions["s3"]
