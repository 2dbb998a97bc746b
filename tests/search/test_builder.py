"""The builder process: it builds the host index from S3 holding the host lock alone, and the worker never waits on it.

Each test starts real processes (``python -m app.search.builder``, or a stand-in that hangs or
crashes) against moto's server, through a ``HostIndex`` as a worker holds it.
"""

import contextlib
import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
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

# S3 settings under which a builder waits a minute for a stuck S3 before giving up by itself.
PATIENT = {"S3_READ_TIMEOUT": 60.0, "S3_FIRST_BYTE_DEADLINE": 60.0, "S3_MAX_ATTEMPTS": 1}
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


def children(pid="self"):
    """Return ``{pid: state}`` of the children of process ``pid`` (every thread's; threads and children come and go)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            pids = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in pids:
            try:
                found[int(child)] = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
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


@contextlib.contextmanager
def silent_s3():
    """Yield the URL of an endpoint that accepts every connection and never answers (a stuck S3)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held = []

    def accept():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in held:
            connection.close()


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
    before = set(children())
    with silent_s3() as endpoint:
        host = worker(tmp_path, s3_settings(endpoint, "stuck", **PATIENT), timeout=1.0, build_wait=0.3)
        with caplog.at_level(logging.ERROR, logger="app.search.builder"):
            assert host.index(sources(), "c1") is None
            wait_for(lambda: not host._building)

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


WORKER = """
import json, sys, time
from app.search.builder import ProcessBuilder
from app.search.engine import Source
from app.search.service import HostIndex

directory, settings = sys.argv[1], json.loads(sys.argv[2])
host = HostIndex(directory, ProcessBuilder(directory, settings, 60.0), build_wait=0)
host.index((Source("p", "1.0", "p/1.0/.docs-search.json", "1"),), "c1")
print("started", flush=True)
time.sleep(60)
"""


def test_a_builder_dies_with_the_worker_that_started_it_and_frees_the_lock(aws_credentials, real_server, tmp_path):
    from tests.servers import ROOT

    with silent_s3() as endpoint:  # the builder waits on it, well inside its own 60 s bound
        worker_was_killed_mid_build(tmp_path, s3_settings(endpoint, "stuck", **PATIENT), ROOT)


def worker_was_killed_mid_build(tmp_path, settings, root):
    worker_process = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), json.dumps(settings)],
                                      cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert worker_process.stdout.readline().strip() == "started"
        (builder,) = wait_for(lambda: children(worker_process.pid))
        # Mid-build: it has read its job and is loading (its file is there), holding the lock.
        wait_for(lambda: (tmp_path / f"{INDEX_FILE}.{builder}.building").exists())
        assert opens(builder, tmp_path / LOCK_FILE) and not is_lock_free(tmp_path)

        worker_process.kill()  # a worker killed (gunicorn's timeout, OOM): no handler of its own runs
        worker_process.wait(10)

        # (A dying process's threads end one by one: its files, the lock's among them, close with the last.)
        wait_for(lambda: not is_running(builder) and is_lock_free(tmp_path), seconds=10)
    finally:
        worker_process.kill()
        worker_process.wait(10)


def is_running(pid):
    """Tell whether ``pid`` is a live process (not gone, not a zombie waiting for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
