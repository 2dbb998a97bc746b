"""The host's search index: built once per host from the search documents in S3, opened read-only by every worker.

One SQLite file, ``<DOCS_SEARCH_INDEX_DIR>/search.sqlite``, holds every version in the portal's catalog
(hidden ones too: a reader may ask for one by name; access rules filter every result). Every worker
of the host maps the same file read-only, so the host holds it once in its page cache, and a worker's
own memory holds only SQLite's small cache and the list of versions.

When a worker sees that the versions the index should hold (from the catalog: project, version and
publish time) differ from the ones it holds, it tries to take the host's build lock (``flock`` on
``search.lock``, never waiting). The one that gets it hands the lock to a builder (``builder.py``: a
process of its own, which holds the lock until it exits) and goes on answering from the old index.
The builder writes a new file beside the old one (``search.sqlite.<pid>.building``: the unchanged
versions copied from the old file, the changed ones fetched from S3) and swaps it in with
``rename``, atomic on POSIX (``build_host_index``). Every worker notices the new file (a ``stat`` per
search) and opens it; searches running on the old one finish on it, since a renamed-over file lives
on until its last reader closes it. No request waits on a rebuild; only a host's very first search
waits, at most ``DOCS_SEARCH_BUILD_WAIT`` seconds.

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

from ..exceptions import is_missing

from .document import SEARCH_DOCUMENT, decode_document
from .engine import MissingDocument, Source, build_index, open_index

log = logging.getLogger(__name__)

INDEX_FILE = "search.sqlite"
LOCK_FILE = "search.lock"
# After a build met unreadable documents (S3 down, a corrupt object), try again this much later.
RETRY_SECONDS = 30.0
BROKEN_RETRY_SECONDS = 600.0
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
        return decode_document(data)

    return load


def is_stale(index, sources, catalog_id, now):
    """Tell whether ``index`` should be rebuilt for ``sources`` (from the catalog ``catalog_id``).

    Not when the sources are the same (unless some failed to load and a retry is due), nor when the
    catalog is one the index has already moved past (a worker's cached catalog lagging behind).
    """
    if index is None:
        return True
    if set(index.sources) == set(sources):
        age = now - index.built_at
        # Not every 30 s for a document that will not decode: each build copies the whole index file.
        return bool(index.stats.failed) and age >= RETRY_SECONDS or bool(index.stats.broken) and age >= BROKEN_RETRY_SECONDS
    if catalog_id and catalog_id in index.catalogs and catalog_id != index.catalogs[-1]:
        return False
    return True


def build_host_index(directory, sources, catalog_id, load, clock=time.time):
    """Build the host's index of ``sources`` beside the current one and swap it in; the caller holds the host lock.

    Return ``True`` once the new file is in place, ``None`` when the current index already holds
    ``sources`` (another builder swapped it in while this one waited for the lock). Raises what the
    build raised, leaving no ``.building`` file behind.
    """
    path = os.path.join(directory, INDEX_FILE)
    building = f"{path}.{os.getpid()}.building"
    try:
        current = open_index(path)
    except (FileNotFoundError, sqlite3.DatabaseError):
        current = None  # none yet, or of an older schema (an upgrade) or damaged: built anew
    try:
        if not is_stale(current, sources, catalog_id, clock()):
            return None
        for leftover in glob.glob(f"{path}.*.building"):
            os.unlink(leftover)  # a builder that died; the lock says none is running
        try:
            stats = build_index(building, sources, load, previous=current, threads=LOAD_THREADS, catalog=catalog_id)
            os.rename(building, path)
        except BaseException:
            if os.path.exists(building):
                os.unlink(building)
            raise
    finally:
        if current is not None:
            current.close()
    log.info(
        "search: host index built in %.2f s: %d versions loaded, %d reused, %d without a search document, "
        "%d unreadable; %d pages, %d records",
        stats.seconds, stats.loaded, stats.reused, len(stats.missing), len(stats.failed) + len(stats.broken),
        stats.pages, stats.sections,
    )
    for source, reason in stats.failed:
        log.warning("search: could not load %s: %s (tried again in %g s)", source.key, reason, RETRY_SECONDS)
    for source, reason in stats.broken:
        log.warning("search: could not load %s: %s (tried again in %g s, or once it is published again)",
                    source.key, reason, BROKEN_RETRY_SECONDS)
    return True


class HostIndex:
    """The worker's handle on the host's index file: opens the newest one, hands a rebuild to a builder when it is stale.

    ``builder.start(lock, sources, catalog_id, finished)`` must return at once: it owns the open
    lock file ``lock`` from then on (the lock is the host's until the build ends) and calls
    ``finished(built)`` when the build is over: ``True`` (a new file is in place), ``None`` (nothing
    was stale any more) or ``False`` (failed: tried again ``RETRY_SECONDS`` later).
    """

    def __init__(self, directory, builder, build_wait=10.0, clock=time.time):
        self.directory = directory
        self.path = os.path.join(directory, INDEX_FILE)
        self._builder = builder
        self._build_wait = build_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._index = None
        self._identity = None
        self._building = False
        self._lock_tried = float("-inf")
        self._retry_at = float("-inf")
        self.builds = 0  # builds this worker's builders completed (tests count them across workers)

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
            try:
                # The index holds the text of every version, readable or not: only this user may open it.
                os.makedirs(self.directory, mode=0o700, exist_ok=True)
                lock = os.open(os.path.join(self.directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as error:
                # Not writable (a read-only volume, wrong owner): searches answer from what exists, if
                # anything, and the build is tried again later; not a failure of every search.
                log.error("search: cannot build the host index in %s: %s; tried again in %g s",
                          self.directory, error, RETRY_SECONDS)
                self._retry_at = now + RETRY_SECONDS
                return
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)  # another worker's builder is running: look again a little later
                self._lock_tried = now
                return
            self._building = True
        try:
            self._builder.start(lock, sources, catalog_id, self._finished)
        except Exception:  # noqa: BLE001 - a builder that cannot start must free the lock and be retried
            log.exception("search: could not start a build of the host index")
            os.close(lock)
            self._finished(False)

    def _finished(self, built):
        with self._lock:
            self._building = False
            if built:
                self.builds += 1
            elif built is False:
                self._retry_at = time.monotonic() + RETRY_SECONDS
        if built:
            self._reopen()
