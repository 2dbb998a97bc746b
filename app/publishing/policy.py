"""Pure publish policy: content types, cache headers, the destination prefix, and what to upload or delete.

Nothing here touches the file system or S3, so every rule is tested from tables (tests/publishing/test_policy.py).
"""

import functools
import mimetypes
import posixpath
import re
from dataclasses import dataclass, field

UTF8 = "; charset=utf-8"

# What browsers need for web docs, independent of the machine's /etc/mime.types (CI images often lack
# it, which is how JavaScript ends up as binary/octet-stream and gets refused under nosniff).
CONTENT_TYPES = {
    ".html": "text/html" + UTF8,
    ".htm": "text/html" + UTF8,
    ".xhtml": "application/xhtml+xml",
    ".css": "text/css" + UTF8,
    # RFC 9239: text/javascript is the one JavaScript type; module scripts require a JavaScript type.
    ".js": "text/javascript" + UTF8,
    ".mjs": "text/javascript" + UTF8,
    ".cjs": "text/javascript" + UTF8,
    # RFC 8259 defines no charset for JSON: it is UTF-8 by definition.
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain" + UTF8,
    ".md": "text/markdown" + UTF8,
    ".rst": "text/plain" + UTF8,
    ".csv": "text/csv" + UTF8,
    ".py": "text/plain" + UTF8,
    # XML declares its own encoding; a charset parameter here would override it.
    ".xml": "application/xml",
    ".xsl": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".apng": "image/apng",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".epub": "application/epub+zip",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    # Archives are downloads: never Content-Encoding, or browsers would unpack them on the fly.
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".tgz": "application/gzip",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
    ".zst": "application/zstd",
    ".tar": "application/x-tar",
    # Sphinx's intersphinx inventory: zlib-compressed, read by tools, not browsers.
    ".inv": "application/octet-stream",
}

# mimetypes reports a compressed file (".tar.gz", ".svgz") as its content plus an encoding;
# we store the compressed bytes as they are, so the type is the compressed container's.
ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}

DEFAULT_TYPE = "application/octet-stream"
PAGE_SUFFIXES = (".html", ".htm", ".xhtml")
HEX_HASH = re.compile(r"[0-9a-f]{8,64}")
BASE64URL_HASH = re.compile(r"[A-Za-z0-9_-]{8}")


@functools.cache
def _python_types():
    # Python's built-in table only, so the result does not depend on the machine's mime.types files.
    return mimetypes.MimeTypes()


def content_type_for(path):
    """Return the Content-Type to store for the file at ``path`` (a relative path or a name)."""
    name = posixpath.basename(path).lower()
    suffix = posixpath.splitext(name)[1]
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, encoding = _python_types().guess_type(name, strict=False)
    if encoding:
        return ENCODING_TYPES.get(encoding, DEFAULT_TYPE)
    if guessed is None:
        return DEFAULT_TYPE
    if guessed.startswith("text/"):
        return guessed + UTF8
    return guessed


def is_page(path):
    """Tell whether ``path`` is an HTML page, which is uploaded after every asset."""
    return path.lower().endswith(PAGE_SUFFIXES)


def _is_hex_hash(token):
    # A hash has letters and digits; all-digit tokens are dates, versions and sizes.
    return bool(HEX_HASH.fullmatch(token)) and not token.isdigit() and not token.isalpha()


def _is_random_token(token):
    """Tell whether an 8-character base64url token looks random (Vite, Rollup, esbuild), not like a word."""
    if not BASE64URL_HASH.fullmatch(token) or token.isalpha() or not any(c.isalpha() for c in token):
        return False
    if not any(c.isdigit() for c in token):
        return False

    def kind(char):
        return "U" if char.isupper() else "L" if char.islower() else "D" if char.isdigit() else "O"

    # Words with a number ("Light300", "Medium12") switch class once or twice; random tokens far more.
    switches = sum(kind(a) != kind(b) for a, b in zip(token, token[1:]))
    return switches >= 3


def is_hashed_name(path):
    """Tell whether the file name in ``path`` carries a content hash, so its content never changes.

    Looks at the name only (``app.3f2a9c1b.js``, ``main-BxK3fA9d.js``, ``main.8608ea7d.min.css``),
    never at directories or query strings. A miss costs only a revalidation; a false positive would
    pin a changing file in caches for a year, so the rules lean towards "not hashed". Pages never are.
    """
    name = posixpath.basename(path)
    if is_page(name):
        return False
    for part in name.split(".")[:-1]:
        if _is_hex_hash(part) or _is_random_token(part):
            return True
        # webpack and Next.js: "[name]-[contenthash]"; the first piece is the name.
        if any(_is_hex_hash(piece) for piece in re.split(r"[-_]", part)[1:]):
            return True
        # Vite and Rollup: "[name]-[hash]", where the 8-character hash may itself contain '-' or '_'.
        if len(part) > 9 and part[-9] == "-" and _is_random_token(part[-8:]):
            return True
    return False


