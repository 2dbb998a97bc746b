"""Publish's search step: the search document written beside the site, kept, not rewritten, never half-true."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from app.publishing import run
from app.search.document import SEARCH_DOCUMENT, decode_document
from tests.conftest import BUCKET
from tests.search.conftest import write_site
from tests.servers import ROOT

KEY = f"sphinx/1.0/{SEARCH_DOCUMENT}"


def read_document(s3, key=KEY):
    response = s3.get_object(Bucket=BUCKET, Key=key)
    return response, decode_document(response["Body"].read())


def test_publish_writes_a_gzip_search_document_of_every_page(publish, built_sites, s3):
    publish(built_sites["sphinx"], "sphinx", "1.0")

    response, pages = read_document(s3)
    assert response["ContentEncoding"] == "gzip"
    assert response["ContentType"] == "application/json"
    assert sorted(page["path"] for page in pages) == [
        "guide/advanced/index.html", "guide/index.html", "guide/install.html", "guide/usage.html", "index.html",
        "reference.html",
    ]
    advanced = next(page for page in pages if page["path"] == "guide/advanced/index.html")
    assert [section[0] for section in advanced["sections"]] == ["advanced-topics", "tuning-the-worker-pool"]


def test_an_unchanged_republish_does_not_rewrite_the_search_document(app, publish, tmp_path, s3, bucket):
    site = write_site(tmp_path / "site", {"index.html": ("Home", [("a", "A", "alpha")])})
    publish(site, "sphinx", "1.0")
    calls = bucket.calls(app.extensions["s3"])

    publish(site, "sphinx", "1.0")
    (site / "index.html").write_text((site / "index.html").read_text().replace("alpha", "omega"))
    publish(site, "sphinx", "1.0")

    assert calls.count(("PutObject", KEY)) == 1
    assert "omega" in read_document(s3)[1][0]["sections"][1][3]


def test_an_incremental_publish_still_indexes_the_pages_it_did_not_upload(publish, tmp_path, s3):
    site = write_site(tmp_path / "site", {"a.html": ("A", [("x", "X", "first")]), "b.html": ("B", [("y", "Y", "second")])})
    publish(site, "sphinx", "1.0")
    (site / "b.html").write_text((site / "b.html").read_text().replace("second", "changed"))

    publish(site, "sphinx", "1.0")

    assert [page["path"] for page in read_document(s3)[1]] == ["a.html", "b.html"]


def test_delete_keeps_the_search_document_and_drops_deleted_pages_from_it(publish, tmp_path, s3):
    site = write_site(tmp_path / "site", {"a.html": ("A", []), "b.html": ("B", [])})
    publish(site, "sphinx", "1.0")
    (site / "b.html").unlink()

    publish(site, "sphinx", "1.0", "--delete")

    assert [page["path"] for page in read_document(s3)[1]] == ["a.html"]


def test_a_dry_run_writes_no_search_document(publish, tmp_path, s3):
    publish(write_site(tmp_path / "site", {"a.html": ("A", [])}), "sphinx", "1.0", "--dry-run")

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="sphinx/1.0/")


def test_a_publish_with_a_failed_page_writes_no_search_document(app, tmp_path, s3, monkeypatch):
    upload = run.upload_file

    def failing(s3, bucket, key, local, options, progress):
        if key.endswith("b.html"):
            raise OSError(5, "Input/output error")
        return upload(s3, bucket, key, local, options, progress)

    monkeypatch.setattr(run, "upload_file", failing)
    site = write_site(tmp_path / "site", {"a.html": ("A", []), "b.html": ("B", [])})

    result = app.test_cli_runner().invoke(args=["docs", "publish", str(site), "--project", "sphinx", "--version", "1.0"])

    assert result.exit_code != 0
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", ())]
    assert KEY not in keys


def test_a_source_file_with_the_search_document_name_is_not_uploaded(app, tmp_path, s3):
    site = write_site(tmp_path / "site", {"a.html": ("A", [("x", "X", "real")])})
    (site / SEARCH_DOCUMENT).write_text("forged")

    result = app.test_cli_runner().invoke(
        args=["docs", "publish", str(site), "--prefix", "sphinx/1.0/", "--include-hidden"])

    assert result.exit_code != 0
    assert "reserved for the search document" in result.output
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", ())]
    assert KEY not in keys


@pytest.mark.parametrize("name", ["page.html", "guide/index.htm"])
def test_a_page_that_cannot_be_parsed_is_left_out_but_the_publish_succeeds(publish, tmp_path, s3, name, monkeypatch):
    from app.search import entries

    def broken(html):
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(entries, "extract_page", broken)
    site = write_site(tmp_path / "site", {name: ("A", [])})

    publish(site, "sphinx", "1.0")

    assert read_document(s3)[1] == []


def test_a_republish_extracts_only_the_pages_that_changed(publish, tmp_path, s3, monkeypatch):
    from app.search import entries

    site = write_site(tmp_path / "site", {"a.html": ("A", [("x", "X", "first")]), "b.html": ("B", [("y", "Y", "second")])})
    publish(site, "sphinx", "1.0")
    extracted = []
    real = entries.extract_page
    monkeypatch.setattr(entries, "extract_page", lambda html: extracted.append(html) or real(html))
    (site / "b.html").write_text((site / "b.html").read_text().replace("second", "changed"))

    publish(site, "sphinx", "1.0")

    assert len(extracted) == 1 and b"changed" in extracted[0]
    pages = read_document(s3)[1]
    assert [page["sections"][1][3] for page in pages] == ["first", "changed"]


def test_past_the_first_pages_extraction_runs_in_worker_processes_with_the_same_result(
        publish, built_sites, s3, monkeypatch):
    from app.search import publish as search_publish

    spawned = []
    original = search_publish.ProcessPoolExecutor
    monkeypatch.setattr(search_publish, "IN_PROCESS_PAGES", 2)
    monkeypatch.setattr(search_publish, "ProcessPoolExecutor", lambda **kw: spawned.append(kw) or original(**kw))
    monkeypatch.setattr(search_publish.os, "cpu_count", lambda: 2)

    publish(built_sites["sphinx"], "sphinx", "1.0")

    assert len(spawned) == 1
    _, pages = read_document(s3)
    advanced = next(page for page in pages if page["path"] == "guide/advanced/index.html")
    assert [section[0] for section in advanced["sections"]] == ["advanced-topics", "tuning-the-worker-pool"]
    assert len(pages) == 6


def test_when_the_extraction_process_dies_the_pages_are_extracted_in_the_publish_process(
        publish, built_sites, s3, monkeypatch, caplog):
    from app.search import publish as search_publish

    original = search_publish.ProcessPoolExecutor
    monkeypatch.setattr(search_publish, "IN_PROCESS_PAGES", 2)
    monkeypatch.setattr(search_publish, "CHUNK_PAGES", 2)
    # The process dies as it starts, before it extracts anything.
    monkeypatch.setattr(search_publish, "ProcessPoolExecutor",
                        lambda **kw: original(**{**kw, "initializer": os.abort, "initargs": ()}))
    monkeypatch.setattr(search_publish.os, "cpu_count", lambda: 2)

    publish(built_sites["sphinx"], "sphinx", "1.0")

    assert "the extraction process stopped" in caplog.text
    _, pages = read_document(s3)
    assert len(pages) == 6
    advanced = next(page for page in pages if page["path"] == "guide/advanced/index.html")
    assert [section[0] for section in advanced["sections"]] == ["advanced-topics", "tuning-the-worker-pool"]


def test_a_file_the_extraction_process_cannot_read_costs_only_its_own_entry(tmp_path):
    from app.search.entries import extract_files

    (tmp_path / "a.html").write_text("<html><head><title>A</title></head><body><h1 id='a'>A</h1><p>alpha</p></body></html>")

    results = extract_files([("a.html", str(tmp_path / "a.html"), "1"), ("gone.html", str(tmp_path / "gone.html"), "2")])

    assert results[0][0]["title"] == "A" and results[0][0]["sha256"] == "1" and results[0][1] is None
    assert results[1][0] is None and results[1][1].startswith("FileNotFoundError")


def test_a_publish_that_fails_stops_its_extraction_process(app, built_sites, s3, monkeypatch):
    import multiprocessing

    from botocore.exceptions import ClientError

    from app.search import publish as search_publish

    monkeypatch.setattr(search_publish, "IN_PROCESS_PAGES", 2)
    monkeypatch.setattr(search_publish.os, "cpu_count", lambda: 2)
    real_upload = run.upload_file

    def upload_failing_one_page(s3_client, bucket, key, local, *args):
        if local.relkey == "guide/usage.html":
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "PutObject")
        return real_upload(s3_client, bucket, key, local, *args)

    monkeypatch.setattr(run, "upload_file", upload_failing_one_page)
    # Held, as a logged traceback's frames would hold it: the process must stop because the publish
    # stops it, not because the run was garbage-collected.
    runs = []
    real_begin = search_publish.SearchIndexer.begin
    monkeypatch.setattr(search_publish.SearchIndexer, "begin",
                        lambda self, *args: runs.append(real_begin(self, *args)) or runs[-1])

    result = app.test_cli_runner().invoke(
        args=["docs", "publish", str(built_sites["sphinx"]), "--project", "sphinx", "--version", "1.0"])

    assert result.exit_code != 0
    assert "guide/usage.html" in result.output
    deadline = time.monotonic() + 15  # told to stop, it exits on its own (shutdown without waiting)
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert multiprocessing.active_children() == []
    assert len(runs) == 1
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", ())]
    assert KEY not in keys  # no search document for a version that did not land


# A publish of 60 pages on disk in a process of its own; it prints the extraction process's pid (or null).
PUBLISH_PAGES = """
import json, os, sys, time
{patch}
from app.publishing.policy import LocalFile
from app.search.publish import SearchIndexRun

