"""Query tables: everything a reader types is text, bounded, and always a valid FTS5 query."""

import sqlite3

import pytest

from app.search.engine import TOKENIZER
from app.search.query import parse_query

HOSTILE = ['"', '""', '"unbalanced', "*", "a*", "NEAR(", "NEAR(a b, 2)", "-", "-install", "a OR b", "NOT x",
           "AND", "title:install", "{title}: x", "^start", "(", ")", "x" * 1000, "ünïcödé 日本語 Ελληνικά", "emoji 🚀",
           "'; DROP TABLE docs; --", "\x00\x01control", "a\tb\nc", "+", "S3_BUCKET", "%", "\\", "col:*"]


@pytest.fixture(scope="module")
def fts():
    connection = sqlite3.connect(":memory:")
    connection.execute(f"CREATE VIRTUAL TABLE t USING fts5(body, tokenize='{TOKENIZER}')")
    connection.execute("INSERT INTO t VALUES ('near install title start docs drop table')")
    yield connection
    connection.close()


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_text_becomes_a_valid_fts_query_or_nothing(fts, text):
    query = parse_query(text)

    if not query.is_empty:
        fts.execute("SELECT count(*) FROM t WHERE t MATCH ?", (query.fts(),)).fetchone()


@pytest.mark.parametrize(("text", "expected"), [
    ("install", '"install"'),
    ("in", '"in"'),
    ("install proxy", '"install" "proxy"'),
    ('"make run" now', '"make run" "now"'),
    ('"make run"', '"make run"'),
    ("NEAR(a b, 2)", '"near a" "b" "2"'),
    ("S3_BUCKET", '"s3 bucket"'),
    ("docs-proxy", '"docs proxy"'),
    ("-install", '"install"'),
    ("instal*", '"instal"'),
    ("Ünïcode", '"ünïcode"'),
    ('"', ""),
    ("*** ---", ""),
])
def test_words_become_quoted_phrases_and_operators_vanish(text, expected):
    assert parse_query(text).fts() == expected


@pytest.mark.parametrize(("text", "completions", "expected"), [
    # the prefix as FTS5 syntax when the vocabulary names no completions ...
    ("instal", (), '"instal"*'),
    # ... else the completions themselves, the word typed first, within its phrase ...
    ("instal", ("install", "installation"), '("instal" OR "install" OR "installation")'),
    ("proxy instal", ("install",), '"proxy" AND ("instal" OR "install")'),
    ("docs-prox", ("proxy",), '("docs prox" OR "docs proxy")'),
    # ... never a word the prefix does not begin, nor one that is not a word ...
    ("instal", ("instal", "other", 'in"stall', "install*"), '"instal"'),
    # ... and no prefix at all on a quoted last phrase or a word under three letters.
    ('"instal"', ("install",), '"instal"'),
    ("in", ("install",), '"in"'),
])
def test_the_last_word_is_matched_as_a_prefix_by_its_completions(text, completions, expected):
    assert parse_query(text).fts(prefix=True, completions=completions) == expected


def test_a_long_query_is_cut_and_says_so():
    query = parse_query("word " * 300, max_chars=200, max_terms=12)

    assert query.shortened
    assert len(query.phrases) == 12
    assert len(query.text) <= 200


def test_a_short_query_is_not_marked_shortened():
    assert not parse_query("install proxy").shortened


def test_control_characters_are_dropped():
    assert parse_query("in\x00stall").phrases == (("install",),)
