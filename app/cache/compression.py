"""Compression: pure negotiation from Accept-Encoding, which responses qualify, and the codecs themselves."""

import gzip
import re
import zlib

from .. import offload

# Preference at equal q-values: zstd and br are smaller than gzip for the same CPU.
PREFERENCE = ("zstd", "br", "gzip")
ALIASES = {"x-gzip": "gzip"}
IMPLICIT_IDENTITY_Q = 0.0001

# Levels for objects compressed once and kept (cache) and for bodies compressed as they stream:
# the kept copy pays once for smaller transfers; a stream pays on every request (figures: bench/).
CACHED_LEVELS = {"gzip": 6, "br": 6, "zstd": 9}
STREAM_LEVELS = {"gzip": 5, "br": 4, "zstd": 3}
# From this size on a stream is compressed with the cheapest coding the client accepts at all, at
# its fastest level, whatever order the client prefers: gzip at level 5 costs ~100x the CPU of
# sending the bytes (a 64 MiB page took 3.3 s), zstd at level 1 a small fraction of gzip's.
LARGE_BODY = 1024 * 1024
CHEAPEST = ("zstd", "br", "gzip")
FAST_LEVELS = {"gzip": 1, "br": 1, "zstd": 1}

COMPRESSIBLE_TYPES = {
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/manifest+json",
    "application/ld+json",
    "application/wasm",
    "application/x-ndjson",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-font-opentype",
    "application/x-sh",
    "application/x-tex",
    "application/postscript",
    "font/ttf",
    "font/otf",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "image/bmp",
}
# Source maps are JSON, but publishers often store them as binary/octet-stream.
COMPRESSIBLE_SUFFIXES = (".map",)

ETAG_SUFFIX = re.compile(r'-(?:zstd|br|gzip)"')


def _load_codecs():
    codecs = {"gzip"}
    try:
        import brotli  # noqa: F401

        codecs.add("br")
    except ImportError:
        pass
    try:
        from backports import zstd  # noqa: F401

        codecs.add("zstd")
    except ImportError:
        try:
            from compression import zstd  # noqa: F401  (Python 3.14+)

            codecs.add("zstd")
        except ImportError:
            pass
    return frozenset(codecs)


def available_codecs():
    """Return the content codings this process can produce (gzip always; br and zstd with their packages)."""
    global _CODECS
    if _CODECS is None:
        _CODECS = _load_codecs()
    return _CODECS


_CODECS = None


def parse_accept_encoding(value):
    """Return ``{coding: q}`` for an Accept-Encoding value; elements with a malformed q-value are ignored."""
    accepted = {}
    for element in value.split(","):
        coding, *params = (part.strip() for part in element.split(";"))
        coding = ALIASES.get(coding.lower(), coding.lower())
        if not coding:
            continue
        q = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(raw.strip())
                except ValueError:
                    q = None
                if q is not None and not 0.0 <= q <= 1.0:
                    q = None
        if q is not None:
            accepted[coding] = max(q, accepted.get(coding, 0.0))
    return accepted


