"""The search index: one immutable SQLite file holding every record (section or API object) of the versions it holds.

Why SQLite FTS5 (the standard library's ``sqlite3``) rather than a pure-Python engine: BM25 ranking
with per-column weights, phrase and prefix queries, highlighting and snippets are built in and run in
C; and an index is one file that every worker of a host opens read-only (``immutable=1``) and maps
into memory, so the host holds one copy in its page cache instead of one private copy per worker.
bench/search_bench.py has the figures.

The query pipeline, best first; a record found by an earlier step is not repeated by a later one:

1. **identifier**: the query is an API name that is an object's full name, or a suffix of it on
   ``.``/``::`` boundaries (``writestr``, ``ZipFile.writestr``, ``zipfile.ZipFile.writestr``), full
   names first, then the fewest dropped qualifiers; when no name has the query as a suffix, the
   query's own suffixes are tried (``flask.wrappers.Response`` finds ``flask.Response``), ranked by
   how many of its parts the name shares;
2. **exact heading**: a page title, heading or object whose words are exactly the query's
   (``Getting started``), page titles first, then by heading level; for one plain word, only the
   objects whose full name it is come before these (``named_first``);
3. **phrase in headings**: the whole query as a phrase in a page title, heading or object name;
4. **all words in headings**, then 5. **all words anywhere**, each by BM25 over the columns weighted
   title 10, heading 5, names 8, body 1 (the last word also as a prefix: its ``MAX_COMPLETIONS``
   most frequent completions);
6. when nothing at all matches: **typo correction** against the index's own vocabulary (every
   object name and every indexed word one edit away: a letter deleted, inserted, replaced or two
   swapped), most frequent first, and the query runs again corrected (``jsno.dumps`` -> ``json.dumps``).

Bounded cost: BM25 is computed for at most ``MAX_RANKED`` records per step (the first in index
order), and not at all (nor the last word's prefix) for a query holding a word found in more than
``COMMON_RECORDS`` records, which ranks its first ``MAX_RANKED`` candidates by the steps alone;
totals are counted up to ``MAX_COUNTED``; each query is stopped by a progress handler past its
deadline (checked between rows only: FTS5 scans a posting list inside one step of SQLite's
virtual machine, hence the bounds).

Scopes (one project, the versions a reader may read) are filtered inside the full-text query, on an
indexed ``doc`` column holding a token per version, so a filter costs a merge of posting lists.

An index never changes once built (``build_index`` writes a new file beside the old one, copying the
rows of unchanged versions from it); ``open_index`` opens one read-only.
"""

import json
import os
import shutil
import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import quote

from ..exceptions import is_transient

from .query import TOKEN, identifier_key

SCHEMA_VERSION = "4"
TOKENIZER = "unicode61 remove_diacritics 2"
# title, heading, names, body
WEIGHTS = (10.0, 5.0, 8.0, 1.0)
MARK_START, MARK_END = "\x02", "\x03"
ELLIPSIS = "\u2026"
SNIPPET_TOKENS = 32
# How many SQLite virtual-machine steps run between two checks of a query's deadline.
PROGRESS_STEPS = 2000
MAX_RANKED = 2000
# The last word's completions searched for it as a prefix, the most frequent first.
MAX_COMPLETIONS = 20
MAX_IDENTIFIER_HITS = 200
MAX_COUNTED = 10_000
COMMON_RECORDS = 20_000
# A record's rowid is its page's id shifted left by this, plus its place in the page: ranking then
# needs no read of the stored row. 4,095 records per page: Flask's api.html has ~600 objects.
SECTION_BITS = 12
MAX_SECTIONS = (1 << SECTION_BITS) - 1
TEXT_COLUMNS = "{title heading names body}"
HEADING_COLUMNS = "{title heading names}"
# Typo correction: the characters an edit may insert or replace.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
# Longer names and words, or more words, are not corrected: their edits would cost more than they find.
MAX_CORRECTED_LENGTH = 80
MAX_CORRECTED_WORDS = 4
MAX_WORD_LENGTH = 30
# A read-only worker maps the file (shared page cache, not private memory) and keeps a small cache of its own.
MMAP_BYTES = 1 << 40
CACHE_KIB = 2048
# The builder's page cache: FTS5 buffers its pending terms itself, so a large cache buys little.
BUILD_CACHE_KIB = 8192


class SearchTimeout(Exception):
    """A query ran past its time limit and was stopped."""