folder = sys.argv[1]
pages = []
for number in range(60):
    path = os.path.join(folder, f"page{{number}}.html")
    with open(path, "w") as file:
        file.write(f"<html><body><div role=main><h1 id=p{{number}}>Page {{number}}</h1><p>text</p></div></body></html>")
    pages.append(LocalFile(f"page{{number}}.html", path, 0, str(number), "", "text/html", ""))
run = SearchIndexRun(None, "bucket", "p/1.0/", {{}}, {{}})
run.start(pages)
entries = [run.page(page) for page in pages]
process = run._process
print(json.dumps({{"pid": next(iter(process._processes)) if process else None,
                  "titles": sum(1 for entry in entries if entry and entry["title"].startswith("Page"))}}), flush=True)
{after}
"""


def test_in_a_gevent_worker_pages_are_extracted_without_a_process_pool(tmp_path):
    # The upload API under the gevent engine: a pool's feeder would be a greenlet, and could freeze the worker.
    script = PUBLISH_PAGES.format(patch="from gevent import monkey; monkey.patch_all()", after="")

    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"pid": None, "titles": 60}


def test_the_extraction_process_dies_with_a_publish_that_is_killed(tmp_path):
    script = PUBLISH_PAGES.format(patch="", after="time.sleep(600)")
    publish = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                               text=True)
    try:
        printed = json.loads(publish.stdout.readline())
        assert printed["titles"] == 60 and printed["pid"] is not None
        publish.kill()  # as the OOM killer or a worker's timeout would
        publish.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(printed["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(printed["pid"], signal.SIGKILL)
            pytest.fail("the extraction process outlived the publish that started it")
    finally:
        publish.kill()
        publish.wait(10)
