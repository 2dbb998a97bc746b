"""The builder process: it builds the host index from S3 holding the host lock alone, and the worker never waits on it.

Each test starts real processes (``python -m app.search.builder``, or a stand-in that hangs or
crashes) against moto's server, through a ``HostIndex`` as a worker holds it.
"""

import fcntl
import logging
import os
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from app.search import builder as builder_module
from app.search.builder import ProcessBuilder
from app.search.document import encode_document
from app.search.engine import Source
from app.search.query import parse_query
from app.search.service import INDEX_FILE, LOCK_FILE, HostIndex

ENTRIES = [{"path": "index.html", "title": "Home", "sections": [["", "", 0, "hello wombat", ""]]}]


def s3_settings(endpoint, bucket, **overrides):
    """The S3 part of a builder's job, as ``builder_settings`` takes it from an app's config."""
    from app import s3

    settings = {setting.name: setting.default for setting in s3.SETTINGS}
    settings.update({"S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint, "S3_REGION": "us-east-1",
                     "S3_ADDRESSING_STYLE": "path", **overrides})
    return {"s3": settings, "log_format": "text"}


def worker(directory, settings, timeout=60.0, command=builder_module.COMMAND, build_wait=30.0):
    """A worker's ``HostIndex`` whose builds are processes of their own."""
    return HostIndex(str(directory), ProcessBuilder(str(directory), settings, timeout, command), build_wait=build_wait)


def sources(bucket_stamp="1"):
    return (Source("p", "1.0", "p/1.0/.docs-search.json", bucket_stamp),)


@pytest.fixture
def bucket(aws_credentials, server_s3):
    """A bucket on moto's server holding the search document of ``p/1.0``."""
    name = f"builder-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    server_s3.put_object(Bucket=name, Key="p/1.0/.docs-search.json", Body=encode_document(ENTRIES))
    return name


def children():
    """Return ``{pid: state}`` of this process's children (every thread's)."""
    found = {}
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                found[int(pid)] = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except FileNotFoundError:
                pass
    return found


def opens(pid, path):
    """Tell whether process ``pid`` has ``path`` open."""
    fds = Path(f"/proc/{pid}/fd")
    return any(os.path.realpath(fd) == os.path.realpath(path) for fd in fds.iterdir() if fd.exists())


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def is_lock_free(directory):
    lock = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(lock)


def test_a_builder_process_builds_the_index_from_s3_holding_the_lock_alone_while_the_worker_answers(
        bucket, moto_server, server_s3, tmp_path):
    before = set(children())
    host = worker(tmp_path, s3_settings(moto_server, bucket))
    first = host.index(sources("1"), "c1")  # the host's first search waits for the first build
    assert first.search(parse_query("wombat")).total == 1
    wait_for(lambda: host.builds == 1 and not children().keys() - before)  # the builder said so, exited, reaped

    server_s3.put_object(Bucket=bucket, Key="p/1.0/.docs-search.json", Body=encode_document(
        [{**ENTRIES[0], "sections": [["", "", 0, "hello numbat", ""]]}]))
    started = time.monotonic()
    during = host.index(sources("2"), "c2")
    returned = time.monotonic() - started
    (builder,) = wait_for(lambda: set(children()) - before)

    assert during is first and returned < 0.5  # the old index, at once: the worker does not wait on the build
    assert not is_lock_free(tmp_path)
    wait_for(lambda: not opens(os.getpid(), tmp_path / LOCK_FILE))  # the worker closes its copy once the builder runs
    assert opens(builder, tmp_path / LOCK_FILE) and not is_lock_free(tmp_path)
    after = wait_for(lambda: (index := host.index(sources("2"), "c2")) is not first and index)
    assert after.search(parse_query("numbat")).total == 1
    wait_for(lambda: host.builds == 2 and builder not in children())  # reaped: no zombie left
    assert is_lock_free(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [LOCK_FILE, INDEX_FILE]


def test_a_builder_stuck_on_s3_stops_at_its_timeout_is_logged_and_leaves_no_file(
        aws_credentials, real_server, tmp_path, caplog):
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
    before = set(children())
    try:
        host = worker(tmp_path, s3_settings(endpoint, "stuck"), timeout=1.0, build_wait=0.3)
        with caplog.at_level(logging.ERROR, logger="app.search.builder"):
            assert host.index(sources(), "c1") is None
            wait_for(lambda: not host._building)
    finally:
        silent.close()

    assert "ran past DOCS_SEARCH_BUILD_TIMEOUT (1 s) and stopped" in caplog.text
    assert is_lock_free(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [LOCK_FILE]  # its half-written .building file removed
    assert set(children()) <= before  # reaped
    assert host._retry_at > time.monotonic()  # tried again later, not at once


@pytest.mark.parametrize(("command", "reason"), [
    ([sys.executable, "-c", "import time; time.sleep(60)"], "ran past DOCS_SEARCH_BUILD_TIMEOUT (0.5 s) and was killed"),
    ([sys.executable, "-c", "raise SystemExit(3)"], "exited with status 3"),
    ([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"], "was killed by SIGSEGV"),
])
def test_a_builder_that_hangs_or_crashes_is_logged_reaped_and_its_lock_freed(
        real_server, tmp_path, caplog, monkeypatch, command, reason):
    monkeypatch.setattr(builder_module, "KILL_GRACE_SECONDS", 0.5)
    before = set(children())
    host = worker(tmp_path, s3_settings("http://127.0.0.1:9", "none"), timeout=0.5, command=command, build_wait=0.2)

    with caplog.at_level(logging.ERROR, logger="app.search.builder"):
        started = time.monotonic()
        assert host.index(sources(), "c1") is None
        assert time.monotonic() - started < 1.0  # the first search waited build_wait, not the builder
        wait_for(lambda: not host._building)

    assert reason in caplog.text and "the previous index keeps answering" in caplog.text
    assert is_lock_free(tmp_path)
    assert set(children()) <= before
    assert host.builds == 0 and host._retry_at > time.monotonic()
