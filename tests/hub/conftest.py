"""Hub fixtures: a small built site published through the CLI, in the app with the cache on or off."""

import pytest

from tests.conftest import BUCKET

HEAD = b"<!doctype html><html lang=en><head><meta charset=utf-8><title>%s</title></head>"


def page(title, body=b""):
    """Return a small HTML page titled ``title``."""
    return HEAD % title + b"<body><main><h1>" + title + b"</h1>" + body + b"</main></body></html>"


@pytest.fixture(params=["on", "off"], ids=["cache", "no-cache"])
def app_config(request):
    """The app with the cache on and off: the rewritten page must read the same either way."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_CACHE": request.param, "DOCS_COMPRESSION": "on"}


@pytest.fixture
def site(tmp_path):
    """A built site: a home page, a guide folder, an install page, a stylesheet and a 4 KiB page."""
    root = tmp_path / "site"
    (root / "guide").mkdir(parents=True)
    (root / "_static").mkdir()
    (root / "index.html").write_bytes(page(b"Home"))
    (root / "guide" / "index.html").write_bytes(page(b"Guide"))
    (root / "guide" / "install.html").write_bytes(page(b"Install", b"<p>run it</p>" * 300))
    (root / "_static" / "style.css").write_bytes(b"body { color: black }\n" * 100)
    return root


@pytest.fixture
def publish(app, site):
    """Publish ``site`` as ``project``/``version`` with extra CLI options; return the CLI result."""
    runner = app.test_cli_runner()

    def run(project, version, *options, source=None):
        result = runner.invoke(args=["docs", "publish", str(source or site), "--project", project,
                                     "--version", version, *options])
        assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def docs_cli(app):
    """Run ``flask docs ...``; return the CLI result."""
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["docs", *args])


@pytest.fixture
def s3_calls(app, bucket):
    """The S3 operations the app's client makes."""
    return bucket.operations(app.extensions["s3"])
