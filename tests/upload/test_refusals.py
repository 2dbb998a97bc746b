"""Every bad upload is refused with a 4xx and a reason, and leaves the bucket exactly as it was."""

import io
import socket
import tarfile
import threading
import time
import zipfile

import pytest
import requests

from tests.upload.conftest import make_tar, make_zip, page

GOOD = {f"page{number}.html": page(f"Page {number}") for number in range(3)}


def special(name, kind, size=0, linkname=""):
    """Return a tar member of an unusual type."""
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, linkname
    return info


def raw_name_tar(name_bytes):
    """Return a ustar archive whose one member's name is the raw bytes given (a non-UTF-8 name)."""
    info = tarfile.TarInfo("placeholder")
    info.size = 2
    header = bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))
    header[0:100] = name_bytes.ljust(100, b"\0")
    header[148:156] = b" " * 8
    checksum = sum(header)
    header[148:156] = b"%06o\0 " % checksum
    body = bytes(header) + b"hi".ljust(512, b"\0") + b"\0" * 1024
    return body


def tar_of(members):
    """Return a tar of ``[(name, bytes)]`` in order, names repeated as given."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_with(name, attributes):
    """Return a zip holding one member ``name`` with Unix mode ``attributes``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = attributes << 16
        archive.writestr(info, b"target")
    return buffer.getvalue()


COMPLETE = make_tar({**GOOD, "last.html": page("Last")})
LAST = tarfile.open(fileobj=io.BytesIO(COMPLETE)).getmembers()[-1]
CASES = {
    "traversal": (make_tar({**GOOD, "../evil.html": b"x"}), "application/x-tar", 400, "'..'"),
    "nested traversal": (make_tar({**GOOD, "a/../../evil.html": b"x"}), "application/x-tar", 400, "'..'"),
    "absolute path": (make_tar({**GOOD, "/etc/cron.d/evil": b"x"}), "application/x-tar", 400, "absolute"),
    "symlink": (make_tar({**GOOD, "link": special("link", tarfile.SYMTYPE, linkname="/etc/passwd")}), "application/x-tar", 400, "link"),
    "hard link": (make_tar({**GOOD, "hard": special("hard", tarfile.LNKTYPE, linkname="page0.html")}), "application/x-tar", 400, "link"),
    "character device": (make_tar({**GOOD, "dev": special("dev", tarfile.CHRTYPE)}), "application/x-tar", 400, "device"),
    "fifo": (make_tar({**GOOD, "fifo": special("fifo", tarfile.FIFOTYPE)}), "application/x-tar", 400, "FIFO"),
    "duplicate": (tar_of([("page0.html", b"one"), ("page1.html", b"x"), ("page0.html", b"again")]), "application/x-tar", 400, "twice"),
    "duplicate after ./": (make_tar({**GOOD, "./page1.html": b"again"}), "application/x-tar", 400, "twice"),
    "non-UTF-8 name": (raw_name_tar(b"caf\xe9.html"), "application/x-tar", 400, "UTF-8"),
    "reserved name": (make_tar({**GOOD, ".docs-portal.json": b"{}"}), "application/x-tar", 400, "own records"),
    "too many files": (make_tar({f"f{number}.html": b"x" for number in range(8)}), "application/x-tar", 413, "DOCS_UPLOAD_MAX_FILES"),
    "too many bytes": (make_tar({**GOOD, "big.bin": b"\0" * 300_000}), "application/x-tar", 413, "DOCS_UPLOAD_MAX_BYTES"),
    "gzip bomb": (make_tar({"bomb.bin": b"\0" * 400_000}, "gz"), "application/gzip", 413, "DOCS_UPLOAD_MAX_BYTES"),
    "cut inside a member": (COMPLETE[: LAST.offset_data + 50], "application/x-tar", 400, "cut short"),
    "cut between members": (COMPLETE[: LAST.offset], "application/x-tar", 400, "end-of-archive"),
    "cut gzip": (make_tar({**GOOD, "big.bin": bytes(range(256)) * 400}, "gz")[:-4000], "application/gzip", 400, "complete"),
    "not a tar": (b"<html>hello</html>" * 100, "application/x-tar", 400, "not a complete tar"),
    "not a zip": (make_tar(GOOD), "application/zip", 400, "not a complete zip"),
    "cut zip": (make_zip(GOOD)[:-30], "application/zip", 400, "not a complete zip"),
    "zip traversal": (make_zip({**GOOD, "../evil.html": b"x"}), "application/zip", 400, "'..'"),
    "zip symlink": (zip_with("link", 0o120777), "application/zip", 400, "link"),
    "zip device": (zip_with("dev", 0o020644), "application/zip", 400, "device"),
    "wrong content type": (make_tar(GOOD), "text/html", 415, "not an archive"),
    "no content type": (make_tar(GOOD), "", 415, "not an archive"),
    "empty archive": (make_tar({}), "application/x-tar", 400, "no files"),
    "bad _redirects": (make_tar({**GOOD, "_redirects": b"/a /b 302\n"}), "application/x-tar", 400, "_redirects line 1"),
    "too large a body": (b"\0" * 600_000, "application/zip", 413, "DOCS_UPLOAD_MAX_BYTES"),
}


