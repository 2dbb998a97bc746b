"""Publishing a folder into moto's bucket: headers, incremental re-runs, deletes, failures, the CLI, serving."""

import hashlib
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from app.publishing.manifest import MANIFEST_NAME
from app.publishing.run import PublishError, PublishOptions, publish_tree

from tests.conftest import BUCKET
from tests.servers import FAKE_CREDENTIALS, ROOT, free_port

PAGES = "no-cache"
HASHED = "public, max-age=31536000, immutable"

# A realistic tree: Sphinx, MkDocs Material and Vite output side by side.
SITE = {
    "index.html": "<!doctype html><title>Home</title>",
    "genindex.html": "<!doctype html><title>Index</title>",
    "api/module.html": "<!doctype html><title>API</title>",
    "_static/documentation_options.js": "const DOCUMENTATION_OPTIONS = {};",
    "_static/pygments.css": ".highlight {}",
    "_static/searchtools.js": "var Search = {};",
    "_static/jquery-3.6.0.js": "/* jquery */",
    "_sources/index.rst.txt": "Home\n====\n",
    "_images/diagram.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    "_images/logo.png": b"\x89PNG\r\n\x1a\n",
    "assets/main-BxK3fA9d.js": "export default 1;",
    "assets/main-BxK3fA9d.js.map": "{}",
    "assets/stylesheets/main.8608ea7d.min.css": "body{}",
    "assets/fonts/Inter-SemiBold.woff2": b"wOF2",
    "objects.inv": b"# Sphinx inventory\x00\x01",
    "searchindex.js": "Search.setIndex({})",
    "sitemap.xml": "<urlset/>",
    "downloads/docs.tar.gz": b"\x1f\x8b\x08\x00",
    "module.wasm": b"\x00asm",
    "favicon.ico": b"\x00\x00\x01\x00",
}

EXPECTED_HEADERS = {
    "index.html": ("text/html; charset=utf-8", PAGES),
    "api/module.html": ("text/html; charset=utf-8", PAGES),
    "_static/documentation_options.js": ("text/javascript; charset=utf-8", PAGES),
    "_static/pygments.css": ("text/css; charset=utf-8", PAGES),
    "_sources/index.rst.txt": ("text/plain; charset=utf-8", PAGES),
    "_images/diagram.svg": ("image/svg+xml", PAGES),
    "_images/logo.png": ("image/png", PAGES),
    "assets/main-BxK3fA9d.js": ("text/javascript; charset=utf-8", HASHED),
    "assets/main-BxK3fA9d.js.map": ("application/json", HASHED),
    "assets/stylesheets/main.8608ea7d.min.css": ("text/css; charset=utf-8", HASHED),
    "assets/fonts/Inter-SemiBold.woff2": ("font/woff2", PAGES),
    "objects.inv": ("application/octet-stream", PAGES),
    "downloads/docs.tar.gz": ("application/gzip", PAGES),
    "module.wasm": ("application/wasm", PAGES),
    "favicon.ico": ("image/x-icon", PAGES),
}


def write_tree(root, files):
    """Write ``{relpath: text or bytes}`` under ``root``; return ``root``."""
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


@pytest.fixture
def site(tmp_path):
    """The realistic tree, in a temporary folder."""
    return write_tree(tmp_path / "site", SITE)


@pytest.fixture
def calls(bucket):
    """The S3 operations the mocked client makes from now on."""
    return bucket.operations()


def deny(s3, operation, keys=None):
    """Make ``operation`` fail with AccessDenied (for the keys ending in one of ``keys``, if given)."""

    def refuse(params, **kwargs):
        if keys is None or any(params.get("Key", "").endswith(key) for key in keys):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                operation,
            )

    s3.meta.events.register(f"before-parameter-build.s3.{operation}", refuse, unique_id=f"deny-{operation}")
    return lambda: s3.meta.events.unregister(f"before-parameter-build.s3.{operation}", unique_id=f"deny-{operation}")


def keys(s3, prefix=""):
    """Return the keys under ``prefix``, without the manifest."""
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listing if not item["Key"].endswith(MANIFEST_NAME))


