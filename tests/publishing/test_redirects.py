"""The _redirects step of a publish: redirect objects written, bad lines refused before any change, served as 301s."""

import uuid

import pytest
import requests

from app.publishing.run import PublishOptions, publish_tree

from tests.conftest import BUCKET

REDIRECTS = """\
# Pages renamed in 2.4
/old.html           /new.html
/guide/             /handbook/     301
/elsewhere.html     https://example.org/docs   301!
"""


def write_site(root, redirects=REDIRECTS):
    """Write a small site with a ``_redirects`` file into ``root``."""
    (root / "handbook").mkdir(parents=True)
    (root / "index.html").write_text("<title>Home</title>")
    (root / "new.html").write_text("<title>New</title>")
    (root / "handbook" / "index.html").write_text("<title>Handbook</title>")
    (root / "_redirects").write_text(redirects)
    return root


def objects(s3, bucket, prefix):
    """Return ``{key: (size, website redirect location or None)}`` under ``prefix``."""
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", ()):
        head = s3.head_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = (item["Size"], head.get("WebsiteRedirectLocation"))
    return found


@pytest.fixture
def cli(app):
    """Run ``flask docs publish ARGS`` in-process; return the click result."""
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["docs", "publish", *map(str, args)])


def test_each_line_becomes_a_zero_byte_redirect_object(cli, s3, tmp_path):
    result = cli(write_site(tmp_path / "site"), "--prefix", "platform/2.4")

    assert result.exit_code == 0, result.output
    assert "Wrote 3 redirects from _redirects." in result.output
    stored = objects(s3, BUCKET, "platform/2.4/")
    assert stored["platform/2.4/old.html"] == (0, "/platform/2.4/new.html")
    assert stored["platform/2.4/guide/index.html"] == (0, "/platform/2.4/handbook/")
    assert stored["platform/2.4/elsewhere.html"] == (0, "https://example.org/docs")
    assert "platform/2.4/_redirects" not in stored


def test_malformed_line_is_a_clear_error_and_nothing_is_published(cli, s3, tmp_path):
    site = write_site(tmp_path / "site", REDIRECTS + "/blog/* /news/:splat\n/next.html /new.html\n")

    result = cli(site, "--prefix", "platform/2.4")

    assert result.exit_code == 1
    assert "Error: _redirects line 5: the old path '/blog/*' has a query, fragment, wildcard or placeholder" in result.output
    assert "'/blog/* /news/:splat'" in result.output
    assert objects(s3, BUCKET, "") == {}


@pytest.mark.parametrize("old", ["/.docs-search.json", "/.docs-publish.json", "/guide/.docs-project.json"])
def test_a_redirect_over_docs_proxys_own_records_is_refused_before_anything_is_published(cli, s3, tmp_path, old):
    site = write_site(tmp_path / "site", REDIRECTS + f"{old} /new.html\n")

    result = cli(site, "--prefix", "platform/2.4")

    assert result.exit_code == 1
    assert "_redirects line 5" in result.output and "docs-proxy's own records" in result.output
    assert objects(s3, BUCKET, "") == {}


def test_a_bad_line_leaves_an_earlier_publish_untouched(s3, tmp_path):
    good = write_site(tmp_path / "good")
    publish_tree(s3, BUCKET, str(good), "x/", PublishOptions())
    before = objects(s3, BUCKET, "x/")
    bad = write_site(tmp_path / "bad", "/old.html /other.html\n/x javascript:alert(1)\n")
    (bad / "new.html").write_text("<title>Changed</title>")

    with pytest.raises(Exception, match="_redirects line 2: the location is neither a path"):
        publish_tree(s3, BUCKET, str(bad), "x/", PublishOptions(delete=True))

    assert objects(s3, BUCKET, "x/") == before
    assert s3.get_object(Bucket=BUCKET, Key="x/new.html")["Body"].read() == b"<title>New</title>"


def test_delete_keeps_redirect_objects_and_drops_those_no_longer_listed(s3, tmp_path):
    site = write_site(tmp_path / "site")
    publish_tree(s3, BUCKET, str(site), "x/", PublishOptions())
    (site / "_redirects").write_text("/old.html /new.html\n")

    report = publish_tree(s3, BUCKET, str(site), "x/", PublishOptions(delete=True))

    assert report.ok
    assert sorted(report.deleted) == ["elsewhere.html", "guide/index.html"]
    assert objects(s3, BUCKET, "x/old.html") == {"x/old.html": (0, "/x/new.html")}


def test_a_renamed_page_becomes_a_redirect_in_place(s3, tmp_path):
    site = write_site(tmp_path / "site", "")
    (site / "old.html").write_text("<title>Old</title>")
    publish_tree(s3, BUCKET, str(site), "x/", PublishOptions())
    (site / "old.html").unlink()
    (site / "_redirects").write_text("/old.html /new.html\n")

    report = publish_tree(s3, BUCKET, str(site), "x/", PublishOptions(delete=True))

    assert report.ok and "old.html" not in report.deleted
    assert objects(s3, BUCKET, "x/old.html") == {"x/old.html": (0, "/x/new.html")}


def test_dry_run_lists_the_redirects_and_writes_nothing(cli, s3, tmp_path):
    result = cli(write_site(tmp_path / "site"), "--prefix", "p", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "would redirect p/old.html -> /p/new.html" in result.output
    assert objects(s3, BUCKET, "") == {}


def test_published_redirects_answer_301_over_http(server_s3, moto_server, gunicorn_factory, tmp_path):
    bucket = f"redirects-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    publish_tree(server_s3, bucket, str(write_site(tmp_path / "site")), "platform/2.4/", PublishOptions())
    server = gunicorn_factory(bucket, env={"WEB_CONCURRENCY": "1"})

    moved = requests.get(f"{server.url}/docs/platform/2.4/old.html", allow_redirects=False, timeout=30)
    followed = requests.get(f"{server.url}/docs/platform/2.4/guide/", timeout=30)
    away = requests.get(f"{server.url}/docs/platform/2.4/elsewhere.html", allow_redirects=False, timeout=30)

    assert (moved.status_code, moved.headers["Location"]) == (301, "/docs/platform/2.4/new.html")
    assert followed.url.endswith("/docs/platform/2.4/handbook/") and b"<title>Handbook</title>" in followed.content
    assert (away.status_code, away.headers["Location"]) == (301, "https://example.org/docs")
