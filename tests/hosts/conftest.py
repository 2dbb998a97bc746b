"""Fixtures for per-project hosts: an app serving {project}.docs.test, and projects published into the bucket."""

import pytest

from tests.conftest import BUCKET

MAIN = "http://docs.test"
PAYMENTS = "http://payments.docs.test"
WIKI = "http://wiki.docs.test"


@pytest.fixture
def app_config():
    """Every project at its own host under docs.test; the portal index re-read on every request."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 0.0, "DOCS_SEARCH_BUILD_WAIT": 10.0,
            "DOCS_PROJECT_HOSTS": "{project}.docs.test", "DOCS_LISTING_PREFIXES": "wiki/files/"}


def write_site(root, title, pages=()):
    """Write a tiny built site: a home page with ``title`` and a guide, plus ``pages`` {path: html}."""
    (root / "guide").mkdir(parents=True)
    (root / "index.html").write_text(f"<!doctype html><title>{title}</title><h1>{title}</h1><p>ledger reconciliation</p>")
    (root / "guide" / "index.html").write_text(f"<!doctype html><title>{title} guide</title><h1 id='setup'>Setup</h1>")
    for path, html in dict(pages).items():
        (root / path).write_text(html)
    return root


@pytest.fixture
def projects(app, tmp_path, s3):
    """Publish payments 1.0 and 2.0 and wiki 1.0 with ``flask docs publish``, plus a root file and a wiki folder listing."""
    runner = app.test_cli_runner()
    for project, version in (("payments", "1.0"), ("payments", "2.0"), ("wiki", "1.0")):
        source = write_site(tmp_path / f"{project}-{version}", f"{project} {version}")
        result = runner.invoke(args=["docs", "publish", str(source), "--project", project, "--version", version])
        assert result.exit_code == 0, result.output
    s3.put_object(Bucket=BUCKET, Key="index.html", Body=b"<h1>bucket root</h1>", ContentType="text/html")
    s3.put_object(Bucket=BUCKET, Key="favicon.ico", Body=b"<script>alert(1)</script>", ContentType="text/html")
    s3.put_object(Bucket=BUCKET, Key="wiki/files/report.txt", Body=b"report", ContentType="text/plain")


@pytest.fixture
def s3_calls(app, bucket):
    """The S3 operations the app's client makes."""
    return bucket.operations(app.extensions["s3"])