def publish(s3, source, prefix="x/", **options):
    """Publish ``source`` to ``prefix`` with ``options``; return the report."""
    return publish_tree(s3, BUCKET, str(source), prefix, PublishOptions(**options))


def test_realistic_tree_gets_browser_content_types_cache_headers_and_a_checksum(s3, site):
    report = publish(s3, site)
    assert report.ok and len(report.uploaded) == len(SITE)
    assert keys(s3, "x/") == sorted(f"x/{relpath}" for relpath in SITE)
    for relpath, (content_type, cache_control) in EXPECTED_HEADERS.items():
        head = s3.head_object(Bucket=BUCKET, Key=f"x/{relpath}")
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache_control), relpath
        assert head["Metadata"]["sha256"] == hashlib.sha256((site / relpath).read_bytes()).hexdigest()
        assert "ContentEncoding" not in head, relpath


def test_pages_are_uploaded_after_every_asset(s3, site, calls):
    order = []
    s3.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **kw: order.append(params["Key"]))
    publish(s3, site, jobs=4)
    uploads = [key for key in order if not key.endswith(MANIFEST_NAME)]
    first_page = min(index for index, key in enumerate(uploads) if key.endswith(".html"))
    assert all(key.endswith(".html") for key in uploads[first_page:])


def test_second_publish_of_the_same_folder_makes_no_put_and_no_head(s3, site, calls):
    publish(s3, site)
    calls.clear()
    report = publish(s3, site)
    assert report.uploaded == [] and report.unchanged == len(SITE) and report.heads == 0
    assert calls.count("PutObject") == calls.count("HeadObject") == calls.count("CreateMultipartUpload") == 0
    assert calls.count("ListObjectsV2") == 1


def test_only_changed_files_are_uploaded_again(s3, site, calls):
    publish(s3, site)
    (site / "index.html").write_text("<!doctype html><title>Home, edited</title>")
    (site / "new.css").write_text("p{}")
    calls.clear()
    report = publish(s3, site)
    assert sorted(report.uploaded) == ["index.html", "new.css"]
    assert report.heads == 0


def test_changed_cache_policy_is_applied_to_unchanged_files(s3, site):
    publish(s3, site)
    report = publish(s3, site, pages_policy="max-age=60")
    assert "index.html" in report.uploaded and "assets/main-BxK3fA9d.js" not in report.uploaded
    assert s3.head_object(Bucket=BUCKET, Key="x/index.html")["CacheControl"] == "max-age=60"


def test_object_rewritten_by_someone_else_is_checked_and_fixed(s3, site):
    publish(s3, site)
    (site / "index.html").write_text("edited")
    publish(s3, site)  # writes the manifest again, now with every unchanged object's modification time
    # Listings give modification times in whole seconds, so the rewrite must land in a later one.
    time.sleep(1.1)
    # Same bytes, wrong type: the ETag stays the MD5, only the modification time shows the rewrite.
    s3.copy_object(
        Bucket=BUCKET, Key="x/searchindex.js", CopySource={"Bucket": BUCKET, "Key": "x/searchindex.js"},
        ContentType="binary/octet-stream", MetadataDirective="REPLACE",
    )
    report = publish(s3, site)
    assert report.uploaded == ["searchindex.js"] and report.heads == 1
    assert s3.head_object(Bucket=BUCKET, Key="x/searchindex.js")["ContentType"] == "text/javascript; charset=utf-8"


def test_content_overwritten_by_someone_else_is_uploaded_again_without_a_head(s3, site):
    publish(s3, site)
    head = s3.head_object(Bucket=BUCKET, Key="x/index.html")
    s3.put_object(Bucket=BUCKET, Key="x/index.html", Body=b"stale build", ContentType=head["ContentType"],
                  CacheControl=head["CacheControl"], Metadata=head["Metadata"])
    report = publish(s3, site)
    assert report.uploaded == ["index.html"] and report.heads == 0
    assert s3.get_object(Bucket=BUCKET, Key="x/index.html")["Body"].read() == (site / "index.html").read_bytes()


