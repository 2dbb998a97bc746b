"""The worker's index service: one build per change, old index served meanwhile, few project indexes kept."""

import threading

from app.search.engine import Source
from app.search.service import DEFAULT_SCOPE, SearchService

ENTRIES = [{"path": "index.html", "title": "Home", "sections": [("", "", 0, "hello world")]}]


def sources(stamp="1", project="p"):
    return (Source(project, "1.0", f"{project}/1.0/.docs-search.json", stamp),)


def test_the_first_request_waits_for_the_build_and_later_ones_reuse_the_index():
    loads = []
    service = SearchService(lambda source: loads.append(source) or ENTRIES)

    first = service.index(DEFAULT_SCOPE, sources())
    second = service.index(DEFAULT_SCOPE, sources())

    assert first is second and first.stats.pages == 1
    assert len(loads) == 1


def test_a_change_is_built_in_the_background_while_the_old_index_answers():
    release = threading.Event()
    service = SearchService(lambda source: ENTRIES if source.stamp == "1" else (release.wait(10), ENTRIES)[1])
    old = service.index(DEFAULT_SCOPE, sources("1"))

    during = service.index(DEFAULT_SCOPE, sources("2"))
    release.set()
    for _ in range(500):
        after = service.index(DEFAULT_SCOPE, sources("2"))
        if after is not old:
            break
        threading.Event().wait(0.01)

    assert during is old
    assert after is not old and after.sources == sources("2")


def test_only_a_few_project_indexes_are_kept():
    service = SearchService(lambda source: ENTRIES, project_indexes=2)

    for name in ("a", "b", "c"):
        service.index(("project", name), sources(project=name))

    assert [scope for scope in service._slots] == [("project", "b"), ("project", "c")]


def test_no_kept_project_indexes_still_answers_the_current_request():
    service = SearchService(lambda source: ENTRIES, project_indexes=0)

    assert service.index(("project", "a"), sources(project="a")) is not None
    assert service.index(("project", "b"), sources(project="b")) is not None


def test_a_failed_build_is_retried_and_leaves_none_until_then(monkeypatch):
    from app.search import service as module

    def broken(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(module, "build_index", broken)
    service = SearchService(lambda source: ENTRIES, build_wait=5)

    assert service.index(DEFAULT_SCOPE, sources()) is None
    assert service._slots[DEFAULT_SCOPE].retry_at is not None


def test_readers_cycling_through_projects_never_run_more_builds_than_the_bound():
    release = threading.Event()
    lock = threading.Lock()
    running, peak, loads = [0], [0], []

    def load(source):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            loads.append(source.project)
        release.wait(10)
        with lock:
            running[0] -= 1
        return ENTRIES

    service = SearchService(load, build_wait=0.05, project_indexes=1, max_builds=1)
    answers = [service.index(("project", f"p{n % 4}"), sources(project=f"p{n % 4}")) for n in range(12)]

    assert answers == [None] * 12  # a 503 for the reader, never another build
    assert loads == ["p0"] and peak[0] == 1
    release.set()
    for _ in range(500):
        if service.index(("project", "p1"), sources(project="p1")) is not None:
            break
        threading.Event().wait(0.01)
    assert peak[0] == 1 and loads[:2] == ["p0", "p1"]
