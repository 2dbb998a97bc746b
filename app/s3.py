"""The S3 client: one per process, built by ``create_app`` after gunicorn forks, shared by threads."""

import boto3
from botocore.config import Config
from flask import current_app

RAW_ERROR_BODY = "DocsProxyRawBody"
RAW_ERROR_HEADERS = "DocsProxyRawHeaders"


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
        user_agent_appid="docs-proxy",
        # botocore checks S3's CRC only on the empty read after the last chunk, when a streaming proxy
        # has already sent every byte: it could log a mismatch but never protect the client, and it
        # costs ~0.25 CPU s/GB (bench/). Truncation is still caught by botocore's length check.
        response_checksum_validation="when_required",
    )


def _keep_error_body(response_dict, customized_response_dict, **kwargs):
    # botocore parses S3's error XML and drops the bytes; errors.py passes them through unchanged.
    if response_dict.get("status_code", 200) >= 300:
        customized_response_dict[RAW_ERROR_BODY] = response_dict.get("body") or b""
        customized_response_dict[RAW_ERROR_HEADERS] = dict(response_dict.get("headers") or {})


def create_client(config):
    """Return a new S3 client for ``config``; credentials come from boto3's own chain."""
    session = boto3.session.Session()
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