@dataclass(frozen=True)
class Source:
    """One version's search document: which project and version, where it is, and its current stamp.

    ``stamp`` changes whenever the version is published again (its publish time or the document's
    ETag), so a rebuild reloads exactly the versions whose stamp moved.
    """

    project: str
    version: str
    key: str
    stamp: str = ""


@dataclass
class Hit:
    """One ranked record: where it is, and its title, heading and snippet with highlight marks."""

    project: str
    version: str
    path: str
    anchor: str
    title: str
    heading: str
    snippet: str
    name: str = ""


@dataclass
class Results:
    """One page of hits for a query, the total number of matching records, and the query corrected if it was."""

    hits: list = field(default_factory=list)
    total: int = 0
    corrected: str = None


@dataclass
class BuildStats:
    """What building an index did: sources loaded, reused from the previous index, missing, failed; pages; time.

    ``failed``: S3 failed to send them (``is_transient``), retried soon; ``broken``: their documents cannot be
    decoded or were refused, retried rarely (a republish replaces them anyway).
    """

    loaded: int = 0
    reused: int = 0
    missing: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    broken: list = field(default_factory=list)
    pages: int = 0
    sections: int = 0
    seconds: float = 0.0


class MissingDocument(Exception):
    """A version has no search document (published before search existed, or copied in by hand)."""


SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs(id INTEGER PRIMARY KEY, project TEXT NOT NULL, version TEXT NOT NULL, stamp TEXT NOT NULL);
CREATE TABLE pages(id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, path TEXT NOT NULL, title TEXT NOT NULL);
CREATE INDEX pages_doc ON pages(doc);
CREATE VIRTUAL TABLE sections USING fts5(
    title, heading, names, body, doc, anchor UNINDEXED, name UNINDEXED, tokenize='{TOKENIZER}'
);
CREATE TABLE idents(
    key TEXT NOT NULL, dropped INTEGER NOT NULL, section INTEGER NOT NULL, doc INTEGER NOT NULL, name TEXT NOT NULL
);
CREATE INDEX idents_key ON idents(key, dropped);
CREATE INDEX idents_doc ON idents(doc);
CREATE TABLE titles(key TEXT NOT NULL, level INTEGER NOT NULL, section INTEGER NOT NULL, doc INTEGER NOT NULL);
CREATE INDEX titles_key ON titles(key, level);
CREATE INDEX titles_doc ON titles(doc);
CREATE VIRTUAL TABLE vocabulary USING fts5vocab(sections, row);
CREATE TABLE words(term TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
"""


def identifier_words(name):
    """Return the words an API name is found by: its parts split on ``.``, ``::``, ``_``, ``-`` and camelCase.

    ``zipfile.ZipFile.writestr`` -> ``zipfile ZipFile writestr Zip File``; ``read_text`` -> ``read_text
    read text``. The dotted name itself comes first, so a phrase of its parts matches in order.
    """
    parts = [part for part in name.replace("::", ".").replace("#", ".").split(".") if part]
    words = [name, " ".join(parts)]
    for part in parts:
        pieces = [piece for chunk in part.replace("-", "_").split("_") for piece in _camel(chunk)]
        if len(pieces) > 1:
            words.append(" ".join(pieces))
    return " ".join(words)


def _camel(word):
    pieces, start = [], 0
    for index in range(1, len(word)):
        if word[index].isupper() and (word[index - 1].islower() or
                                      index + 1 < len(word) and word[index + 1].islower() and word[index - 1].isupper()):
            pieces.append(word[start:index])
            start = index
    pieces.append(word[start:])
    return [piece for piece in pieces if piece]


def identifier_keys(name):
    """Return ``(key, dropped)`` for every suffix of an API name on ``.`` boundaries: the lookups that find it."""
    key = identifier_key(name)
    parts = key.split(".")
    return [(".".join(parts[dropped:]), dropped) for dropped in range(len(parts)) if parts[dropped]]


def is_bare_name(query):
    """Tell whether ``query`` is a plain word that may also be an API name (``Views``, not ``read_text`` nor ``os.open``).

    A name typed with qualifiers, call parentheses or joined words (``read_text``, ``S3_BUCKET``)
    is an API name; one word alone may as well be a topic.
    """
    return (bool(query.identifier) and "." not in query.identifier and not query.text.endswith("()")
            and len(query.words) == 1)


def named_first(identified, titles, bare):
    """Return the records of the first two steps in rank order: identifier hits, exact titles and headings.

    ``identified`` holds ``(record, dropped)`` in the identifier step's order, ``titles`` the records
    whose title or heading is exactly the query's words, page titles first, then by heading level.
    A query typed as an API name (not ``bare``) finds its objects first. A bare word (``Views``,
    ``IntegrityError``) is as much a topic as a name: an object whose full name it is comes first
    (the ``math`` module); then the objects on pages holding a title or heading that is exactly
    the word, in the order of those titles (a class documented under a heading of its name, before
    its copy under a lower heading of a flattened index), then the titles; an object whose name
    merely ends in the word (``django.views``) comes after them.
    """
    if not bare or not titles:
        return [record for record, _ in identified] + titles
    title_rank = {}
    for rank, record in enumerate(titles):
        title_rank.setdefault(record >> SECTION_BITS, rank)
    titled = sorted((title_rank[record >> SECTION_BITS], position, record)
                    for position, (record, _) in enumerate(identified) if record >> SECTION_BITS in title_rank)
    untitled = [(record, dropped) for record, dropped in identified if record >> SECTION_BITS not in title_rank]
    return ([record for record, dropped in untitled if dropped == 0] + [record for _, _, record in titled] + titles
            + [record for record, dropped in untitled if dropped > 0])


def edits(word):
    """Return every string one edit from ``word``: a character deleted, two swapped, one replaced or inserted."""
    splits = [(word[:index], word[index:]) for index in range(len(word) + 1)]
    deleted = [left + right[1:] for left, right in splits if right]
    swapped = [left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1]
    replaced = [left + char + right[1:] for left, right in splits if right for char in ALPHABET]
    inserted = [left + char + right for left, right in splits for char in ALPHABET]
    return set(deleted + swapped + replaced + inserted) - {word}


class SearchIndex:
    """An immutable index file opened read-only, safe to query from many threads (one at a time)."""

    def __init__(self, connection, path=None):
        self._connection = connection
        self._lock = threading.Lock()
        self.path = path
        meta = dict(connection.execute("SELECT key, value FROM meta"))
        self.sources = tuple(Source(*source) for source in json.loads(meta.get("sources", "[]")))
        self.catalogs = tuple(json.loads(meta.get("catalogs", "[]")))
        self.built_at = float(meta.get("built_at", "0"))
        stats = json.loads(meta.get("stats", "{}"))
        self.stats = BuildStats(
            loaded=stats.get("loaded", 0), reused=stats.get("reused", 0),
            missing=[Source(*source) for source in stats.get("missing", [])],
            failed=[(Source(*source), reason) for source, reason in stats.get("failed", [])],
            broken=[(Source(*source), reason) for source, reason in stats.get("broken", [])],
            pages=stats.get("pages", 0), sections=stats.get("sections", 0), seconds=stats.get("seconds", 0.0),
        )
        self.docs = {(project, version): doc for doc, project, version in connection.execute(
            "SELECT id, project, version FROM docs")}

    def search(self, query, docs=None, offset=0, limit=10, timeout=0.5, is_readable=None):
        """Return ``Results`` for the parsed ``query``: hits ``offset`` to ``offset + limit`` in rank order.

        ``docs`` limits the search to these document ids (``None``: all); ``is_readable(project,
        version, path)`` drops hits the reader may not see (and they are not counted). Raises
        ``SearchTimeout`` past ``timeout``.
        """
        if query.is_empty or docs is not None and not docs:
            return Results()
        if docs is not None and set(docs) == set(self.docs.values()):
            docs = None
        deadline = time.monotonic() + timeout
        with self._lock:
            self._connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
            try:
                completions = self._completions(query)
                results = self._search(query, docs, offset, limit, is_readable, completions)
                if docs is not None and results.total < offset + limit and len(completions) >= MAX_COMPLETIONS:
                    # The host's most frequent completions of the prefix may all belong to other
                    # versions: within a scope, a word being typed is also sought by its prefix
                    # (slower; past the time limit, the named completions' results stand).
                    try:
                        results = self._search(query, docs, offset, limit, is_readable, completions=[])
                    except sqlite3.OperationalError as error:
                        if "interrupted" not in str(error) or not results.total:
                            raise
                if results.total == 0 and not results.hits:
                    corrected = self._correct(query, docs)
                    if corrected is not None:
                        results = self._search(corrected, docs, offset, limit, is_readable, self._completions(corrected))
                        results.corrected = corrected.text if results.total else None
            except sqlite3.OperationalError as error:
                if "interrupted" in str(error):
                    raise SearchTimeout(f"the search took longer than {timeout:g} s") from None
                raise
            finally:
                self._connection.set_progress_handler(None, 0)
        return results

    def _search(self, query, docs, offset, limit, is_readable, completions):
        """Rank ``query`` with ``completions`` (``_completions``; empty: the last word's prefix as FTS5's ``word*``)."""
        common = self._is_common(query, completions)
        # No prefix on a query with a very common word: even named, the completions of a common
        # prefix are common words, whose posting lists each candidate is sought in.
        words = query.fts(prefix=not common, completions=[term for term, _ in completions])
        matched = f"{TEXT_COLUMNS} : ({words})"
        scope = ""
        if docs is not None:
            scope = "doc : (" + " OR ".join(f'"{doc_token(doc)}"' for doc in sorted(docs)) + ") AND "
        steps = [
            f"{scope}{HEADING_COLUMNS} : ({query.phrase()})",
            f"{scope}{HEADING_COLUMNS} : ({words})",
            f"{scope}{matched}",
        ]
        ranked = self._ranked(query, docs, steps, common)
        chosen = []
        pages = {}
        if is_readable is None:
            # Counted up to MAX_COUNTED: a word in most of a million records would cost a full doclist
            # scan to count exactly, for a figure no reader pages through (100 result pages at most).
            total = self._connection.execute(
                "SELECT count(*) FROM (SELECT 1 FROM sections WHERE sections MATCH ? LIMIT ?)",
                (steps[-1], MAX_COUNTED)).fetchone()[0]
            for seen, rowid in enumerate(ranked, start=1):
                if seen > offset:
                    chosen.append(rowid)
                if len(chosen) == limit:
                    break
        else:
            # Only what the reader may read is counted: a total that included refused pages would
            # tell how many of them hold the words. (Ranked hits only, so a lower bound.)
            total = 0
            ranked = list(ranked)
            self._pages(ranked, pages)
            for rowid in ranked:
                if not is_readable(*self._page(rowid >> SECTION_BITS, pages)[:3]):
                    continue
                total += 1
                if offset < total <= offset + limit:
                    chosen.append(rowid)
        hits = [self._hit(rowid, steps[-1], pages) for rowid in chosen]
        return Results(hits, max(total, offset + len(hits)))

    def _is_common(self, query, completions=()):
        """Tell whether a word of ``query``, or its last word's completions together, are in more than ``COMMON_RECORDS`` records.

        BM25 counts the records holding each word on every query (a scan of its whole posting
        list): for a word in most of a million records, that alone is past any time limit, and the
        order it gives among them means nothing. Such queries rank the first ``MAX_RANKED`` records
        holding every word by the steps alone (``_ranked``). A word too short to be counted is common.
        """
        if sum(count for _, count in completions) > COMMON_RECORDS:
            return True
        for word in set(query.words):
            if len(word) <= 2:
                return True
            row = self._connection.execute("SELECT count FROM words WHERE term = ?", (word,)).fetchone()
            if row is not None and row[0] > COMMON_RECORDS:
                return True
        return False

    def _completions(self, query):
        """Return ``(word, records)`` for the ``MAX_COMPLETIONS`` most frequent indexed words the last word begins, if it is a prefix.

        As a search engine bounds a prefix's expansions (Lucene's and Elasticsearch's
        ``max_expansions``): the words a reader is typing towards are the frequent ones. Empty when
        the vocabulary cannot name them (a word with diacritics, which the index stores without).
        """
        if not query.prefix:
            return []
        last = query.phrases[-1][-1]
        if not last.isascii():
            return []
        return self._connection.execute(
            "SELECT term, count FROM words WHERE term >= ? AND term < ? ORDER BY count DESC LIMIT ?",
            (last, last[:-1] + chr(ord(last[-1]) + 1), MAX_COMPLETIONS)).fetchall()

    def _pages(self, rowids, cache):
        """Read the pages of ``rowids`` into ``cache`` (``page id -> (project, version, path, title)``), many at a time."""
        wanted = sorted({rowid >> SECTION_BITS for rowid in rowids} - cache.keys())
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            for page, *row in self._connection.execute(
                    "SELECT pages.id, docs.project, docs.version, pages.path, pages.title FROM pages "
                    f"JOIN docs ON docs.id = pages.doc WHERE pages.id IN ({','.join('?' * len(chunk))})", chunk):
                cache[page] = tuple(row)

    def _ranked(self, query, docs, steps, common=False):
        seen = set()
        in_scope = "" if docs is None else f" AND doc IN ({','.join(str(int(doc)) for doc in docs)})"
        identified = self._identified(query.identifier, in_scope, query.text)
        titles = [rowid for (rowid,) in self._connection.execute(
            f"SELECT section FROM titles WHERE key = ?{in_scope} ORDER BY level, section LIMIT ?",
            (" ".join(query.words), MAX_IDENTIFIER_HITS),
        )]
        for rowid in named_first(identified, titles, is_bare_name(query)):
            if rowid not in seen:
                seen.add(rowid)
                yield rowid
        for rowid in self._common_ranked(steps) if common else self._bm25_ranked(steps):
            if rowid not in seen:
                seen.add(rowid)
                yield rowid

    def _bm25_ranked(self, steps):
        """Yield the first ``MAX_RANKED`` records of each step, each step's by BM25 over the weighted columns."""
        weights = ", ".join(str(weight) for weight in WEIGHTS)
        for expression in steps:
            rows = self._connection.execute(
                f"SELECT rowid, bm25(sections, {weights}, 0) FROM sections WHERE sections MATCH ? LIMIT ?",
                (expression, MAX_RANKED),
            ).fetchall()
            rows.sort(key=lambda row: row[1])
            yield from (rowid for rowid, _ in rows)

    def _common_ranked(self, steps):
        """Yield the first ``MAX_RANKED`` records holding every word (index order), those matching the earlier steps first.

        The candidates are bounded before they are ranked, as search engines do for their most
        common terms: the heading steps are asked only up to the last candidate's rowid. Asked over
        the whole index, a phrase of two words found in most records but rarely side by side in a
        heading would be looked for in every one of them (``_is_common`` says why BM25 is skipped).
        """
        candidates = [rowid for (rowid,) in self._connection.execute(
            "SELECT rowid FROM sections WHERE sections MATCH ? LIMIT ?", (steps[-1], MAX_RANKED))]
        if not candidates:
            return
        for expression in steps[:-1]:
            yield from (rowid for (rowid,) in self._connection.execute(
                "SELECT rowid FROM sections WHERE sections MATCH ? AND rowid <= ? LIMIT ?",
                (expression, candidates[-1], MAX_RANKED)))
        yield from candidates

    def _identified(self, identifier, in_scope, typed=""):
        """Return ``(record, dropped)`` for the records an API name finds: by its full name or a suffix, else by a suffix of the query.

        The fallback gathers the names ending in any of the query's suffixes and ranks them by how
        many of the query's parts they hold (``sqlalchemy.dialects.mysql.types.NCHAR`` finds
        ``sqlalchemy.dialects.mysql.NCHAR`` before ``sqlalchemy.types.NCHAR``), then by the last
        part's case as typed (``Update`` the class before ``update`` the function).
        """
        if not identifier:
            return []
        last_typed = typed.replace("::", ".").replace("#", ".").removesuffix("()").rsplit(".", 1)[-1]
        rows = self._connection.execute(
            f"SELECT section, dropped, name FROM idents WHERE key = ?{in_scope} ORDER BY dropped, section LIMIT ?",
            (identifier, MAX_IDENTIFIER_HITS)).fetchall()
        if rows:
            # Same dropped qualifiers: the name whose last part has the case typed first.
            rows.sort(key=lambda row: (row[1], row[2].replace("::", ".").rsplit(".", 1)[-1] != last_typed, row[0]))
            return [(rowid, dropped) for rowid, dropped, _ in rows]
        parts = identifier.split(".")
        scored = {}
        for start in range(1, len(parts)):
            for rowid, name in self._connection.execute(
                    f"SELECT section, name FROM idents WHERE key = ?{in_scope} ORDER BY dropped LIMIT ?",
                    (".".join(parts[start:]), MAX_IDENTIFIER_HITS)):
                name_parts = identifier_key(name).split(".")
                shared = len(set(parts[:start]) & set(name_parts))
                if shared and rowid not in scored:
                    # Only names that share a qualifier with the query: "jsno.dumps" is a typo, not any "dumps".
                    case = name.replace("::", ".").rsplit(".", 1)[-1] != last_typed
                    scored[rowid] = (-len(set(parts) & set(name_parts)), case, len(name), rowid)
        return [(rowid, 1) for rowid, _ in sorted(scored.items(), key=lambda item: item[1])]

    def _correct(self, query, docs):
        """Return ``query`` corrected against the index's names and words, or ``None`` when nothing is one edit away."""
        in_scope = "" if docs is None else f" AND doc IN ({','.join(str(int(doc)) for doc in docs)})"
        if query.identifier and len(query.identifier) <= MAX_CORRECTED_LENGTH:
            found = self._nearest_name(edits(query.identifier), in_scope)
            if found is None and "." in query.identifier:
                # A typo in the last part ("flask.Flask.make_respnse"): its edits among short names,
                # best when the name shares the query's qualifiers.
                qualifiers, _, last = query.identifier.rpartition(".")
                found = self._nearest_name(edits(last), in_scope, set(qualifiers.split(".")))
            if found is not None:
                return query.corrected({}, identifier=found)
        if len(query.words) > MAX_CORRECTED_WORDS:
            return None
        replacements = {}
        for word in set(query.words):
            if self._connection.execute("SELECT 1 FROM words WHERE term = ?", (word,)).fetchone():
                continue
            candidates = sorted(edits(word)) if 2 < len(word) <= MAX_WORD_LENGTH else []
            best = None
            for start in range(0, len(candidates), 500):
                chunk = candidates[start:start + 500]
                row = self._connection.execute(
                    f"SELECT term, count FROM words WHERE term IN ({','.join('?' * len(chunk))}) "
                    "ORDER BY count DESC LIMIT 1", chunk).fetchone()
                if row is not None and (best is None or row[1] > best[1]):
                    best = row
            if best is None:
                return None
            replacements[word] = best[0]
        return query.corrected(replacements) if replacements else None

    def _nearest_name(self, candidates, in_scope, qualifiers=None):
        """Return the full name of the object a candidate key finds (fewest dropped parts, most shared qualifiers)."""
        candidates = sorted(candidates)
        best = None
        for start in range(0, len(candidates), 500):
            chunk = candidates[start:start + 500]
            rows = self._connection.execute(
                f"SELECT name, dropped FROM idents WHERE key IN ({','.join('?' * len(chunk))}){in_scope} "
                f"ORDER BY dropped LIMIT {MAX_IDENTIFIER_HITS}", chunk).fetchall()
            for name, dropped in rows:
                shared = len(qualifiers & set(identifier_key(name).split("."))) if qualifiers else 0
                rank = (-shared, dropped, len(name))
                if best is None or rank < best[0]:
                    best = (rank, name)
        if best is None or qualifiers and best[0][0] == 0:
            return None
        return best[1]

    def _page(self, page, cache):
        if page not in cache:
            cache[page] = self._connection.execute(
                "SELECT docs.project, docs.version, pages.path, pages.title FROM pages JOIN docs ON docs.id = pages.doc "
                "WHERE pages.id = ?", (page,)).fetchone()
        return cache[page]

    def _hit(self, rowid, match, pages):
        marks = (MARK_START, MARK_END)
        row = self._connection.execute(
            f"""SELECT anchor, name, highlight(sections, 1, ?, ?), snippet(sections, 3, ?, ?, ?, {SNIPPET_TOKENS})
                FROM sections WHERE sections MATCH ? AND rowid = ?""",
            (*marks, *marks, ELLIPSIS, match, rowid),
        ).fetchone()
        if row is None:
            # Found by its name only (an identifier the words do not match): no highlights.
            row = self._connection.execute(
                "SELECT anchor, name, heading, substr(body, 1, 200) FROM sections WHERE rowid = ?", (rowid,)).fetchone()
        anchor, name, heading, snippet = row
        project, version, path, title = self._page(rowid >> SECTION_BITS, pages)
        return Hit(project, version, path, anchor, title, heading, snippet, name)

    def size_bytes(self):
        """Return the size of the index's database, in bytes."""
        with self._lock:
            count = self._connection.execute("PRAGMA page_count").fetchone()[0]
            size = self._connection.execute("PRAGMA page_size").fetchone()[0]
        return count * size

    def close(self):
        """Close the index's connection (queries still running finish first)."""
        with self._lock:
            self._connection.close()


