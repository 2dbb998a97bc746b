"""The pages of each version, from its publish manifest, kept per worker until the version is published again.

A version's manifest (``<project>/<version>/.docs-publish.json``, app/publishing/manifest.py) changes
only when the version is published, and every publish records a new time in the portal index. So a
manifest is read once per worker and per publish time, which the portal's catalog (at most
``DOCS_PORTAL_TTL`` seconds old) gives: a page view costs no S3 call.
"""

import threading

from botocore.exceptions import BotoCoreError, ClientError
from cachetools import LRUCache

from ..exceptions import is_missing
from ..publishing.manifest import MANIFEST_NAME, decode_manifest
from .policy import PAGE_SUFFIXES

# Versions whose page sets a worker keeps; a set of 10,000 pages costs about 1 MiB.
MAX_MANIFESTS = 256
MISSING = "missing"


class ManifestCache:
    """Each version's set of page keys (or ``None`` when it has no manifest), per worker."""

    def __init__(self, size=MAX_MANIFESTS):
        self._lru = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def kept(self, project, version, published):
        """Return ``(known, pages)``: whether this worker holds the manifest of that publish, and its page keys."""
        with self._lock:
            found = self._lru.get((project, version, published))
        if found is None:
            return False, None
        return True, None if found is MISSING else found

    def pages(self, s3, bucket, prefix, project, version, published, index_document, logger=None):
        """Return the page keys of ``project``/``version`` as published at ``published``, or ``None`` without a manifest.

        S3 failing gives ``None`` this time and is asked again next time.
        """
        known, pages = self.kept(project, version, published)
        if known:
            return pages
        try:
            pages = read_pages(s3, bucket, f"{prefix}{project}/{version}/", index_document)
        except (ClientError, BotoCoreError) as error:
            if logger is not None:
                logger.warning("hub: the manifest of %s %s could not be read: %s", project, version, error)
            return None
        with self._lock:
            self._lru[(project, version, published)] = MISSING if pages is None else pages
        return pages


def read_pages(s3, bucket, key_prefix, index_document):
    """Return the page keys a version's manifest lists, or ``None`` when there is none (S3's other errors raise)."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key_prefix + MANIFEST_NAME)
        with response["Body"] as body:
            data = body.read()
    except ClientError as error:
        if is_missing(error):
            return None
        raise
    objects = decode_manifest(data)
    if not objects:
        return None
    return frozenset(key for key in objects
                     if key.lower().endswith(PAGE_SUFFIXES) or key.rpartition("/")[2] == index_document)