@pytest.fixture(scope="module")
def strict(moto_server, server_s3, credentials, tmp_path_factory):
    """A site with small limits, one published version to keep intact, and a token."""
    from tests.upload.conftest import Site

    site = Site(moto_server, server_s3, tmp_path_factory.mktemp("strict") / "gunicorn.log",
                {"DOCS_UPLOAD_MAX_FILES": 6, "DOCS_UPLOAD_MAX_BYTES": 250_000})
    site.upload_token = site.token(projects=("*",), actions=("publish", "preview"))
    assert site.put("kept", "1.0.0", make_tar(GOOD), site.upload_token).status_code == 201
    yield site
    site.stop()


def snapshot(site):
    """Return every object's key and ETag, and the multipart uploads under way."""
    return site.keys(), site.pending_multipart()


@pytest.mark.parametrize("case", CASES)
def test_a_bad_archive_is_refused_and_nothing_changes(strict, case):
    body, content_type, status, reason = CASES[case]
    before = snapshot(strict)
    for project, version in (("kept", "1.0.0"), ("fresh", "1.0.0")):
        refused = strict.put(project, version, body, strict.upload_token, content_type)
        assert refused.status_code == status, refused.text
        assert reason in refused.text
        assert snapshot(strict) == before


@pytest.mark.parametrize("version, reason", [
    ("latest", "latest"),
    ("stable", "stable"),
    ("versions.json", "versions.json"),
    ("-1.0", "not a valid"),
])
def test_a_name_the_portal_refuses_is_refused_before_anything_is_sent(strict, version, reason):
    before = snapshot(strict)
    refused = strict.put("kept", version, make_tar(GOOD), strict.upload_token)
    assert refused.status_code in (400, 404), refused.text
    assert snapshot(strict) == before


def test_a_preview_name_and_a_version_name_never_mix(strict):
    before = snapshot(strict)
    clash = strict.put("kept", "1.0.0", make_tar(GOOD), strict.upload_token, kind="previews")
    assert clash.status_code == 409 and "already a published version" in clash.text
    assert snapshot(strict) == before