def open_index(path):
    """Return the ``SearchIndex`` in the file at ``path``, opened read-only and mapped into memory."""
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro&immutable=1"
    # check_same_thread=False: request threads share it, one query at a time (SearchIndex's lock).
    connection = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    try:
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"not a search index of schema {SCHEMA_VERSION}")
        connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return SearchIndex(connection, path)
    except sqlite3.DatabaseError:
        connection.close()
        raise


def build_index(path, sources, load, previous=None, threads=4, catalog=None):
    """Write a new index of ``sources`` to the file ``path`` and return its ``BuildStats``.

    ``load(source)`` returns a source's page entries. Versions whose ``Source`` (stamp included) is
    unchanged in the ``previous`` index (a ``SearchIndex``) are copied from its file instead of
    loaded again; the others are loaded ``threads`` at a time. A source whose document is missing or
    cannot be decoded is left out; one that S3 failed to send (``is_transient``) keeps the rows the
    previous index had for it, if any; all are listed in the stats. ``catalog`` (the portal catalog's
    version id the sources come from) is remembered, so an older catalog never rebuilds a newer index.
    """
    started = time.monotonic()
    stats = BuildStats()
    if os.path.exists(path):
        os.unlink(path)
    reusable = set()
    if previous is not None and previous.path and os.path.exists(previous.path):
        shutil.copyfile(previous.path, path)
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute(f"PRAGMA cache_size = -{BUILD_CACHE_KIB}")
        if previous is not None and previous.path:
            reusable = {(doc, project, version, stamp) for doc, project, version, stamp in connection.execute(
                "SELECT id, project, version, stamp FROM docs")}
        else:
            connection.executescript(SCHEMA)
        wanted = {(source.project, source.version): source for source in sources}
        kept = set()
        for doc, project, version, stamp in reusable:
            source = wanted.get((project, version))
            if source is not None and source.stamp == stamp:
                kept.add((project, version))
                stats.reused += 1
        # Bulk load: no incremental merging of FTS5's segments while inserting (one 'optimize' at the end
        # merges them all once), and a larger in-memory buffer of pending terms before each flush.
        connection.execute("INSERT INTO sections(sections, rank) VALUES('automerge', 0)")
        connection.execute("INSERT INTO sections(sections, rank) VALUES('crisismerge', 64)")
        connection.execute("BEGIN")
        # A version published again keeps its old rows until its new document is read: if S3 fails
        # now (briefly: is_transient), searches still find it as it was until the retry, not at all.
        replaced = {}
        for doc, project, version, stamp in reusable:
            if (project, version) in kept:
                continue
            if (project, version) in wanted:
                replaced[project, version] = doc
            else:
                _delete_doc(connection, doc)
        to_load = [source for source in sources if (source.project, source.version) not in kept]
        for source, outcome in load_all(load, to_load, threads):
            old = replaced.get((source.project, source.version))
            if isinstance(outcome, Exception) and not isinstance(outcome, MissingDocument):
                reason = f"{type(outcome).__name__}: {outcome}"
                if is_transient(outcome):
                    stats.failed.append((source, reason))
                    continue
                stats.broken.append((source, reason))
                # Not S3 being briefly unwell (a document that cannot be decoded, a refusal): the old
                # text must not stay searchable for as long as that lasts (a republish may have removed it).
                outcome = None
            if old is not None:
                _delete_doc(connection, old)
            if isinstance(outcome, MissingDocument):
                stats.missing.append(source)
            elif outcome is not None:
                _insert_doc(connection, source, outcome)
                stats.loaded += 1
        # Merge FTS5's segments into one: smaller, and faster to query than the many an insert leaves.
        connection.execute("INSERT INTO sections(sections) VALUES('optimize')")
        connection.execute("DELETE FROM words")
        connection.execute("INSERT INTO words SELECT term, doc FROM vocabulary "
                           "WHERE length(term) > 2 AND NOT term GLOB 'd[0-9]*' AND NOT term GLOB '[0-9]*'")
        stats.pages, stats.sections = (
            connection.execute("SELECT count(*) FROM pages").fetchone()[0],
            connection.execute("SELECT count(*) FROM sections").fetchone()[0],
        )
        stats.seconds = time.monotonic() - started
        catalogs = list(previous.catalogs if previous is not None else ())
        if catalog and catalog not in catalogs:
            catalogs = (catalogs + [catalog])[-50:]
        meta = {
            "schema": SCHEMA_VERSION,
            "sources": json.dumps([[s.project, s.version, s.key, s.stamp] for s in sources]),
            "catalogs": json.dumps(catalogs),
            "built_at": repr(time.time()),
            "stats": json.dumps({
                "loaded": stats.loaded, "reused": stats.reused, "pages": stats.pages, "sections": stats.sections,
                "seconds": stats.seconds,
                "missing": [[s.project, s.version, s.key, s.stamp] for s in stats.missing],
                "failed": [[[s.project, s.version, s.key, s.stamp], reason] for s, reason in stats.failed],
                "broken": [[[s.project, s.version, s.key, s.stamp], reason] for s, reason in stats.broken],
            }),
        }
        connection.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", meta.items())
        connection.execute("COMMIT")
    finally:
        connection.close()
    # On disk before it is renamed over the old index: a crash never leaves a half-written index
    # under the served name, and readers map clean pages (the host's page cache, shared, droppable).
    with open(path, "rb") as file:
        os.fsync(file.fileno())
    return stats


