"""Pure: the publish manifest, a record of the checksum and headers of every object the last publish wrote.

A listing gives each object's ETag, size and modification time but not its headers, and a HEAD per
file would make a no-change re-publish as slow as the first one. The manifest remembers what we
wrote; an entry is trusted only while the listing shows the very object it describes (same ETag and
size, and the same modification time once one was recorded), so an object rewritten by anyone else
is checked again with a HEAD. It is a cache: losing it costs HEAD requests, never correctness.

The modification time of a fresh upload is unknown (PUT does not return it, and listing the bucket
again would cost a tenth of a first publish), so it is recorded from the next listing, the next
time the manifest is written anyway. Until then, a header-only rewrite by someone else that keeps
the bytes (and so the ETag) goes unnoticed; any change of content is always seen.
"""

import json
from dataclasses import replace

from .policy import RemoteObject

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
        if (
            entry is not None
            and (entry.etag, entry.size) == (listed.etag, listed.size)
            and entry.last_modified in ("", listed.last_modified)
        ):
            listed = replace(
                listed, sha256=entry.sha256, content_type=entry.content_type, cache_control=entry.cache_control
            )
        known[relkey] = listed
    return known