def test_lost_manifest_costs_heads_but_no_uploads(s3, site, calls):
    publish(s3, site)
    s3.delete_object(Bucket=BUCKET, Key=f"x/{MANIFEST_NAME}")
    calls.clear()
    report = publish(s3, site)
    assert report.uploaded == [] and report.heads == len(SITE)
    assert calls.count("PutObject") == 1  # the manifest again
    calls.clear()
    assert publish(s3, site).heads == 0 and calls.count("PutObject") == 0


def test_delete_removes_keys_no_longer_in_the_source_and_nothing_outside_the_prefix(s3, site):
    publish(s3, site)
    s3.put_object(Bucket=BUCKET, Key="x-other/keep.html", Body=b"sibling")
    s3.put_object(Bucket=BUCKET, Key="keep.html", Body=b"root")
    (site / "genindex.html").unlink()
    (site / "_static" / "pygments.css").unlink()
    assert publish(s3, site).deleted == []
    assert "x/genindex.html" in keys(s3, "x/")
    report = publish(s3, site, delete=True)
    assert sorted(report.deleted) == ["_static/pygments.css", "genindex.html"]
    assert "x/genindex.html" not in keys(s3, "x/")
    assert s3.head_object(Bucket=BUCKET, Key=f"x/{MANIFEST_NAME}")
    assert keys(s3, "x-other/") == ["x-other/keep.html"] and "keep.html" in keys(s3)


def test_nothing_is_deleted_after_a_failed_upload_and_a_rerun_finishes_the_job(s3, site):
    publish(s3, site)
    (site / "genindex.html").unlink()
    (site / "_static" / "new.js").write_text("new")
    allow = deny(s3, "PutObject", keys=["_static/new.js"])
    report = publish(s3, site, delete=True)
    assert not report.ok and report.deleted == []
    assert [relkey for relkey, _ in report.failed] == ["_static/new.js"]
    assert "access denied" in report.failed[0][1]
    assert "x/genindex.html" in keys(s3, "x/")
    allow()
    report = publish(s3, site, delete=True)
    assert report.ok and report.uploaded == ["_static/new.js"] and report.deleted == ["genindex.html"]


def test_pages_are_held_back_when_an_asset_fails(s3, site):
    (site / "index.html").write_text("changed")
    allow = deny(s3, "PutObject", keys=["_static/pygments.css"])
    report = publish(s3, site)
    assert [relkey for relkey, _ in report.failed] == ["_static/pygments.css"]
    assert sorted(report.held_back) == ["api/module.html", "genindex.html", "index.html"]
    assert not any(key.endswith(".html") for key in keys(s3, "x/"))
    allow()
    assert publish(s3, site).ok


def test_large_file_is_uploaded_multipart_with_matching_bytes_and_checksum(s3, tmp_path, calls):
    source = tmp_path / "big"
    source.mkdir()
    data = os.urandom(1024 * 1024) * 64
    (source / "manual.pdf").write_bytes(data)
    report = publish(s3, source, multipart_threshold=16 * 1024 * 1024)
    assert report.ok and report.bytes_uploaded == len(data)
    assert calls.count("CreateMultipartUpload") == 1 and calls.count("UploadPart") >= 4
    head = s3.head_object(Bucket=BUCKET, Key="x/manual.pdf")
    assert "-" in head["ETag"] and head["ContentType"] == "application/pdf"
    assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    body = s3.get_object(Bucket=BUCKET, Key="x/manual.pdf")["Body"]
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(1024 * 1024):
        digest.update(chunk)
    assert digest.hexdigest() == head["Metadata"]["sha256"]
    calls.clear()
    assert publish(s3, source).uploaded == [] and calls.count("CreateMultipartUpload") == 0


def test_multipart_object_without_manifest_is_compared_by_its_checksum_metadata(s3, tmp_path):
    source = write_tree(tmp_path / "big", {"data.zip": b"z" * (6 * 1024 * 1024)})
    publish(s3, source, multipart_threshold=5 * 1024 * 1024)
    s3.delete_object(Bucket=BUCKET, Key=f"x/{MANIFEST_NAME}")
    report = publish(s3, source, multipart_threshold=5 * 1024 * 1024)
    assert report.uploaded == [] and report.heads == 1


