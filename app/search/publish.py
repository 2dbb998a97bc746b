"""Publish's search step: extract every page in publish's parallel pass, then write the search document.

``SearchIndexer`` is what ``flask docs publish`` hands to ``publish_tree`` (``PublishOptions.indexers``):
``page`` runs on publish's thread pool for each source file, ``finish`` runs once after every file
was published, and writes ``<prefix>.docs-search.json`` unless the same bytes are already there.
"""

import hashlib
import logging

from .document import SEARCH_DOCUMENT, encode_document, page_entry
from .extract import extract_page, is_indexable

log = logging.getLogger(__name__)


class SearchIndexer:
    """Extracts pages for search during a publish and writes the version's search document."""

    name = SEARCH_DOCUMENT

    def page(self, relkey, path):
        """Return the search entry of the page at ``path`` (published as ``relkey``), or ``None``."""
        if not is_indexable(relkey):
            return None
        try:
            with open(path, "rb") as file:
                page = extract_page(file.read())
        except Exception as error:  # noqa: BLE001 - one unreadable page must never fail the publish
            # The parser recovers from any HTML; should a page still fail, it is left out of search (and logged)
            log.warning("search: could not extract %s: %s", relkey, error)
            return None
        if page is None or not page.sections and not page.title:
            return None
        return page_entry(relkey, page)

    def finish(self, s3, bucket, key_prefix, results, remote, progress):
        """Write the search document of the published pages, unless the bucket already holds these bytes."""
        entries = [entry for entry in results.values() if entry is not None]
        body = encode_document(entries)
        existing = remote.get(SEARCH_DOCUMENT)
        if existing is not None and existing.etag == hashlib.md5(body).hexdigest():
            return
        progress.step(f"Writing the search document ({len(entries)} pages, {len(body) // 1024} KiB)")
        s3.put_object(
            Bucket=bucket,
            Key=key_prefix + SEARCH_DOCUMENT,
            Body=body,
            ContentType="application/json",
            ContentEncoding="gzip",
            CacheControl="no-cache",
        )
