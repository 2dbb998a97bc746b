"""Pure: the search document of one published version (``P/V/.docs-search.json``), encoded and decoded.

One gzip-compressed JSON object per version, written by publish beside the site it describes:
``{"format": 2, "pages": [{"path", "title", "sha256", "sections": [[anchor, heading, level, text, name], ...]}]}``
(``sha256``: the page file's checksum, so the next publish reuses the entry of an unchanged page;
``name``: an API object's identifier, empty for a section). Documents of format 1 (no names) are still
read, so versions published before keep being searchable; their entries are never reused by a
publish, since an older extractor made them.
Encoding is deterministic (pages sorted, gzip without a timestamp), so an unchanged site gives the
same bytes and the same ETag, and a re-publish need not rewrite it.
"""

import gzip
import json
import zlib

SEARCH_DOCUMENT = ".docs-search.json"
FORMAT = 2
READABLE_FORMATS = (1, 2)
# A search document far larger than any real site's (10,000 pages of text is ~100 MB) is refused
# when read, rather than letting a stray object exhaust a worker's memory.
MAX_DECODED_BYTES = 512 * 1024 * 1024


class BadSearchDocument(ValueError):
    """A search document that cannot be read: not gzip, not JSON, an unknown format, too large."""


def page_entry(path, page, sha256=""):
    """Return the document entry for the extracted ``page`` published at ``path`` (relative to the version)."""
    return {
        "path": path,
        "title": page.title,
        "sha256": sha256,
        "sections": [
            [section.anchor, section.heading, section.level, section.text, section.name] for section in page.sections
        ],
    }


def encode_document(entries):
    """Return the gzip-compressed JSON search document holding ``entries``, in a stable order."""
    body = json.dumps(
        {"format": FORMAT, "pages": sorted(entries, key=lambda entry: entry["path"])},
        ensure_ascii=False, separators=(",", ":"),
    ).encode()
    return gzip.compress(body, compresslevel=6, mtime=0)


def decode_document(data):
    """Return the list of page entries in the gzip-compressed search document ``data``."""
    try:
        decompressor = zlib.decompressobj(wbits=31)
        body = decompressor.decompress(data, MAX_DECODED_BYTES)
        if decompressor.unconsumed_tail:
            raise BadSearchDocument(f"larger than {MAX_DECODED_BYTES // 1024 // 1024} MiB once decompressed")
        document = json.loads(body)
    except (zlib.error, ValueError, UnicodeDecodeError) as error:
        if isinstance(error, BadSearchDocument):
            raise
        raise BadSearchDocument(f"not a gzip-compressed JSON document: {error}") from None
    if (not isinstance(document, dict) or document.get("format") not in READABLE_FORMATS
            or not isinstance(document.get("pages"), list)):
        raise BadSearchDocument(f"not a search document of format {' or '.join(map(str, READABLE_FORMATS))}")
    current = document["format"] == FORMAT
    pages = []
    for entry in document["pages"]:
        try:
            sections = [_record(*record) for record in entry["sections"]]
            pages.append({"path": str(entry["path"]), "title": str(entry["title"]),
                          "sha256": str(entry.get("sha256", "")) if current else "", "sections": sections})
        except (KeyError, TypeError, ValueError):
            raise BadSearchDocument(f"a page entry is malformed: {str(entry)[:80]}") from None
    return pages


def _record(anchor, heading, level, text, name=""):
    return (str(anchor), str(heading), int(level), str(text), str(name))