def test_symlinks_inside_the_folder_are_followed(s3, tmp_path):
    source = write_tree(tmp_path / "src", {"index.html": "home", "_shared/jquery.js": "jq", "_shared/sub/util.js": "u"})
    (source / "jquery.js").symlink_to(source / "_shared" / "jquery.js")
    (source / "js").symlink_to("_shared", target_is_directory=True)
    (source / "more").mkdir()
    (source / "more" / "js").symlink_to(source / "_shared", target_is_directory=True)
    report = publish(s3, source)
    assert report.ok
    assert keys(s3, "x/") == [
        "x/_shared/jquery.js", "x/_shared/sub/util.js", "x/index.html", "x/jquery.js",
        "x/js/jquery.js", "x/js/sub/util.js", "x/more/js/jquery.js", "x/more/js/sub/util.js",
    ]
    assert s3.get_object(Bucket=BUCKET, Key="x/js/sub/util.js")["Body"].read() == b"u"


@pytest.mark.parametrize("make_link", [
    lambda source, secret: (source / "_static" / "app.js").symlink_to(secret / "token"),
    lambda source, secret: (source / "_static" / "app.js").symlink_to("../../secret/token"),
    lambda source, secret: (source / "etc").symlink_to(secret, target_is_directory=True),
    lambda source, secret: (source / "_static" / "up").symlink_to("..", target_is_directory=True)
    or (source / "_static" / "leak.js").symlink_to("up/../secret/token"),
])
def test_a_symlink_leaving_the_folder_stops_the_publish_before_anything_is_uploaded(s3, tmp_path, make_link):
    secret = write_tree(tmp_path / "secret", {"token": "s3cr3t"})
    source = write_tree(tmp_path / "src", {"index.html": "home", "_static/a.css": "a", "guide/b.html": "b"})
    make_link(source, secret)
    with pytest.raises(PublishError, match="lead outside it, and nothing was published"):
        publish(s3, source)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_cli_names_the_links_that_leave_the_folder_and_uploads_nothing(cli, site, s3, tmp_path):
    (site / "_static" / "key.pem").symlink_to("/etc/hostname")
    result = cli(site, "--prefix", "/p/1.0")
    assert result.exit_code == 1
    assert "_static/key.pem" in result.output and "lead outside it" in result.output
    assert "Traceback" not in result.output
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_symlink_loop_is_reported_not_followed_forever(s3, tmp_path):
    source = write_tree(tmp_path / "src", {"index.html": "home", "a/page.html": "p"})
    (source / "a" / "up").symlink_to(source, target_is_directory=True)
    report = publish(s3, source)
    assert [relkey for relkey, _ in report.failed] == ["a/up"]
    assert "loop" in report.failed[0][1]


def test_hidden_files_are_skipped_unless_asked_for(s3, tmp_path):
    source = write_tree(
        tmp_path / "src", {"index.html": "home", ".buildinfo": "x", ".git/config": "x", "_static/.DS_Store": "x"}
    )
    publish(s3, source)
    assert keys(s3, "x/") == ["x/index.html"]
    publish(s3, source, include_hidden=True)
    assert keys(s3, "x/") == ["x/.buildinfo", "x/.git/config", "x/_static/.DS_Store", "x/index.html"]


def test_dry_run_changes_nothing(s3, site, calls):
    publish(s3, site)
    (site / "genindex.html").unlink()
    (site / "new.html").write_text("new")
    calls.clear()
    report = publish(s3, site, delete=True, dry_run=True)
    assert [item.relkey for item in report.plan.uploads] == ["new.html"]
    assert report.plan.deletes == ["genindex.html"]
    assert calls.count("PutObject") == calls.count("DeleteObjects") == 0
    assert "x/genindex.html" in keys(s3, "x/") and "x/new.html" not in keys(s3, "x/")


@pytest.fixture
def cli(app):
    """Run ``flask docs publish ARGS`` in-process; return the click result."""
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["docs", "publish", *map(str, args)])


