"""Publish's search step: extract every page beside the uploads, then write the search document.

``SearchIndexer`` is what ``flask docs publish`` hands to ``publish_tree`` (``PublishOptions.indexers``).
For each publish, ``begin`` reads the version's current search document (if any), so a page whose
checksum is unchanged reuses its entry instead of being parsed again; ``page`` runs for every file
on publish's indexing threads; ``finish`` runs once after every file was published, and writes
``<prefix>.docs-search.json`` unless the same bytes are already there.

Extraction is CPU work, half of it in Python (walking the page's tree), so on threads it would hold
the GIL the upload threads need. A site with more than ``IN_PROCESS_PAGES`` pages to extract gets a
process of its own (``spawn``ed: the publish process runs threads), at a lower priority than the
uploads: ``begin`` hands it the pages on disk in chunks, which it reads and extracts while the files
upload, so a page costs this process no read and no round trip of its own; an upload's staged page
(read from S3) is sent to it one at a time. The process imports ``app.search.entries`` (lxml), not
Flask or boto3, and dies with the thread that started it. Should it fail, the pages are extracted
here. In a gevent worker (the upload API under the default engine) no process is started: pages are
extracted on gevent's native threads (app/offload.py).
"""

import hashlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from botocore.exceptions import BotoCoreError, ClientError

from .. import offload
from ..publishing.run import counted, open_source
from .document import SEARCH_DOCUMENT, BadSearchDocument, decode_document, encode_document
from .entries import extract_entry, extract_files, start_extraction_process
from .extract import is_indexable

log = logging.getLogger(__name__)

# A small site is extracted on publish's indexing threads: starting a process would cost more.
IN_PROCESS_PAGES = 24
# Pages on disk go to the process this many at a time: one round trip per chunk, not per page.
CHUNK_PAGES = 32
# The process extracts a page in 1-2 ms, against S3's tens of ms a file, so it keeps up at a nice
# level that gives the uploads, and whatever else runs on the host, the CPU first.
EXTRACT_NICE = 10


class SearchIndexer:
    """Extracts pages for search during a publish and writes the version's search document."""

    name = SEARCH_DOCUMENT

    def begin(self, s3, bucket, key_prefix, remote, local_files=()):
        """Return the ``SearchIndexRun`` of one publish of ``local_files`` to ``key_prefix``, extraction under way."""
        known = {}
        if SEARCH_DOCUMENT in remote:
            try:
                response = s3.get_object(Bucket=bucket, Key=key_prefix + SEARCH_DOCUMENT)
                with response["Body"] as body:
                    known = {entry["path"]: entry for entry in decode_document(body.read()) if entry.get("sha256")}
            except (ClientError, BotoCoreError, BadSearchDocument) as error:
                # Only a cache: every page is extracted again.
                log.warning("search: could not read the previous %s%s: %s", key_prefix, SEARCH_DOCUMENT, error)
        run = SearchIndexRun(s3, bucket, key_prefix, remote, known)
        run.start(local_files)
        return run


class SearchIndexRun:
    """One publish's search step: the entries of the pages, and the document written at the end."""

    def __init__(self, s3, bucket, key_prefix, remote, known):
        self.s3, self.bucket, self.key_prefix, self.remote, self.known = s3, bucket, key_prefix, remote, known
        self._lock = threading.Lock()
        self._process = None
        self._chunks = {}  # relkey: (the future entries of its chunk, its place in the chunk)

    def _reused(self, local):
        """Return the entry known for ``local`` from the previous publish, if its checksum is unchanged."""
        previous = self.known.get(local.relkey)
        return previous if previous is not None and previous["sha256"] == local.sha256 else None

    def start(self, local_files):
        """Start the extraction process, if the pages to extract are many, and hand it the pages on disk.

        Never in a gevent worker (the upload API under the default engine): there the pool's feeder and
        manager threads would be greenlets on the loop's one thread, and a feeder blocked writing to the
        process while the process blocks writing a result freezes the whole worker. Pages are extracted
        on gevent's native threads there instead (``page``, app/offload.py).
        """
        pending = [local for local in local_files if is_indexable(local.relkey) and self._reused(local) is None]
        if len(pending) <= IN_PROCESS_PAGES or (os.cpu_count() or 1) < 2 or offload.is_cooperative():
            return
        # This thread starts the process; it dies with this thread (the CLI's main thread, a gthread worker's).
        self._process = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=start_extraction_process, initargs=(EXTRACT_NICE, os.getpid()))
        on_disk = [local for local in pending if not local.staged_key]
        for first in range(0, len(on_disk), CHUNK_PAGES):
            chunk = on_disk[first:first + CHUNK_PAGES]
            future = self._process.submit(extract_files, [(local.relkey, local.path, local.sha256) for local in chunk])
            self._chunks.update((local.relkey, (future, place)) for place, local in enumerate(chunk))

    def page(self, local):
        """Return the search entry of the published file ``local`` (a ``LocalFile``), or ``None`` if it is no page."""
        if not is_indexable(local.relkey):
            return None
        previous = self._reused(local)
        if previous is not None:
            return previous
        try:
            if local.relkey in self._chunks:
                future, place = self._chunks[local.relkey]
                try:
                    entry, problem = future.result()[place]
                except BrokenProcessPool as error:
                    log.warning("search: the extraction process stopped (%s); extracting %s here", error, local.relkey)
                else:
                    if problem:
                        log.warning("search: could not extract %s: %s", local.relkey, problem)
                    return entry
            with open_source(self.s3, self.bucket, local) as file:
                data = file.read()
            process = self._process
            if process is not None and local.relkey not in self._chunks:
                try:
                    return process.submit(extract_entry, local.relkey, data, local.sha256).result()
                except BrokenProcessPool as error:
                    log.warning("search: the extraction process stopped (%s); extracting %s here", error, local.relkey)
            return offload.run(extract_entry, local.relkey, data, local.sha256)
        except Exception as error:  # noqa: BLE001 - one unreadable page must never fail the publish
            # The parser recovers from any HTML; should a page still fail, it is left out of search (and logged)
            log.warning("search: could not extract %s: %s", local.relkey, error)
            return None

    def close(self):
        """Stop the extraction process, if one was started."""
        with self._lock:
            if self._process is not None:
                self._process.shutdown(wait=False, cancel_futures=True)
                self._process = None

    def finish(self, results, progress):
        """Write the search document of the published pages, unless the bucket already holds these bytes."""
        self.close()
        entries = [entry for entry in results.values() if entry is not None]
        body = encode_document(entries)
        existing = self.remote.get(SEARCH_DOCUMENT)
        if existing is not None and existing.etag == hashlib.md5(body).hexdigest():
            return
        progress.step(f"Writing the search document ({counted(len(entries), 'page')}, {len(body) // 1024} KiB)")
        self.s3.put_object(
            Bucket=self.bucket,
            Key=self.key_prefix + SEARCH_DOCUMENT,
            Body=body,
            ContentType="application/json",
            ContentEncoding="gzip",
            CacheControl="no-cache",
        )

