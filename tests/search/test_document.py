"""The search document: round trip, stable bytes, and refusal of what is not one."""

import gzip
import json

import pytest

from app.search import document
from app.search.document import BadSearchDocument, decode_document, encode_document

ENTRIES = [
    {"path": "b.html", "title": "B", "sha256": "1" * 64, "sections": [["b", "B", 1, "bee", ""]]},
    {"path": "a.html", "title": "A ünï", "sha256": "2" * 64,
     "sections": [["", "", 0, "intro", ""], ["a.X", "a.X", 7, "text", "a.X"]]},
]


def test_a_document_round_trips_sorted_by_path():
    pages = decode_document(encode_document(ENTRIES))

    assert [page["path"] for page in pages] == ["a.html", "b.html"]
    assert pages[0]["title"] == "A ünï"
    assert pages[0]["sections"][1] == ("a.X", "a.X", 7, "text", "a.X")
    assert pages[0]["sha256"] == "2" * 64


def test_a_format_1_document_is_still_read_but_its_entries_are_never_reused():
    data = gzip.compress(json.dumps({"format": 1, "pages": [
        {"path": "a.html", "title": "A", "sha256": "2" * 64, "sections": [["x", "X", 2, "text"]]},
    ]}).encode())

    [page] = decode_document(data)

    assert page["sections"] == [("x", "X", 2, "text", "")]
    assert page["sha256"] == ""  # extracted by an older extractor: publish extracts the page again


def test_the_same_pages_in_any_order_give_the_same_bytes():
    assert encode_document(ENTRIES) == encode_document(list(reversed(ENTRIES)))


@pytest.mark.parametrize("data", [
    b"",
    b"not gzip",
    gzip.compress(b"not json"),
    gzip.compress(b"[]"),
    gzip.compress(json.dumps({"format": 3, "pages": []}).encode()),
    gzip.compress(json.dumps({"format": 1, "pages": [{"path": "x"}]}).encode()),
    gzip.compress(json.dumps({"format": 1, "pages": [{"path": "x", "title": "t", "sections": [[1, 2]]}]}).encode()),
], ids=range(7))
def test_anything_but_a_search_document_is_refused_with_a_reason(data):
    with pytest.raises(BadSearchDocument):
        decode_document(data)


def test_a_document_too_large_once_decompressed_is_refused(monkeypatch):
    monkeypatch.setattr(document, "MAX_DECODED_BYTES", 1000)

    with pytest.raises(BadSearchDocument, match="larger than"):
        decode_document(gzip.compress(b" " * 5000))
