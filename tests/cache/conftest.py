"""Fixtures for the cache over real HTTP: moto's server behind the fault proxy, gunicorn in front."""

import uuid

import pytest

from tests.conftest import Bucket
from tests.faultproxy import FaultProxy
from tests.servers import Gunicorn

TTL = 1.0
# Objects whose test is about hits, not freshness: a loaded machine must not expire them mid-test.
IMMUTABLE = "public, max-age=31536000, immutable"
OBJECT_LIMIT = 64 * 1024
READ_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def cache_bucket(server_s3):
    """An empty bucket on the moto server for this module; tests write their own keys."""
    name = f"cache-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def proxy(moto_server):
    """The fault proxy between the app and the moto server; it counts the app's S3 requests."""
    fault_proxy = FaultProxy(moto_server).start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture
def s3_proxy(proxy):
    """The proxy, passing everything again after the test whatever fault the test set."""
    yield proxy
    proxy.set_mode("pass")


@pytest.fixture(scope="module")
def cache_server(cache_bucket, proxy, tmp_path_factory):
    """gunicorn with the cache on: one worker (one cache to count against), a short TTL, short timeouts."""
    server = Gunicorn(
        {
            "S3_BUCKET": cache_bucket,
            "S3_ENDPOINT_URL": proxy.url,
            "S3_ADDRESSING_STYLE": "path",
            "S3_CONNECT_TIMEOUT": "1",
            "S3_READ_TIMEOUT": str(READ_TIMEOUT),
            "S3_MAX_ATTEMPTS": "1",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "16",
            "S3_MAX_POOL_CONNECTIONS": "16",
            "DOCS_CACHE_TTL": str(TTL),
            "DOCS_CACHE_OBJECT_SIZE": str(OBJECT_LIMIT),
            "DOCS_CACHE_WAIT": "5",
        },
        log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
    )
    yield server
    server.stop()


@pytest.fixture
def bucket(server_s3, cache_bucket):
    """The module's bucket on the moto server; ``put`` writes every object in a new folder and returns its key."""
    return Bucket(server_s3, cache_bucket, unique_folders=True)


def s3_gets(proxy, key):
    """Return how many GET requests for ``key`` reached S3 through the proxy."""
    return sum(1 for method, path in proxy.requests if method == "GET" and path.split("?")[0].endswith("/" + key))