def cache_control_for(path, pages_policy, hashed_policy):
    """Return the Cache-Control for ``path``: ``hashed_policy`` for content-hashed names, else ``pages_policy``."""
    return hashed_policy if is_hashed_name(path) else pages_policy


class BadPrefix(ValueError):
    """A ``--prefix`` that cannot name a folder in the bucket."""


def normalise_prefix(prefix):
    """Return ``prefix`` as a key prefix: no leading '/', a trailing '/' unless empty, no '.' or '..'."""
    if any(char in prefix for char in "\\\0\r\n"):
        raise BadPrefix(f"{prefix!r} contains a backslash or a control character")
    segments = [segment for segment in prefix.strip("/").split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise BadPrefix(f"{prefix!r} contains a '.' or '..' segment; give the folder in the bucket itself")
    return "/".join(segments) + "/" if segments else ""


@dataclass(frozen=True)
class LocalFile:
    """A file to publish: its key below the destination, where it is, and what it should look like in S3."""

    relkey: str
    path: str
    size: int
    sha256: str
    md5: str
    content_type: str
    cache_control: str
    # An upload's staged copy in the bucket (source.SourceFile.staged_key): published by a server-side copy.
    staged_key: str = ""


@dataclass(frozen=True)
class RemoteObject:
    """An object under the destination; the checksum and headers are ``None`` until known."""

    relkey: str
    etag: str
    size: int
    last_modified: str = ""
    sha256: str | None = None
    content_type: str | None = None
    cache_control: str | None = None

    @property
    def is_multipart(self):
        """Tell whether the ETag is a multipart one, which is not the content's MD5."""
        return "-" in self.etag


@dataclass
class Plan:
    """What a publish does, in order: ``uploads`` (assets, then pages), then ``deletes``."""

    uploads: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    deletes: list = field(default_factory=list)

    @property
    def upload_bytes(self):
        """Return how many bytes the uploads send."""
        return sum(local.size for local in self.uploads)


def strip_etag(etag):
    """Return an ETag without its quotes."""
    return (etag or "").strip('"')


def is_unchanged(local, remote):
    """Tell whether ``remote`` already holds ``local``'s content with the same headers; ``None`` if unknown."""
    if remote is None:
        return False
    if remote.size != local.size:
        return False
    if not remote.is_multipart and remote.etag != local.md5:
        return False
    if remote.sha256 is None or remote.content_type is None or remote.cache_control is None:
        return None
    return (
        remote.sha256 == local.sha256
        and remote.content_type == local.content_type
        and remote.cache_control == local.cache_control
    )


def keys_to_check(local_files, remote_objects):
    """Return the keys whose remote checksum and headers must be read (HEAD) before planning."""
    return [
        local.relkey
        for local in local_files
        if is_unchanged(local, remote_objects.get(local.relkey)) is None
    ]


def plan_publish(local_files, remote_objects, delete=False, keep=()):
    """Return the ``Plan`` that makes the destination match ``local_files``.

    ``remote_objects`` maps each key below the destination to its ``RemoteObject``; a remote whose
    state is still unknown is uploaded again. With ``delete``, remote keys not in ``local_files``
    (and not in ``keep``) are deleted, after every upload.
    """
    plan = Plan()
    for local in sorted(local_files, key=lambda item: (is_page(item.relkey), item.relkey)):
        if is_unchanged(local, remote_objects.get(local.relkey)):
            plan.unchanged.append(local)
        else:
            plan.uploads.append(local)
    if delete:
        wanted = {local.relkey for local in local_files} | set(keep)
        plan.deletes = sorted(key for key in remote_objects if key not in wanted)
    return plan


def suggest_redirects(removed, current, index_document="index.html"):
    """Return ``_redirects`` lines for the pages in ``removed`` (relkeys no longer published), given the ``current`` ones.

    A page whose file name is still published once elsewhere has moved there; otherwise the nearest
    folder above it that still has an index page takes its readers; otherwise the site root.
    """
    current = set(current)
    by_name = {}
    for relkey in current:
        if is_page(relkey) and posixpath.basename(relkey) != index_document:
            by_name.setdefault(posixpath.basename(relkey), []).append(relkey)
    lines = []
    for relkey in sorted(key for key in removed if is_page(key)):
        moved = by_name.get(posixpath.basename(relkey), [])
        if len(moved) == 1:
            target = moved[0]
        else:
            folder = posixpath.dirname(relkey)
            while folder and f"{folder}/{index_document}" not in current:
                folder = posixpath.dirname(folder)
            target = f"{folder}/" if folder else ""
        old = relkey[: -len(index_document)] if posixpath.basename(relkey) == index_document else relkey
        if old != target:
            lines.append(f"/{old} /{target} 301")
    return lines