def test_cli_publishes_and_prints_the_steps_and_a_summary(cli, site, s3):
    result = cli(site, "--prefix", "/project/1.0")
    assert result.exit_code == 0, result.output
    assert "Uploading 20 files" in result.output
    assert f"Published to s3://{BUCKET}/project/1.0/: 20 uploaded, 0 unchanged, 0 deleted" in result.output
    result = cli(site, "--prefix", "project/1.0/")
    assert "0 uploaded, 20 unchanged, 0 deleted, 0 B in" in result.output


def test_cli_dry_run_prints_what_would_happen(cli, site, s3):
    result = cli(site, "--dry-run", "--delete")
    assert result.exit_code == 0
    assert "would upload index.html  (text/html; charset=utf-8; no-cache)" in result.output
    assert "Dry run for s3://docs-bucket/: 20 to upload" in result.output and keys(s3) == []


@pytest.mark.parametrize(
    "make_args, code, message",
    [
        (lambda tmp: [tmp / "missing"], 2, "Directory"),
        (lambda tmp: [tmp], 2, "contains no files to publish"),
        (lambda tmp: [write_tree(tmp / "h", {".nojekyll": ""})], 2, "--include-hidden"),
        (lambda tmp: [write_tree(tmp / "s", {"a.html": "a"}), "--prefix", "../up"], 2, "'..' segment"),
        (lambda tmp: [write_tree(tmp / "s", {"a.html": "a"}), "--jobs", "0"], 2, "--jobs"),
        (lambda tmp: [write_tree(tmp / "s", {"a.html": "a"}), "--delete"], 2, "--prefix / if the whole bucket"),
        (lambda tmp: [write_tree(tmp / "s", {"a.html": "a"}), "--project", "p", "--version", "1.0", "--repo", "javascript:alert(1)"], 2, "http:// or https://"),
        (lambda tmp: [write_tree(tmp / "s", {"a.html": "a"}), "--project", "p", "--version", "1.0", "--repo", "data:text/html,x"], 2, "http:// or https://"),
    ],
)
def test_cli_refuses_bad_arguments_with_exit_2(cli, tmp_path, make_args, code, message):
    result = cli(*make_args(tmp_path))
    assert result.exit_code == code and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("app_config", [{"S3_BUCKET": "no-such-bucket", "S3_REGION": "us-east-1"}])
def test_cli_unknown_bucket_exits_1_with_a_clear_message(cli, site):
    result = cli(site)
    assert result.exit_code == 1
    assert "Error: bucket 'no-such-bucket' does not exist" in result.output


def test_cli_access_denied_exits_1_with_a_clear_message(cli, site, app):
    deny(app.extensions["s3"], "ListObjectsV2")
    result = cli(site)
    assert result.exit_code == 1
    assert "Error: access denied listing s3://docs-bucket/" in result.output


def test_cli_failed_files_are_listed_and_exit_1(cli, site, app):
    (site / "_static" / "gone.js").symlink_to(site / "nowhere.js")
    deny(app.extensions["s3"], "PutObject", keys=["_static/pygments.css"])
    result = cli(site, "--delete", "--prefix", "/")
    assert result.exit_code == 1
    assert "  _static/gone.js: broken symlink" in result.output
    assert "  _static/pygments.css: access denied" in result.output
    assert "  index.html: held back because an asset failed" in result.output
    assert "nothing was deleted" in result.output and "run the same command again" in result.output


def test_cli_unreadable_file_is_listed(cli, site, monkeypatch):
    from app.publishing import run as publish_run

    checksum = publish_run.checksum_file

    def unreadable(path):
        # chmod 000 does not stop root, who runs these tests in CI images.
        if path.endswith("searchindex.js"):
            raise PermissionError(13, "Permission denied", path)
        return checksum(path)

    monkeypatch.setattr(publish_run, "checksum_file", unreadable)
    result = cli(site)
    assert result.exit_code == 1 and "  searchindex.js: Permission denied" in result.output


