"""Publish's search step: extract every page on publish's indexing threads, then write the search document.

``SearchIndexer`` is what ``flask docs publish`` hands to ``publish_tree`` (``PublishOptions.indexers``).
For each publish, ``begin`` reads the version's current search document (if any), so a page whose
checksum is unchanged reuses its entry instead of being parsed again; ``page`` runs for every file;
``finish`` runs once after every file was published, and writes ``<prefix>.docs-search.json``
unless the same bytes are already there.

Extraction is CPU work in Python callbacks (lxml's parser target), so on threads it would hold the
GIL the upload threads need: past the first ``IN_PROCESS_PAGES`` pages, each page (read here, from
disk or its staged copy) is extracted in a small pool of worker processes (``spawn``ed: the publish
process runs threads), so extraction overlaps the uploads for real, on another core.
"""

import hashlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from ..publishing.run import open_source
from .document import SEARCH_DOCUMENT, BadSearchDocument, decode_document, encode_document, page_entry
from .extract import extract_page, is_indexable
from ..publishing.run import counted

log = logging.getLogger(__name__)

# A small site is extracted on publish's indexing threads: starting processes would cost more.
IN_PROCESS_PAGES = 24
EXTRACT_PROCESSES = 2


def extract_entry(relkey, data, sha256):
    """Return the search entry of the page ``data`` published as ``relkey``, or ``None`` (no content)."""
    page = extract_page(data)
    if page is None or not page.sections and not page.title:
        return None
    return page_entry(relkey, page, sha256)


class SearchIndexer:
    """Extracts pages for search during a publish and writes the version's search document."""

    name = SEARCH_DOCUMENT

    def begin(self, s3, bucket, key_prefix, remote):
        """Return the ``SearchIndexRun`` of one publish to ``key_prefix``, knowing the pages already indexed."""
        known = {}
        if SEARCH_DOCUMENT in remote:
            try:
                response = s3.get_object(Bucket=bucket, Key=key_prefix + SEARCH_DOCUMENT)
                with response["Body"] as body:
                    known = {entry["path"]: entry for entry in decode_document(body.read()) if entry.get("sha256")}
            except (ClientError, BotoCoreError, BadSearchDocument) as error:
                # Only a cache: every page is extracted again.
                log.warning("search: could not read the previous %s%s: %s", key_prefix, SEARCH_DOCUMENT, error)
        return SearchIndexRun(s3, bucket, key_prefix, remote, known)


class SearchIndexRun:
    """One publish's search step: the entries of the pages, and the document written at the end."""

    def __init__(self, s3, bucket, key_prefix, remote, known):
        self.s3, self.bucket, self.key_prefix, self.remote, self.known = s3, bucket, key_prefix, remote, known
        self._lock = threading.Lock()
        self._extracted = 0
        self._processes = None

    def page(self, local):
        """Return the search entry of the published file ``local`` (a ``LocalFile``), or ``None`` if it is no page."""
        if not is_indexable(local.relkey):
            return None
        previous = self.known.get(local.relkey)
        if previous is not None and previous["sha256"] == local.sha256:
            return previous
        try:
            with open_source(self.s3, self.bucket, local) as file:
                data = file.read()
            pool = self._pool()
            if pool is None:
                return extract_entry(local.relkey, data, local.sha256)
            return pool.submit(extract_entry, local.relkey, data, local.sha256).result()
        except Exception as error:  # noqa: BLE001 - one unreadable page must never fail the publish
            # The parser recovers from any HTML; should a page still fail, it is left out of search (and logged)
            log.warning("search: could not extract %s: %s", local.relkey, error)
            return None

    def _pool(self):
        with self._lock:
            self._extracted += 1
            if self._processes is None and self._extracted > IN_PROCESS_PAGES and (os.cpu_count() or 1) > 1:
                self._processes = ProcessPoolExecutor(
                    max_workers=EXTRACT_PROCESSES, mp_context=multiprocessing.get_context("spawn"))
            return self._processes

    def close(self):
        """Stop the extraction processes, if any were started."""
        with self._lock:
            if self._processes is not None:
                self._processes.shutdown(wait=False, cancel_futures=True)
                self._processes = None

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
