"""Compression: negotiation from Accept-Encoding (a table), which responses qualify, and round trips."""

import gzip

import brotli
import pytest
from backports import zstd

from app.cache import compression

ALL = frozenset({"gzip", "br", "zstd"})


@pytest.mark.parametrize(
    "accept, available, chosen",
    [
        (None, ALL, "identity"),
        ("", ALL, "identity"),
        ("gzip", ALL, "gzip"),
        ("gzip, deflate, br, zstd", ALL, "zstd"),
        ("gzip, deflate, br", ALL, "br"),
        ("gzip, br", frozenset({"gzip"}), "gzip"),
        ("br;q=0.5, gzip;q=0.8", ALL, "gzip"),
        ("zstd;q=0.1, br;q=0.1, gzip;q=0.1", ALL, "zstd"),
        ("GZIP", ALL, "gzip"),
        ("x-gzip", ALL, "gzip"),
        ("*", ALL, "zstd"),
        ("*;q=0.5, br;q=0", ALL, "zstd"),
        ("*, zstd;q=0, br;q=0", ALL, "gzip"),
        ("gzip;q=0", ALL, "identity"),
        ("gzip;q=0, identity;q=0", ALL, None),
        ("identity;q=0", ALL, None),
        ("*;q=0", ALL, None),
        ("*;q=0, identity", ALL, "identity"),
        ("gzip;q=0.5, identity", ALL, "identity"),
        ("gzip, identity", ALL, "gzip"),
        ("gzip;q=abc", ALL, "identity"),
        ("gzip;q=2", ALL, "identity"),
        ("deflate, compress", ALL, "identity"),
        ("br, identity;q=0", frozenset({"gzip"}), None),
        (" gzip ; q=0.9 , br ; q=1.0 ", ALL, "br"),
    ],
)
def test_coding_is_chosen_by_q_value_then_zstd_br_gzip(accept, available, chosen):
    assert compression.choose_encoding(accept, available) == chosen


@pytest.mark.parametrize(
    "headers, key, compressible",
    [
        ({"content-type": "text/html; charset=utf-8", "content-length": "5000"}, "a.html", True),
        ({"content-type": "text/css", "content-length": "5000"}, "a.css", True),
        ({"content-type": "application/javascript", "content-length": "5000"}, "a.js", True),
        ({"content-type": "application/json", "content-length": "5000"}, "a.json", True),
        ({"content-type": "image/svg+xml", "content-length": "5000"}, "a.svg", True),
        ({"content-type": "application/vnd.api+json", "content-length": "5000"}, "a", True),
        ({"content-type": "binary/octet-stream", "content-length": "5000"}, "app.js.map", True),
        ({"content-type": "image/png", "content-length": "5000"}, "a.png", False),
        ({"content-type": "application/pdf", "content-length": "5000"}, "a.pdf", False),
        ({"content-type": "font/woff2", "content-length": "5000"}, "a.woff2", False),
        ({"content-type": "text/html", "content-length": "1023"}, "a.html", False),
        ({"content-type": "text/html"}, "a.html", True),
        ({"content-type": "text/html", "content-length": "5000", "content-encoding": "gzip"}, "a.html", False),
        ({"content-type": "text/html", "content-length": "5000", "content-encoding": "identity"}, "a.html", True),
        ({"content-type": "text/html", "content-length": "5000", "cache-control": "public, no-transform"},
         "a.html", False),
        ({"content-type": "text/html", "content-length": "100", "content-range": "bytes 0-99/5000"},
         "a.html", False),
    ],
)
def test_only_whole_text_like_bodies_above_the_minimum_are_compressed(headers, key, compressible):
    assert compression.may_compress(headers, key, 1024) is compressible


@pytest.mark.parametrize(
    "etag, coding, encoded",
    [
        ('"abc"', "gzip", '"abc-gzip"'),
        ('"abc-3"', "br", '"abc-3-br"'),
        ('"abc"', "identity", '"abc"'),
        (None, "gzip", None),
    ],
)
def test_each_coding_has_its_own_strong_etag(etag, coding, encoded):
    assert compression.encoded_etag(etag, coding) == encoded


@pytest.mark.parametrize(
    "header, stripped",
    [
        ('"abc-gzip"', '"abc"'),
        ('"abc-zstd", "def-br", "ghi"', '"abc", "def", "ghi"'),
        ('"abc-3-br"', '"abc-3"'),
        ('W/"abc-gzip"', 'W/"abc"'),
        ("*", "*"),
        ('"abc-3"', '"abc-3"'),
    ],
)
def test_suffixes_are_stripped_before_asking_s3(header, stripped):
    assert compression.strip_etag_suffixes(header) == stripped


TEXT = b"<p>The quick brown fox jumps over the lazy dog.</p>\n" * 2000
DECOMPRESS = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": zstd.decompress}


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_compressed_bodies_decompress_to_the_original(coding):
    compressed = compression.compress(TEXT, coding)

    assert len(compressed) < len(TEXT) / 10
    assert DECOMPRESS[coding](compressed) == TEXT


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_streamed_compression_decompresses_to_the_original_and_closes_the_source(coding):
    closed = []

    def chunks():
        try:
            for start in range(0, len(TEXT), 7000):
                yield TEXT[start:start + 7000]
        finally:
            closed.append(True)

    compressed = b"".join(compression.compress_stream(chunks(), coding))

    assert DECOMPRESS[coding](compressed) == TEXT
    assert closed == [True]


def test_a_stream_closed_early_closes_its_source():
    closed = []

    def chunks():
        try:
            while True:
                yield TEXT
        finally:
            closed.append(True)

    stream = compression.compress_stream(chunks(), "gzip")
    next(stream)
    stream.close()

    assert closed == [True]


def test_gzip_output_is_the_same_in_every_worker():
    assert compression.compress(TEXT, "gzip") == compression.compress(TEXT, "gzip")


@pytest.mark.parametrize("accept, length, expected", [
    ("gzip", 1000, ("gzip", 5)),
    ("gzip", None, ("gzip", 5)),
    ("gzip", 2 * 1024 * 1024, ("gzip", 1)),
    ("gzip;q=1, zstd;q=0.1", 100_000, ("gzip", 5)),
    ("gzip;q=1, zstd;q=0.1", 2 * 1024 * 1024, ("zstd", 1)),
    ("gzip, br", 2 * 1024 * 1024, ("br", 1)),
    ("*", 2 * 1024 * 1024, ("zstd", 1)),
    ("gzip, zstd;q=0", 2 * 1024 * 1024, ("gzip", 1)),
    ("identity", 2 * 1024 * 1024, ("identity", None)),
])
def test_large_streams_get_the_cheapest_accepted_coding_at_its_fastest_level(accept, length, expected):
    from app.cache.compression import stream_encoding

    assert stream_encoding(accept, frozenset({"gzip", "br", "zstd"}), length) == expected


@pytest.mark.parametrize("length, compressible", [("1024", True), ("4194304", True), ("4194305", False)])
def test_bodies_above_the_maximum_are_never_compressed_on_the_fly(length, compressible):
    from app.cache.compression import may_compress

    headers = {"content-type": "text/html", "content-length": length}
    assert may_compress(headers, "a.html", 1, 4 * 1024 * 1024) is compressible
