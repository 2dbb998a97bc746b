"""The host's search index: built once per host from the search documents in S3, opened read-only by every worker.

One SQLite file, ``<DOCS_SEARCH_INDEX_DIR>/search.sqlite``, holds every version in the portal's catalog
(hidden ones too: a reader may ask for one by name; access rules filter every result). Every worker
of the host maps the same file read-only, so the host holds it once in its page cache, and a worker's
own memory holds only SQLite's small cache and the list of versions.

When a worker sees that the versions the index should hold (from the catalog: project, version and
publish time) differ from the ones it holds, it tries to take the host's build lock (``flock`` on
``search.lock``, never waiting). The one that gets it builds a new file beside the old one
(``search.sqlite.<pid>.building``: the unchanged versions copied from the old file, the changed ones
fetched from S3) in a background thread, and swaps it in with ``rename``, atomic on POSIX. Every
worker notices the new file (a ``stat`` per search) and opens it; searches running on the old one
finish on it, since a renamed-over file lives on until its last reader closes it. No request waits on
a rebuild; only a host's very first search waits, at most ``DOCS_SEARCH_BUILD_WAIT`` seconds.

A worker whose cached catalog is older than the one the index was built from (the catalog ids the
index remembers) never rebuilds it back.
"""

import fcntl
import glob
import logging
import os
import sqlite3
import threading
import time

from botocore.exceptions import ClientError

from .. import offload
from ..exceptions import is_missing

from .document import SEARCH_DOCUMENT, decode_document
from .engine import MissingDocument, Source, build_index, open_index

log = logging.getLogger(__name__)

INDEX_FILE = "search.sqlite"
LOCK_FILE = "search.lock"
# After a build met unreadable documents (S3 down, a corrupt object), try again this much later.
RETRY_SECONDS = 30.0
# How often a worker that found the build lock taken tries it again.
LOCK_RETRY_SECONDS = 1.0
LOAD_THREADS = 4
POLL_SECONDS = 0.05


def catalog_sources(catalog, key_prefix):
    """Return the ``Source`` of every version of every project in ``catalog``, in catalog order."""
    return tuple(
        version_source(project.name, version, key_prefix) for project in catalog.projects for version in project.versions
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


def is_stale(index, sources, catalog_id, now):
    """Tell whether ``index`` should be rebuilt for ``sources`` (from the catalog ``catalog_id``).

    Not when the sources are the same (unless some failed to load and a retry is due), nor when the
    catalog is one the index has already moved past (a worker's cached catalog lagging behind).
    """
    if index is None:
        return True
    if set(index.sources) == set(sources):
        return bool(index.stats.failed) and now - index.built_at >= RETRY_SECONDS
    if catalog_id and catalog_id in index.catalogs and catalog_id != index.catalogs[-1]:
        return False
    return True


class HostIndex:
    """The worker's handle on the host's index file: opens the newest one, starts a rebuild when it is stale."""

    def __init__(self, directory, load, build_wait=10.0, clock=time.time):
        self.directory = directory
        self.path = os.path.join(directory, INDEX_FILE)
        self._load = load
        self._build_wait = build_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._index = None
        self._identity = None
        self._building = False
        self._lock_tried = float("-inf")
        self._retry_at = float("-inf")
        self.builds = 0  # builds this process ran (tests count them across workers)

    def index(self, sources, catalog_id=""):
        """Return the newest index of the host (possibly one rebuild behind ``sources``), or ``None`` if none in time."""
        index = self._reopen()
        if is_stale(index, sources, catalog_id, self._clock()):
            self._start_build(sources, catalog_id)
        if index is None:
            deadline = time.monotonic() + self._build_wait
            while index is None and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                index = self._reopen()
                if index is None and not self._building:
                    self._start_build(sources, catalog_id)
        return index

    def _reopen(self):
        """Open the index file if it changed since this worker last opened it; return the current index."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return self._index
        identity = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if identity == self._identity:
            return self._index
        with self._lock:
            if identity != self._identity:
                try:
                    index = open_index(self.path)
                except sqlite3.DatabaseError as error:
                    # An index of an older schema (an upgrade) or a damaged file: rebuilt, never served.
                    log.warning("search: cannot open %s (%s); it will be rebuilt", self.path, error)
                    self._identity = identity
                    return self._index
                # The old index is not closed here: searches running on it finish, then it is freed.
                self._index, self._identity = index, identity
            return self._index

    def _start_build(self, sources, catalog_id):
        with self._lock:
            now = time.monotonic()
            if self._building or now < self._retry_at or now < self._lock_tried + LOCK_RETRY_SECONDS:
                return
            # The index holds the text of every version, readable or not: only this user may open it.
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            lock = os.open(os.path.join(self.directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)  # another worker of the host is building: look again a little later
                self._lock_tried = now
                return
            self._building = True
        thread = threading.Thread(target=self._build, args=(lock, sources, catalog_id), name="search-build", daemon=True)
        thread.start()

    def _build(self, lock, sources, catalog_id):
        building = f"{self.path}.{os.getpid()}.building"
        try:
            # Another worker may have swapped a new index in while this one waited for the lock.
            current = self._reopen()
            if not is_stale(current, sources, catalog_id, self._clock()):
                return
            for leftover in glob.glob(f"{self.path}.*.building"):
                os.unlink(leftover)  # a builder that died; the lock says none is running
            stats = build_index(building, sources, self._load, previous=current, threads=LOAD_THREADS,
                                catalog=catalog_id)
            os.rename(building, self.path)
            self.builds += 1
            log.info(
                "search: host index built in %.2f s: %d versions loaded, %d reused, %d without a search document, "
                "%d unreadable; %d pages, %d records",
                stats.seconds, stats.loaded, stats.reused, len(stats.missing), len(stats.failed), stats.pages,
                stats.sections,
            )
            for source, reason in stats.failed:
                log.warning("search: could not load %s: %s", source.key, reason)
            self._reopen()
        except Exception:  # noqa: BLE001 - a failed build must leave the old index serving, and be retried
            log.exception("search: building the host index failed")
            self._retry_at = time.monotonic() + RETRY_SECONDS
            if os.path.exists(building):
                os.unlink(building)
        finally:
            with self._lock:
                self._building = False
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)