def send_slowly(url, token, head, tail, started, release):
    """PUT ``head``, signal ``started``, wait for ``release``, then send ``tail``; return the response."""
    def body():
        yield head
        started.set()
        release.wait(60)
        yield tail

    return requests.put(url, data=body(), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-tar"}, timeout=120)


def wait_for(predicate, timeout=30):
    """Poll ``predicate`` until it is true (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_same_version_twice_at_once_one_wins_the_other_gets_409(site):
    token = site.token(projects=("racing",))
    body = make_tar({**GOOD, "big.bin": b"\1" * 2_000_000})
    started, release, results = threading.Event(), threading.Event(), {}
    url = f"{site.url}/_/api/projects/racing/versions/1.0.0"
    first = threading.Thread(target=lambda: results.setdefault("first", send_slowly(url, token, body[:600_000], body[600_000:], started, release)))
    first.start()
    try:
        assert wait_for(lambda: site.keys(".docs-locks/racing/"))
        second = site.put("racing", "1.0.0", make_tar(GOOD), token)
        assert second.status_code == 409 and "another upload of racing 1.0.0" in second.text
        assert site.put("racing", "1.0.1", make_tar(GOOD), token).status_code == 201
    finally:
        release.set()
        first.join(60)
    assert results["first"].status_code == 201, results["first"].text
    assert site.read("racing/1.0.0/big.bin") == b"\1" * 2_000_000
    assert not site.keys(".docs-locks/") and not site.keys(".docs-staging/")


def test_twenty_different_versions_at_once_all_land(site):
    token = site.token(projects=("crowd",))
    results = {}

    def upload(number):
        results[number] = site.put("crowd", f"1.{number}.0", make_tar({"index.html": page(f"Crowd {number}")}), token)

    threads = [threading.Thread(target=upload, args=(number,)) for number in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(response.status_code for response in results.values()) == [201] * 20, [r.text for r in results.values() if r.status_code != 201]
    listed = requests.get(f"{site.url}/_/api/projects/crowd", timeout=10).json()
    assert sorted(version["name"] for version in listed["versions"]) == sorted(f"1.{number}.0" for number in range(20))
    assert listed["versions"][0]["name"] == "1.19.0"


def test_a_cut_upload_leaves_the_old_version_intact_and_cleans_up(site):
    token = site.token(projects=("cut",))
    assert site.put("cut", "1.0.0", make_tar(GOOD), token).status_code == 201
    before = site.keys()
    replacement = make_tar({**GOOD, "page0.html": page("Changed"), "big.bin": b"\2" * 12_000_000})
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=30) as sock:
        sock.sendall(
            b"PUT /_/api/projects/cut/versions/1.0.0 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\nContent-Type: application/x-tar\r\n"
            b"Content-Length: " + str(len(replacement)).encode() + b"\r\n\r\n"
        )
        sock.sendall(replacement[: len(replacement) // 2])
        # Half the large member is staged (a multipart upload under way) when the client goes away.
        assert wait_for(lambda: site.pending_multipart() or site.keys(".docs-staging/"))
    assert wait_for(lambda: not site.keys(".docs-locks/") and not site.pending_multipart() and not site.keys(".docs-staging/"))
    assert site.keys() == before
    assert site.read("cut/1.0.0/page0.html") == GOOD["page0.html"]


def test_a_lock_left_by_a_dead_upload_is_taken_over_after_six_hours(site):
    import json
    from datetime import datetime, timedelta, timezone

    token = site.token(projects=("stale",))
    fresh = {"upload": "someone", "started": datetime.now(timezone.utc).isoformat()}
    site.s3.put_object(Bucket=site.bucket, Key=".docs-locks/stale/1.0.0", Body=json.dumps(fresh).encode())
    assert site.put("stale", "1.0.0", make_tar(GOOD), token).status_code == 409
    dead = {"upload": "dead", "started": (datetime.now(timezone.utc) - timedelta(hours=7)).isoformat()}
    site.s3.put_object(Bucket=site.bucket, Key=".docs-locks/stale/1.0.0", Body=json.dumps(dead).encode())
    assert site.put("stale", "1.0.0", make_tar(GOOD), token).status_code == 201
    assert not site.keys(".docs-locks/stale/")


def test_gc_removes_what_a_dead_upload_left_behind_only_once_it_is_old(site):
    from datetime import datetime, timedelta, timezone

    left = {".docs-staging/20260101T000000-deadbeef0000/index.html": b"x", ".docs-locks/orphan/1.0.0": b"{}"}
    for key, body in left.items():
        site.s3.put_object(Bucket=site.bucket, Key=key, Body=body)
    upload = site.s3.create_multipart_upload(Bucket=site.bucket, Key=".docs-staging/20260101T000000-deadbeef0000/big.bin")
    now = site.cli("gc")
    assert now.exit_code == 0, now.output
    assert set(left) <= set(site.keys())  # (moto dates every multipart upload 2010, so only objects show the age rule)
    later = (datetime.now(timezone.utc) + timedelta(hours=7)).isoformat()
    collected = site.cli("gc", "--now", later)
    assert collected.exit_code == 0, collected.output
    assert not set(left) & set(site.keys())
    assert upload["UploadId"] not in [item["UploadId"] for item in site.pending_multipart()]
