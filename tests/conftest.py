"""Shared fixtures: fake AWS credentials, a mocked bucket, the app, real HTTP servers, and Chromium."""

import os
import uuid

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from app import create_app

from tests.servers import CHROMIUM, CHROMIUM_ARGS, FAKE_CREDENTIALS, TIMEOUT_MS, Gunicorn, s3_client

BUCKET = "docs-bucket"


def pytest_collection_modifyitems(items):
    """Mark ``server`` every test that needs ``real_server``, directly or through any fixture it uses."""
    for item in items:
        if "real_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.server)


@pytest.fixture(scope="session")
def real_server():
    """Request this from any fixture (or test) that starts a real server or process: its tests get the
    ``server`` marker, and ``make test-unit`` (``-m "not server"``) leaves them out."""


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake credentials, so no test can reach a real AWS account."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3(aws_credentials):
    """A client inside moto's mock, with an empty bucket ``BUCKET``."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


class Bucket:
    """A test's bucket: put objects into it, and record the S3 calls a client makes.

    ``prefix`` goes before every key put; ``unique_folders`` puts each object in a new folder (for a
    bucket that a whole module's tests share); ``defaults`` are put_object arguments every put uses.
    """

    def __init__(self, s3, name, prefix="", unique_folders=False, **defaults):
        self.s3, self.name, self.prefix = s3, name, prefix
        self.unique_folders, self.defaults = unique_folders, defaults

    def put(self, key, body=b"", **extra):
        """Put ``body`` at ``key`` (below the prefix, and a new folder if asked); return the key as given to S3."""
        if self.unique_folders:
            key = f"{uuid.uuid4().hex[:8]}/{key}"
        self.s3.put_object(Bucket=self.name, Key=self.prefix + key, Body=body, **{**self.defaults, **extra})
        return self.prefix + key

    def calls(self, client=None):
        """Return a list that gets ``(operation, key)`` for every S3 call ``client`` (this bucket's
        client by default) makes from now on; presigning a URL is no call."""
        return self._record(client, lambda operation, key: (operation, key))

    def operations(self, client=None):
        """Return a list that gets the operation name of every S3 call ``client`` makes from now on."""
        return self._record(client, lambda operation, key: operation)

    def _record(self, client, entry):
        recorded = []

        def record(model, params, context, **kwargs):
            if not context.get("is_presign_request"):
                recorded.append(entry(model.name, params.get("Key")))

        (client or self.s3).meta.events.register("before-parameter-build.s3", record)
        return recorded


@pytest.fixture
def bucket(s3):
    """The mocked bucket ``BUCKET``, to put objects in and record S3 calls (see ``Bucket``)."""
    return Bucket(s3, BUCKET)


@pytest.fixture
def put(bucket):
    """Put an object into the test's bucket; return its key (``Bucket.put``)."""
    return bucket.put


@pytest.fixture
def app_config():
    """The test configuration; tests override keys through this fixture."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1"}


@pytest.fixture(autouse=True)
def search_index_dir(tmp_path, monkeypatch):
    """A host search index of each test's own: the mocked buckets of every test share one name."""
    import app.search

    folder = str(tmp_path / "search-index")
    # In place of the default folder (one per bucket name under /tmp) of apps built in this process...
    monkeypatch.setattr(app.search, "index_directory", lambda config: config["DOCS_SEARCH_INDEX_DIR"] or folder)
    # ... and of servers started from this environment.
    monkeypatch.setenv("DOCS_SEARCH_INDEX_DIR", folder)
    # Apps built in this process read moto's in-process mock, which a builder process cannot reach.
    from tests.search.inprocess import app_builder

    monkeypatch.setattr(app.search, "index_builder", app_builder)


@pytest.fixture
def app(s3, app_config):
    """The app, built after the mock started so its client is mocked too."""
    return create_app(app_config)


@pytest.fixture
def client(app):
    """Flask's test client for ``app``."""
    return app.test_client()


@pytest.fixture(scope="session")
def moto_server(real_server):
    """moto's S3 server on 127.0.0.1 (a free port), for tests over real HTTP."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def server_s3(moto_server):
    """A client for the moto server."""
    return s3_client(moto_server)


@pytest.fixture
def gunicorn_factory(real_server, moto_server, tmp_path):
    """Start gunicorn serving the app against the moto server; stopped after the test."""
    started = []

    def start(bucket, env=None, args=()):
        full_env = {
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": moto_server,
            "S3_ADDRESSING_STYLE": "path",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "8",
            **(env or {}),
        }
        server = Gunicorn(full_env, args=args, log_path=tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def browser(real_server):
    """Headless Debian Chromium, driven by Playwright; one per test module."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (tests/system-deps.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        yield chromium
        chromium.close()