def test_cli_unreachable_endpoint_and_missing_credentials_exit_1(tmp_path, monkeypatch):
    from app import create_app

    site = write_tree(tmp_path / "s", {"a.html": "a"})
    config = {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "S3_MAX_ATTEMPTS": 1, "S3_CONNECT_TIMEOUT": 1,
              "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    runner = create_app(config).test_cli_runner()
    result = runner.invoke(args=["docs", "publish", str(site)])
    assert result.exit_code == 1 and "Error: cannot reach S3 at http://127.0.0.1:" in result.output
    for name in FAKE_CREDENTIALS:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    runner = create_app(config).test_cli_runner()
    result = runner.invoke(args=["docs", "publish", str(site)])
    assert result.exit_code == 1 and "Error: no AWS credentials found" in result.output


def test_published_site_is_served_by_the_proxy_with_the_right_types(cli, client, site):
    assert cli(site, "--prefix", "site/").exit_code == 0
    for relpath, (content_type, cache_control) in EXPECTED_HEADERS.items():
        with client.get(f"/docs/site/{relpath}") as response:
            assert response.status_code == 200, relpath
            assert response.headers["Content-Type"] == content_type, relpath
            assert response.headers["Cache-Control"] == cache_control, relpath
            assert response.get_data() == (site / relpath).read_bytes()
    with client.get("/docs/site/") as response:
        assert response.status_code == 200 and b"Home" in response.data


def test_flask_command_line_publishes_to_a_real_endpoint(moto_server, server_s3, site):
    server_s3.create_bucket(Bucket="cli-bucket")
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": "cli-bucket", "S3_ENDPOINT_URL": moto_server,
           "S3_ADDRESSING_STYLE": "path"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(site), "--prefix", "p/"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "20 uploaded" in result.stdout and "Listing s3://cli-bucket/p/" in result.stderr
    head = server_s3.head_object(Bucket="cli-bucket", Key="p/assets/main-BxK3fA9d.js")
    assert (head["ContentType"], head["CacheControl"]) == EXPECTED_HEADERS["assets/main-BxK3fA9d.js"]


def test_cli_client_pool_holds_every_connection_the_jobs_can_open(app):
    from app.publishing.cli import publish_client

    with app.app_context():
        assert publish_client(PublishOptions(jobs=8, multipart_concurrency=4)) is app.extensions["s3"]
        wide = publish_client(PublishOptions(jobs=64, multipart_concurrency=4))
        assert wide.meta.config.max_pool_connections == 256


def test_cli_delete_at_the_bucket_root_needs_an_explicit_slash_prefix(cli, tmp_path, s3):
    s3.put_object(Bucket=BUCKET, Key="other-project/index.html", Body=b"keep me")
    source = write_tree(tmp_path / "s", {"index.html": "new"})
    refused = cli(source, "--delete")
    assert refused.exit_code == 2
    assert keys(s3) == ["other-project/index.html"]
    confirmed = cli(source, "--delete", "--prefix", "/")
    assert confirmed.exit_code == 0, confirmed.output
    assert "index.html" in keys(s3) and "other-project/index.html" not in keys(s3)


def run_flask(args, environ):
    """Run ``flask --app wsgi ARGS`` from the repository root with only ``environ`` configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DOCS_", "AWS_", "FLASK_"))}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    return subprocess.run(command, cwd=ROOT, env={**env, **environ}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args, environ",
    [(["docs", "--help"], {}), (["docs", "publish", "--help"], {"S3_BUCKET": "b", "S3_MAX_ATTEMPTS": "abc"})],
    ids=["unconfigured", "bad"],
)
def test_cli_help_works_without_a_valid_configuration(args, environ):
    result = run_flask(args, environ)
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout
    assert "publish" in result.stdout


@pytest.mark.parametrize(
    "environ, message",
    [
        ({}, "Error: configuration error: S3_BUCKET is not set"),
        ({"S3_BUCKET": "b", "S3_MAX_ATTEMPTS": "abc"}, "Error: configuration error: S3_MAX_ATTEMPTS='abc' is not an integer"),
    ],
)
def test_cli_command_without_a_valid_configuration_exits_1_naming_the_variable(tmp_path, environ, message):
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    result = run_flask(["docs", "publish", str(tmp_path), "--prefix", "p/"], environ)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
