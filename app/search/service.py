"""Each worker's search indexes: which versions they hold, loading them from S3, refreshing them in the background.

One index holds the default version of every project (the scope readers search by default); one
more per project, built on first use and kept for the few most recently used projects, holds all
its listed versions. An index is rebuilt when the versions it should hold (from the portal's
catalog: project, version and publish time) differ from the ones it holds; requests keep using the
old index while a background thread builds the new one. Only a worker's very first request for a
scope waits, at most ``DOCS_SEARCH_BUILD_WAIT`` seconds. At most ``DOCS_SEARCH_BUILDS`` builds run
at once per worker; a scope that finds none free keeps its old index, or answers 503 if it has none.
"""

import logging
import threading
import time
from collections import OrderedDict

from botocore.exceptions import ClientError

from .. import offload
from ..exceptions import is_missing

from .document import SEARCH_DOCUMENT, decode_document
from .engine import MissingDocument, Source, build_index

log = logging.getLogger(__name__)

DEFAULT_SCOPE = ("defaults",)
# After a build met unreadable documents (S3 down, a corrupt object), try again this much later.
RETRY_SECONDS = 30.0
LOAD_THREADS = 4


def default_sources(catalog, key_prefix):
    """Return the ``Source`` of each project's default version in ``catalog``, in catalog order."""
    return tuple(
        version_source(project.name, version, key_prefix)
        for project in catalog.projects
        if project.default_version
        for version in project.versions
        if version.name == project.default_version
    )


def project_sources(project, key_prefix, extra=None):
    """Return the ``Source`` of every listed (not hidden) version of ``project``, plus ``extra`` by name."""
    return tuple(
        version_source(project.name, version, key_prefix)
        for version in project.versions
        if not version.hidden or version.name == extra
    )


def version_source(project, version, key_prefix):
    """Return the ``Source`` for one ``Version`` of ``project``; its publish time is the stamp."""
    return Source(
        project, version.name, f"{key_prefix}{project}/{version.name}/{SEARCH_DOCUMENT}", str(version.published or "")
    )


def s3_loader(s3, bucket):
    """Return ``load(source)`` reading a search document from ``bucket``; a missing one raises ``MissingDocument``."""

    def load(source):
        try:
            response = s3.get_object(Bucket=bucket, Key=source.key)
        except ClientError as error:
            if is_missing(error, strict=True):
                raise MissingDocument(source.key) from None
            raise
        with response["Body"] as body:
            data = body.read()
        return offload.run(decode_document, data)

    return load


class _Slot:
    """One scope's index, the sources it should hold, and its build state."""

    def __init__(self):
        self.index = None
        self.wanted = None
        self.building = False
        self.retry_at = None
        self.ready = threading.Event()


class SearchService:
    """The worker's indexes by scope, rebuilt in the background when the versions they should hold change."""

    def __init__(self, load, build_wait=10.0, project_indexes=4, max_builds=1):
        self._load = load
        self._build_wait = build_wait
        self._project_indexes = project_indexes
        # Builds running in this worker, evicted slots' included: readers cycling through more projects
        # than fit made 84 builds for 152 searches (RSS 127 -> 508 MiB); beyond the bound, none starts.
        self._max_builds = max_builds
        self._builds = 0
        self._slots = OrderedDict()
        self._lock = threading.Lock()

    def index(self, scope, sources):
        """Return the index of ``scope`` (possibly one refresh behind), or ``None`` if none is built yet in time.

        A build starts when ``sources`` differ from what the index holds (or failed sources are due
        a retry); only when there is no index at all does the caller wait, up to the build wait.
        """
        with self._lock:
            slot = self._slots.get(scope)
            if slot is None:
                slot = self._slots[scope] = _Slot()
            self._slots.move_to_end(scope)
            self._evict(keep=scope)
            stale = slot.wanted != sources or (slot.retry_at is not None and time.monotonic() >= slot.retry_at)
            if stale and not slot.building and self._builds < self._max_builds:
                self._builds += 1
                slot.building = True
                slot.wanted = sources
                slot.retry_at = None
                thread = threading.Thread(
                    target=self._build, args=(scope, slot, sources), name=f"search-build-{scope[0]}", daemon=True
                )
                thread.start()
            index, building = slot.index, slot.building
        if index is None and building:
            slot.ready.wait(self._build_wait)
            index = slot.index
        # None when no index is built in time, or none could start (the caller answers 503, retry later).
        return index

    def _evict(self, keep):
        others = [scope for scope in self._slots if scope not in (DEFAULT_SCOPE, keep)]
        for scope in others[: max(0, len(others) + 1 - max(1, self._project_indexes))]:
            # A build still running for an evicted slot finishes into the dropped slot, then is freed.
            del self._slots[scope]

    def _build(self, scope, slot, sources):
        log.info("search: building the index for %s", "/".join(scope))
        try:
            index = build_index(sources, self._load, previous=slot.index, threads=LOAD_THREADS)
        except Exception:  # noqa: BLE001 - a failed build must leave the old index serving, and be retried
            log.exception("search: building the index for %s failed", "/".join(scope))
            with self._lock:
                self._builds -= 1
                slot.building = False
                slot.retry_at = time.monotonic() + RETRY_SECONDS
            slot.ready.set()
            return
        stats = index.stats
        log.info(
            "search: index for %s built in %.2f s: %d versions loaded, %d reused, %d without a search document, "
            "%d unreadable; %d pages, %d sections",
            "/".join(scope), stats.seconds, stats.loaded, stats.reused, len(stats.missing), len(stats.failed),
            stats.pages, stats.sections,
        )
        for source, reason in stats.failed:
            log.warning("search: could not load %s: %s", source.key, reason)
        with self._lock:
            self._builds -= 1
            slot.index = index
            slot.building = False
            if stats.failed:
                slot.retry_at = time.monotonic() + RETRY_SECONDS
        slot.ready.set()
