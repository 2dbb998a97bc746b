"""What the cache tells the rest of the request (flask.g.cache_result) and its settings, through the test client."""

import flask
import pytest

from app import create_app
from config import ConfigError
from tests.conftest import BUCKET


def test_cache_result_names_what_happened_for_logs_and_metrics(client, s3):
    s3.put_object(Bucket=BUCKET, Key="page.html", Body=b"<p>hi</p>", ContentType="text/html")
    results = []
    for _ in range(2):
        with client:
            response = client.get("/docs/page.html")
            results.append((flask.g.cache_result, response.headers["X-Cache"]))

    assert results == [("MISS", "MISS"), ("HIT", "HIT")]


def test_cache_off_is_a_bypass_every_time(s3):
    s3.put_object(Bucket=BUCKET, Key="page.html", Body=b"<p>hi</p>", ContentType="text/html")
    client = create_app({"S3_BUCKET": BUCKET, "DOCS_CACHE": "off"}).test_client()
    with client:
        response = client.get("/docs/page.html")
        assert (flask.g.cache_result, response.headers["X-Cache"], response.data) == ("BYPASS", "BYPASS", b"<p>hi</p>")


def test_missing_keys_still_reach_the_fallbacks_and_s3s_404(client, s3):
    s3.put_object(Bucket=BUCKET, Key="guide/index.html", Body=b"guide", ContentType="text/html")

    assert client.get("/docs/guide").status_code == 301
    assert client.get("/docs/nothing.html").status_code == 404


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"DOCS_CACHE": "maybe"}, "DOCS_CACHE='maybe' is not allowed"),
        ({"DOCS_CACHE_TTL": "60"}, "DOCS_CACHE_TTL='60' is out of range"),
        ({"DOCS_CACHE_SIZE": 1024 * 1024, "DOCS_CACHE_OBJECT_SIZE": 2 * 1024 * 1024}, "DOCS_CACHE_OBJECT_SIZE=2097152 is above"),
        ({"DOCS_COMPRESSION_MIN_SIZE": "-1"}, "DOCS_COMPRESSION_MIN_SIZE='-1' is out of range"),
    ],
)
def test_bad_cache_settings_stop_start_up_naming_the_variable(s3, settings, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"S3_BUCKET": BUCKET, **settings})
