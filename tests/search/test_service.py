"""The host's index: one build per change for every worker of the host, the old index served meanwhile, atomic swaps."""

import fcntl
import os
import threading
import time

import pytest

from app.search.engine import Source
from app.search.query import parse_query
from app.search.service import INDEX_FILE, LOCK_FILE, HostIndex, is_stale
from tests.search.inprocess import ThreadBuilder

ENTRIES = [{"path": "index.html", "title": "Home", "sections": [("", "", 0, "hello world", "")]}]


def sources(stamp="1", project="p"):
    return (Source(project, "1.0", f"{project}/1.0/.docs-search.json", stamp),)


def host_index(directory, load, **kwargs):
    """A worker's ``HostIndex`` on ``directory`` whose builds run in a thread with ``load``."""
    return HostIndex(str(directory), ThreadBuilder(str(directory), load), **kwargs)


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_the_first_request_waits_for_the_build_and_every_worker_then_opens_the_same_file(tmp_path):
    loads = []
    workers = [host_index(tmp_path, lambda source: loads.append(source) or ENTRIES) for _ in range(3)]

    first = workers[0].index(sources(), "c1")
    others = [worker.index(sources(), "c1") for worker in workers[1:]]

    assert first.stats.pages == 1
    assert len(loads) == 1 and sum(worker.builds for worker in workers) == 1
    assert all(index.sources == first.sources for index in others)
    assert sorted(os.listdir(tmp_path)) == sorted([INDEX_FILE, LOCK_FILE])


def test_a_change_is_built_beside_the_old_index_which_answers_meanwhile(tmp_path):
    release = threading.Event()
    load = lambda source: ENTRIES if source.stamp == "1" else (release.wait(10), ENTRIES)[1]  # noqa: E731
    builder, reader = host_index(tmp_path, load), host_index(tmp_path, load)
    old = builder.index(sources("1"), "c1")
    assert reader.index(sources("1"), "c1").sources == old.sources

    during = builder.index(sources("2"), "c2")
    during_reader = reader.index(sources("2"), "c2")  # the lock is taken: no second build
    building = wait_for(lambda: [name for name in os.listdir(tmp_path) if name.endswith(".building")])
    release.set()
    after = wait_for(lambda: (index := reader.index(sources("2"), "c2")) is not old and index.sources == sources("2")
                     and index)

    assert during is old and during_reader.sources == sources("1")
    assert len(building) == 1  # written beside the old file, then renamed over it
    assert after.sources == sources("2") and builder.builds == 2 and reader.builds == 0
    assert old.search(parse_query("hello")).total == 1  # searches holding the old index still run on it


def test_a_worker_whose_catalog_lags_behind_never_rebuilds_the_index_back(tmp_path):
    worker = host_index(tmp_path, lambda source: ENTRIES)
    worker.index(sources("1"), "c1")
    newer = host_index(tmp_path, lambda source: ENTRIES)
    newer.index(sources("2"), "c2")
    current = wait_for(lambda: (index := newer.index(sources("2"), "c2")).sources == sources("2") and index)

    assert not is_stale(current, sources("1"), "c1", time.time())  # c1 is older than c2
    assert is_stale(current, sources("3"), "c3", time.time())


def test_no_build_starts_while_another_process_holds_the_host_lock(tmp_path):
    lock = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        worker = host_index(tmp_path, lambda source: ENTRIES, build_wait=0.3)

        assert worker.index(sources(), "c1") is None
        assert worker.builds == 0 and not os.path.exists(tmp_path / INDEX_FILE)
    finally:
        os.close(lock)


def test_a_failed_build_leaves_no_file_and_is_retried_later(tmp_path, monkeypatch):
    from app.search import service as module

    def broken(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(module, "build_index", broken)
    worker = host_index(tmp_path, lambda source: ENTRIES, build_wait=0.5)

    assert worker.index(sources(), "c1") is None
    assert worker._retry_at > time.monotonic()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".building")]


def test_an_index_file_of_another_schema_is_rebuilt_not_served(tmp_path):
    (tmp_path / INDEX_FILE).write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    worker = host_index(tmp_path, lambda source: ENTRIES)

    index = wait_for(lambda: worker.index(sources(), "c1"))

    assert index.stats.pages == 1


@pytest.mark.parametrize(("failed", "broken", "age", "stale"), [
    ([], [], 60, False), (["x"], [], 5, False), (["x"], [], 60, True),
    # A document that will not decode is tried again rarely: each build copies the whole index file.
    ([], ["x"], 60, False), ([], ["x"], 600, True),
])
def test_a_version_that_could_not_be_read_is_retried_after_a_while(tmp_path, failed, broken, age, stale):
    worker = host_index(tmp_path, lambda source: ENTRIES)
    index = worker.index(sources(), "c1")
    index.stats.failed, index.stats.broken = failed, broken

    assert is_stale(index, sources(), "c1", index.built_at + age) is stale
