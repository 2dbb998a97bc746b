"""Portal fixtures: an app with a short index TTL, a tiny site folder, publishing through the CLI, S3 call counts."""

import pytest

from tests.conftest import BUCKET


@pytest.fixture
def app_config():
    """The test configuration, with an index TTL tests control through the cache's clock."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 10}


@pytest.fixture
def site(tmp_path):
    """A small built site: a home page, a guide folder with an index and a page."""
    root = tmp_path / "site"
    (root / "guide").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Home</title><h1>Home</h1>")
    (root / "guide" / "index.html").write_text("<!doctype html><title>Guide</title>")
    (root / "guide" / "install.html").write_text("<!doctype html><title>Install</title>")
    return root


@pytest.fixture
def publish(app, site):
    """Publish ``site`` as ``project``/``version`` through ``flask docs publish``; return the CLI result."""
    runner = app.test_cli_runner()

    def run(project, version, *options, source=None, check=True):
        result = runner.invoke(args=["docs", "publish", str(source or site), "--project", project,
                                     "--version", version, *options])
        if check:
            assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def docs_cli(app):
    """Run ``flask docs ...`` against the app; return the CLI result."""
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["docs", *args])


@pytest.fixture
def s3_calls(app, bucket):
    """The names of the S3 operations the app's client makes."""
    return bucket.operations(app.extensions["s3"])


class FakeClock:
    """A monotonic clock tests move by hand, so TTL expiry needs no sleep."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    """Drive the portal index cache's TTL by hand."""
    fake = FakeClock()
    app.extensions["portal.index"].clock = fake
    return fake


@pytest.fixture
def fresh(app):
    """Make the next catalog read revalidate (as if the TTL had passed)."""
    return app.extensions["portal.index"].invalidate
