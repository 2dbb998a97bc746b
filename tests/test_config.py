"""Configuration: read from the environment by create_app, validated with messages naming the variable."""

import pytest

import config
from app import config_problem, create_app
from app.settings import app_settings, read_settings


def test_nothing_but_s3_bucket_is_required():
    settings = read_settings({"S3_BUCKET": "docs"})
    assert settings["DOCS_INDEX_DOCUMENT"] == "index.html"
    assert settings["S3_ADDRESSING_STYLE"] == "auto"


def test_environment_values_are_parsed_into_their_types():
    settings = config.from_environ(
        {
            "S3_BUCKET": "docs",
            "S3_PREFIX": "site/",
            "S3_MAX_POOL_CONNECTIONS": "80",
            "S3_READ_TIMEOUT": "2.5",
            "DOCS_CHUNK_SIZE": "65536",
            "S3_ADDRESSING_STYLE": "path",
        },
        app_settings(),
    )
    assert settings["S3_MAX_POOL_CONNECTIONS"] == 80
    assert settings["S3_READ_TIMEOUT"] == 2.5
    assert settings["DOCS_CHUNK_SIZE"] == 65536
    assert settings["S3_ADDRESSING_STYLE"] == "path"


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"AWS_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_DEFAULT_REGION": "eu-west-2"}, "eu-west-2"),
        ({"S3_REGION": "eu-central-1", "AWS_REGION": "eu-west-1"}, "eu-central-1"),
        ({}, None),
    ],
)
def test_region_falls_back_to_the_aws_variables(environ, expected):
    assert config.from_environ(environ, app_settings()).get("S3_REGION") == expected


@pytest.mark.parametrize(
    "environ, message",
    [
        ({}, "S3_BUCKET is not set"),
        ({"S3_BUCKET": "b", "S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE='sideways' is not allowed; use one of: auto, path, virtual"),
        ({"S3_BUCKET": "b", "S3_PREFIX": "site"}, "S3_PREFIX='site' must end with '/'"),
        ({"S3_BUCKET": "b", "S3_PREFIX": "/site/"}, "S3_PREFIX='/site/' must not start with '/'"),
        ({"S3_BUCKET": "b", "DOCS_CHUNK_SIZE": "big"}, "DOCS_CHUNK_SIZE='big' is not an integer"),
        ({"S3_BUCKET": "b", "DOCS_CHUNK_SIZE": "10"}, "DOCS_CHUNK_SIZE='10' is out of range; use a number >= 1024"),
        ({"S3_BUCKET": "b", "S3_MAX_ATTEMPTS": "0"}, "S3_MAX_ATTEMPTS='0' is out of range"),
        ({"S3_BUCKET": "b", "S3_READ_TIMEOUT": "-1"}, "S3_READ_TIMEOUT='-1' is out of range"),
        ({"S3_BUCKET": "b", "DOCS_INDEX_DOCUMENT": "a/index.html"}, "DOCS_INDEX_DOCUMENT='a/index.html' must be a file name"),
        ({"S3_BUCKET": "b", "S3_READ_TIMEOUT": "soon"}, "S3_READ_TIMEOUT='soon' is not a number"),
        ({"S3_BUCKET": "b", "S3_FIRST_BYTE_DEADLINE": "0"}, "S3_FIRST_BYTE_DEADLINE='0' is out of range"),
    ],
)
def test_bad_configuration_names_the_variable_and_the_allowed_values(environ, message):
    assert message in config_problem(environ)


def test_pool_smaller_than_gunicorn_threads_is_refused():
    problem = config_problem(
        {"S3_BUCKET": "b", "S3_MAX_POOL_CONNECTIONS": "4", "GUNICORN_WORKER_CLASS": "gthread"}, threads=32
    )
    assert "S3_MAX_POOL_CONNECTIONS=4 is below gunicorn's 32 threads" in problem


def test_gevent_needs_no_pool_as_large_as_the_threads_it_does_not_use():
    # Under gevent a download beyond the pool opens its own S3 connection; the pool keeps idle ones.
    assert config_problem({"S3_BUCKET": "b", "S3_MAX_POOL_CONNECTIONS": "4"}, threads=32) is None


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("GUNICORN_WORKER_CLASS", "eventlet", "GUNICORN_WORKER_CLASS='eventlet' is not allowed; use one of: gevent, gthread"),
        ("GUNICORN_WORKER_CONNECTIONS", "0", "GUNICORN_WORKER_CONNECTIONS='0' is out of range"),
        ("DOCS_STALLED_READER_TIMEOUT", "0", "DOCS_STALLED_READER_TIMEOUT='0' is out of range"),
        ("DOCS_SLOW_CHUNK_SIZE", "100", "DOCS_SLOW_CHUNK_SIZE='100' is out of range"),
        ("DOCS_SEND_BUFFER", "-1", "DOCS_SEND_BUFFER='-1' is out of range"),
    ],
)
def test_serving_engine_settings_are_checked_before_gunicorn_starts(name, value, message):
    assert message in config_problem({"S3_BUCKET": "b", name: value})