def choose_encoding(accept_encoding, available):
    """Return the coding to send for ``accept_encoding``: one of ``available``, ``"identity"``, or ``None``.

    ``None`` means nothing acceptable is available (``identity;q=0`` or ``*;q=0`` without an acceptable
    coding, RFC 9110 12.5.3). No header means no preference: identity, which every client can read.
    The highest q wins; at equal q a coding beats identity and zstd > br > gzip; identity the client
    does not name ranks below every coding it names.
    """
    if accept_encoding is None:
        return "identity"
    accepted = parse_accept_encoding(accept_encoding)
    wildcard = accepted.get("*")
    best, best_q = None, 0.0
    for coding in PREFERENCE:
        if coding not in available:
            continue
        q = accepted.get(coding, wildcard if wildcard is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    # Identity not named is acceptable (RFC 9110 12.5.3) but loses to any coding the client named.
    identity_q = accepted.get("identity", wildcard if wildcard is not None else IMPLICIT_IDENTITY_Q)
    if best is not None and best_q >= identity_q:
        return best
    if identity_q > 0:
        return "identity"
    return None


def stream_encoding(accept_encoding, available, length):
    """Return ``(coding, level)`` for compressing a streamed body of ``length`` bytes (``None``: unknown).

    Below ``LARGE_BODY`` the client's preference decides (``choose_encoding``), at ``STREAM_LEVELS``;
    from it on, the cheapest coding the client accepts, at ``FAST_LEVELS``.
    """
    coding = choose_encoding(accept_encoding, available)
    if coding in (None, "identity") or length is None or length < LARGE_BODY:
        return coding, STREAM_LEVELS.get(coding)
    accepted = parse_accept_encoding(accept_encoding)
    wildcard = accepted.get("*", 0.0)
    for cheap in CHEAPEST:
        if cheap in available and accepted.get(cheap, wildcard) > 0:
            return cheap, FAST_LEVELS[cheap]
    return coding, FAST_LEVELS[coding]


def is_compressible_type(content_type, key=""):
    """Tell whether a content type (or a source map's key) is text-like enough to be worth compressing."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type.startswith("text/") or media_type in COMPRESSIBLE_TYPES:
        return True
    if media_type.endswith("+json") or media_type.endswith("+xml"):
        return True
    return key.endswith(COMPRESSIBLE_SUFFIXES)


def may_compress(headers, key, min_size, max_size=None):
    """Tell whether a whole response with these headers (lower-case names) may be sent compressed.

    Never for partial content, objects stored with a Content-Encoding, ``no-transform``, or bodies below
    ``min_size`` or above ``max_size`` (an unknown length, a stream, qualifies): compressing a big
    body on the fly would make every request for it a CPU amplifier.
    """
    if "content-range" in headers or headers.get("content-encoding", "identity").lower() != "identity":
        return False
    if "no-transform" in (headers.get("cache-control") or "").lower():
        return False
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) < min_size:
        return False
    if length is not None and length.isdigit() and max_size is not None and int(length) > max_size:
        return False
    return is_compressible_type(headers.get("content-type"), key)


def encoded_etag(etag, coding):
    """Return the strong ETag of the ``coding`` representation of an object tagged ``etag``."""
    if not etag or coding == "identity" or not etag.endswith('"'):
        return etag
    return f'{etag[:-1]}-{coding}"'


def strip_etag_suffixes(value):
    """Return an If-Match/If-None-Match value with our per-coding suffixes removed, as S3 knows the tags."""
    return ETAG_SUFFIX.sub('"', value)


def compress(data, coding, level=None):
    """Return ``data`` compressed with ``coding`` in one piece."""
    level = CACHED_LEVELS[coding] if level is None else level
    if coding == "gzip":
        # mtime=0: the same bytes give the same compressed bytes, in every worker and replica.
        return gzip.compress(data, compresslevel=level, mtime=0)
    if coding == "br":
        import brotli

        return brotli.compress(data, quality=level)
    return _zstd().compress(data, level=level)


def compress_off_loop(data, coding):
    """Return ``compress(data, coding)``, computed off the event loop when ``data`` is large (``app.offload``)."""
    if len(data) < offload.MIN_BYTES:
        return compress(data, coding)
    return offload.run(compress, data, coding)


def _zstd():
    try:
        from backports import zstd
    except ImportError:
        from compression import zstd
    return zstd


class _GzipStream:
    def __init__(self, level):
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a gzip header and trailer

    def compress(self, data):
        return self._z.compress(data)

    def finish(self):
        return self._z.flush()


class _BrotliStream:
    def __init__(self, level):
        import brotli

        self._c = brotli.Compressor(quality=level)

    def compress(self, data):
        return self._c.process(data)

    def finish(self):
        return self._c.finish()


class _ZstdStream:
    def __init__(self, level):
        self._c = _zstd().ZstdCompressor(level=level)

    def compress(self, data):
        return self._c.compress(data)

    def finish(self):
        return self._c.flush()


STREAMS = {"gzip": _GzipStream, "br": _BrotliStream, "zstd": _ZstdStream}


def compress_stream(chunks, coding, level=None):
    """Yield ``chunks`` compressed with ``coding`` as they come, never holding the whole body; closing closes ``chunks``."""
    stream = STREAMS[coding](STREAM_LEVELS[coding] if level is None else level)
    try:
        for chunk in chunks:
            out = offload.run(stream.compress, chunk) if len(chunk) >= offload.MIN_BYTES else stream.compress(chunk)
            if out:
                yield out
        out = stream.finish()
        if out:
            yield out
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
