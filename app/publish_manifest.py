"""Pure: the publish manifest, a record of the checksum and headers of every object the last publish wrote.

A listing gives each object's ETag, size and modification time but not its headers, and a HEAD per
file would make a no-change re-publish as slow as the first one. The manifest remembers what we
wrote; an entry is trusted only while the listing shows the very object it describes (same ETag,
size and modification time), so an object rewritten by anyone else is checked again with a HEAD.
It is a cache: losing it costs HEAD requests, never correctness. (One blind spot: listings give
modification times in whole seconds, so a header-only rewrite by someone else in the same second as
our upload goes unnoticed until the file changes.)
"""

import json
from dataclasses import replace

from .publish import RemoteObject

MANIFEST_NAME = ".docs-publish.json"
VERSION = 1


def encode_manifest(objects):
    """Return the manifest bytes for ``objects``, an iterable of fully known ``RemoteObject``."""
    entries = {
        item.relkey: [item.etag, item.size, item.last_modified, item.sha256, item.content_type, item.cache_control]
        for item in sorted(objects, key=lambda item: item.relkey)
    }
    return json.dumps({"version": VERSION, "objects": entries}, separators=(",", ":")).encode()


def decode_manifest(data):
    """Return ``{relkey: RemoteObject}`` from manifest bytes; anything unreadable gives ``{}``."""
    try:
        document = json.loads(data)
        if document.get("version") != VERSION:
            return {}
        return {
            relkey: RemoteObject(relkey, etag, size, modified, sha256, content_type, cache_control)
            for relkey, (etag, size, modified, sha256, content_type, cache_control) in document["objects"].items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def apply_manifest(listing, manifest):
    """Return ``listing`` with checksum and headers filled in where the manifest describes that exact object."""
    known = {}
    for relkey, listed in listing.items():
        entry = manifest.get(relkey)
        if entry is not None and (entry.etag, entry.size, entry.last_modified) == (
            listed.etag,
            listed.size,
            listed.last_modified,
        ):
            listed = replace(
                listed, sha256=entry.sha256, content_type=entry.content_type, cache_control=entry.cache_control
            )
        known[relkey] = listed
    return known