def test_create_app_reads_the_environment(monkeypatch, aws_credentials):
    monkeypatch.setenv("S3_BUCKET", "from-env")
    monkeypatch.setenv("S3_PREFIX", "p/")
    app = create_app()
    assert app.config["S3_BUCKET"] == "from-env"
    assert app.config["S3_PREFIX"] == "p/"


def test_create_app_refuses_bad_configuration(monkeypatch, aws_credentials):
    monkeypatch.setenv("S3_BUCKET", "b")
    monkeypatch.setenv("S3_ADDRESSING_STYLE", "nope")
    with pytest.raises(config.ConfigError, match="S3_ADDRESSING_STYLE"):
        create_app()


def test_test_config_overrides_without_reading_the_environment(monkeypatch, aws_credentials):
    monkeypatch.setenv("S3_BUCKET", "from-env")
    app = create_app({"S3_BUCKET": "from-test"})
    assert app.config["S3_BUCKET"] == "from-test"


def test_the_s3_client_gets_the_tuning_settings(aws_credentials):
    app = create_app(
        {
            "S3_BUCKET": "b",
            "S3_MAX_POOL_CONNECTIONS": 77,
            "S3_CONNECT_TIMEOUT": 1.5,
            "S3_READ_TIMEOUT": 9.0,
            "S3_MAX_ATTEMPTS": 5,
            "S3_ADDRESSING_STYLE": "path",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9",
            "S3_REGION": "eu-west-3",
        }
    )
    client = app.extensions["s3"]
    assert client.meta.config.max_pool_connections == 77
    assert client.meta.config.connect_timeout == 1.5
    assert client.meta.config.read_timeout == 9.0
    assert client.meta.config.retries["total_max_attempts"] == 5
    assert client.meta.config.s3["addressing_style"] == "path"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert client.meta.region_name == "eu-west-3"


def test_importing_wsgi_without_configuration_exits_with_a_clear_message(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DOCS_"))}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "docs-proxy: configuration error: S3_BUCKET is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "text",
    ["Fri, 20 Nov 2026 10:00:00 GMT", "2026-11-20T10:00:00.000Z", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00+00:00"],
)
def test_s3_timestamps_parse_to_the_same_aware_datetime(text):
    from datetime import datetime, timezone

    from app.s3 import parse_timestamp

    assert parse_timestamp(text) == datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def test_s3_requests_name_docs_proxy_in_their_user_agent(s3):
    seen = []
    app = create_app({"S3_BUCKET": "docs-bucket"})
    app.extensions["s3"].meta.events.register("before-send.s3.*", lambda request, **kw: seen.append(request.headers["User-Agent"]))
    app.test_client().get("/docs/").close()
    assert seen and all(agent.startswith(b"docs-proxy botocore/") for agent in seen)


def test_listing_timestamps_still_parse_for_publish(s3):
    s3.put_object(Bucket="docs-bucket", Key="a.html", Body=b"a")
    app = create_app({"S3_BUCKET": "docs-bucket"})
    listed = app.extensions["s3"].list_objects_v2(Bucket="docs-bucket")["Contents"][0]
    assert listed["LastModified"].tzinfo is not None