def load_all(load, sources, threads):
    """Yield ``(source, entries or the exception raised)`` in order, loading ``threads`` sources ahead.

    The window is bounded so that at most ``threads`` decoded documents wait in memory at once.
    """

    def attempt(source):
        try:
            return load(source)
        except Exception as error:  # noqa: BLE001 - one bad document must not keep every other version out
            return error

    remaining = iter(sources)
    with ThreadPoolExecutor(threads, thread_name_prefix="search-load") as pool:
        window = deque((source, pool.submit(attempt, source)) for source in islice(remaining, threads))
        while window:
            source, future = window.popleft()
            upcoming = next(remaining, None)
            if upcoming is not None:
                window.append((upcoming, pool.submit(attempt, upcoming)))
            yield source, future.result()


INSERT_SECTION = (
    "INSERT INTO sections(rowid, title, heading, names, body, doc, anchor, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def doc_token(doc):
    """Return the token that marks a version's rows in the ``doc`` column (a letter: never a query word)."""
    return f"d{doc}"


def _delete_doc(connection, doc):
    connection.execute("DELETE FROM sections WHERE sections MATCH ?", (f'doc : "{doc_token(doc)}"',))
    connection.execute("DELETE FROM idents WHERE doc = ?", (doc,))
    connection.execute("DELETE FROM titles WHERE doc = ?", (doc,))
    connection.execute("DELETE FROM pages WHERE doc = ?", (doc,))
    connection.execute("DELETE FROM docs WHERE id = ?", (doc,))


def _insert_doc(connection, source, entries):
    doc = connection.execute(
        "INSERT INTO docs(project, version, stamp) VALUES (?, ?, ?)", (source.project, source.version, source.stamp)
    ).lastrowid
    rows, idents, titles = [], [], []
    for entry in entries:
        page = connection.execute(
            "INSERT INTO pages(doc, path, title) VALUES (?, ?, ?)", (doc, entry["path"], entry["title"])
        ).lastrowid
        sections = list(entry["sections"]) or [("", "", 0, "", "")]
        if len(sections) > MAX_SECTIONS:
            # Past the rowid's room: the rest of the page joins its last record.
            last = sections[MAX_SECTIONS - 1]
            rest = " ".join(record[3] for record in sections[MAX_SECTIONS - 1:])
            sections = sections[:MAX_SECTIONS - 1] + [(last[0], last[1], last[2], rest, last[4] if len(last) > 4 else "")]
        for index, record in enumerate(sections):
            anchor, heading, level, text = record[:4]
            name = record[4] if len(record) > 4 else ""
            rowid = (page << SECTION_BITS) | index
            rows.append((rowid, entry["title"] if index == 0 else "", heading,
                         identifier_words(name) if name else "", text, doc_token(doc), anchor, name))
            if name:
                idents.extend((key, dropped, rowid, doc, name) for key, dropped in identifier_keys(name))
            if index == 0 and entry["title"]:
                titles.append((" ".join(TOKEN.findall(entry["title"].casefold())), 0, rowid, doc))
            if heading and heading != (entry["title"] if index == 0 else None):
                titles.append((" ".join(TOKEN.findall(heading.casefold())), level or 7, rowid, doc))
        if len(rows) >= 5000:
            connection.executemany(INSERT_SECTION, rows)
            connection.executemany("INSERT INTO idents(key, dropped, section, doc, name) VALUES (?, ?, ?, ?, ?)", idents)
            connection.executemany("INSERT INTO titles(key, level, section, doc) VALUES (?, ?, ?, ?)", titles)
            rows.clear()
            idents.clear()
            titles.clear()
    connection.executemany(INSERT_SECTION, rows)
    connection.executemany("INSERT INTO idents(key, dropped, section, doc, name) VALUES (?, ?, ?, ?, ?)", idents)
    connection.executemany("INSERT INTO titles(key, level, section, doc) VALUES (?, ?, ?, ?)", titles)
