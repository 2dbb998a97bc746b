"""The search index: SQLite FTS5 in memory, one row per section of every page of the versions it holds.

Why FTS5 (the standard library's ``sqlite3``) rather than a pure-Python engine: BM25 ranking with
per-column weights, phrase and prefix queries, highlighting and snippets are built in and run in C,
the index of 10,000 pages fits in a few tens of MiB, and there is nothing to install or keep up to
date. bench/search_bench.py has the figures.

Ranking, in two tiers: first the sections whose title or heading hold every word of the query,
then the others (the words in the body), each tier ordered by BM25 over the columns weighted
title 10, heading 5, body 1. A page's title is indexed on its first section only, so a page whose
title matches ranks that section first instead of flooding the results with every section of it.

Bounded cost: BM25 is computed for at most ``MAX_RANKED`` sections per tier (the first ones in index
order). Only a query made of words found in nearly every page reaches that (the bench's most common
word matches 39,000 sections); ranking all of them would take ~100 ms and order them by differences
that mean nothing, whereas their title and heading matches, the ones worth showing, are few.

Scopes (one project, the versions a reader may read) are filtered inside the full-text query, on an
indexed ``doc`` column holding a token per version, so a filter costs a merge of posting lists
rather than a lookup of every matching row.

An index never changes once built (``build_index``); a refresh builds a new one beside it, copying
the rows of unchanged versions from the old one with SQLite's backup API, then swaps it in. Queries
on an index share one connection under a lock; each is bounded in time by a progress handler.
"""

import sqlite3
import threading
import time
from collections import deque
from itertools import islice
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from .. import offload

TOKENIZER = "porter unicode61 remove_diacritics 2"
WEIGHTS = (10.0, 5.0, 1.0)
MARK_START, MARK_END = "\x02", "\x03"
ELLIPSIS = "\u2026"
SNIPPET_TOKENS = 32
# How many SQLite virtual-machine steps run between two checks of a query's deadline.
PROGRESS_STEPS = 2000
MAX_RANKED = 2000
BACKUP_STEP_PAGES = 1024
# A section's rowid is its page's id shifted left by this, plus its place in the page: ranking then
# needs no read of the stored row (that read, not BM25, was most of a broad query's cost).
SECTION_BITS = 10
MAX_SECTIONS = (1 << SECTION_BITS) - 1
TEXT_COLUMNS = "{title heading body}"
HEADING_COLUMNS = "{title heading}"


class SearchTimeout(Exception):
    """A query ran past its time limit and was stopped."""


@dataclass(frozen=True)
class Source:
    """One version's search document: which project and version, where it is, and its current stamp.

    ``stamp`` changes whenever the version is published again (its publish time or the document's
    ETag), so a refresh reloads exactly the versions whose stamp moved.
    """

    project: str
    version: str
    key: str
    stamp: str = ""


@dataclass
class Hit:
    """One ranked section: where it is, and its title, heading and snippet with highlight marks."""

    project: str
    version: str
    path: str
    anchor: str
    title: str
    heading: str
    snippet: str


@dataclass
class Results:
    """One page of hits for a query, with the total number of matching sections."""

    hits: list = field(default_factory=list)
    total: int = 0


@dataclass
class BuildStats:
    """What building an index did: sources loaded, reused from the previous index, missing, failed; pages; time."""

    loaded: int = 0
    reused: int = 0
    missing: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    pages: int = 0
    sections: int = 0
    seconds: float = 0.0


class MissingDocument(Exception):
    """A version has no search document (published before search existed, or copied in by hand)."""


SCHEMA = f"""
CREATE TABLE docs(id INTEGER PRIMARY KEY, project TEXT NOT NULL, version TEXT NOT NULL, stamp TEXT NOT NULL);
CREATE TABLE pages(id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, path TEXT NOT NULL, title TEXT NOT NULL);
CREATE INDEX pages_doc ON pages(doc);
CREATE VIRTUAL TABLE sections USING fts5(
    title, heading, body, doc, anchor UNINDEXED, tokenize='{TOKENIZER}'
);
"""


def _connect():
    # check_same_thread=False: the index is built on a background thread and queried by request
    # threads. Queries take SearchIndex's lock (they set a per-connection progress handler); the
    # step-wise backup of a refresh does not, SQLite's own connection mutex serialising it.
    connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA temp_store = MEMORY")
    return connection


class SearchIndex:
    """An immutable FTS5 index of some versions' sections, safe to query from many threads."""

    def __init__(self, connection, sources, stats):
        self._connection = connection
        self._lock = threading.Lock()
        self.sources = tuple(sources)
        self.stats = stats
        self.docs = {(project, version): doc for doc, project, version in connection.execute(
            "SELECT id, project, version FROM docs")}
        names = {doc: pair for pair, doc in self.docs.items()}
        # Where each page is, kept in Python: the access check of a ranked row needs no SQL.
        self._pages = {page: (*names[doc], path) for page, doc, path in connection.execute(
            "SELECT id, doc, path FROM pages")}

    def search(self, query, docs=None, offset=0, limit=10, timeout=0.5, is_readable=None):
        """Return ``Results`` for the parsed ``query``: hits ``offset`` to ``offset + limit`` in rank order.

        ``docs`` limits the search to these document ids (``None``: all); ``is_readable(project,
        version, path)`` drops hits the reader may not see. Raises ``SearchTimeout`` past ``timeout``.
        """
        if query.is_empty or docs is not None and not docs:
            return Results()
        words = query.fts()
        matched = f"{TEXT_COLUMNS} : ({words})"
        if docs is not None and set(docs) != set(self.docs.values()):
            scope = " OR ".join(f'"{doc_token(doc)}"' for doc in sorted(docs))
            matched = f"doc : ({scope}) AND {matched}"
        top = f"({matched}) AND {HEADING_COLUMNS} : ({words})"
        tiers = (top, f"({matched}) NOT ({HEADING_COLUMNS} : ({words}))")
        deadline = time.monotonic() + timeout
        with self._lock:
            self._connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
            try:
                chosen = []
                if is_readable is None:
                    total = self._connection.execute("SELECT count(*) FROM sections WHERE sections MATCH ?", (matched,)).fetchone()[0]
                    for seen, rowid in enumerate(self._ranked(tiers), start=1):
                        if seen > offset:
                            chosen.append(rowid)
                        if len(chosen) == limit:
                            break
                else:
                    # Only what the reader may read is counted: a total that included refused pages
                    # would tell how many of them hold the words. (Ranked hits only, so a lower bound.)
                    total = 0
                    for rowid in self._ranked(tiers):
                        if not is_readable(*self._pages[rowid >> SECTION_BITS]):
                            continue
                        total += 1
                        if offset < total <= offset + limit:
                            chosen.append(rowid)
                hits = [self._hit(rowid, matched) for rowid in chosen]
            except sqlite3.OperationalError as error:
                if "interrupted" in str(error):
                    raise SearchTimeout(f"the search took longer than {timeout:g} s") from None
                raise
            finally:
                self._connection.set_progress_handler(None, 0)
        return Results(hits, max(total, offset + len(hits)))

    def _ranked(self, tiers):
        weights = ", ".join(str(weight) for weight in WEIGHTS)
        for expression in tiers:
            rows = self._connection.execute(
                f"SELECT rowid, bm25(sections, {weights}, 0) FROM sections WHERE sections MATCH ? LIMIT ?",
                (expression, MAX_RANKED),
            ).fetchall()
            rows.sort(key=lambda row: row[1])
            for rowid, _ in rows:
                yield rowid

    def _hit(self, rowid, match):
        marks = (MARK_START, MARK_END)
        anchor, heading, snippet = self._connection.execute(
            f"""SELECT anchor, highlight(sections, 1, ?, ?), snippet(sections, 2, ?, ?, ?, {SNIPPET_TOKENS})
                FROM sections WHERE sections MATCH ? AND rowid = ?""",
            (*marks, *marks, ELLIPSIS, match, rowid),
        ).fetchone()
        page = rowid >> SECTION_BITS
        title = self._connection.execute("SELECT title FROM pages WHERE id = ?", (page,)).fetchone()[0]
        return Hit(*self._pages[page], anchor, title, heading, snippet)

    def size_bytes(self):
        """Return the memory the index's database occupies (its pages), in bytes."""
        with self._lock:
            count = self._connection.execute("PRAGMA page_count").fetchone()[0]
            size = self._connection.execute("PRAGMA page_size").fetchone()[0]
        return count * size

    def close(self):
        """Free the index's memory (queries still running finish first)."""
        with self._lock:
            self._connection.close()


def build_index(sources, load, previous=None, threads=4):
    """Return a new ``SearchIndex`` of ``sources``; ``load(source)`` returns a source's page entries.

    Versions whose ``Source`` (stamp included) is unchanged since ``previous`` are copied from it
    instead of loaded again; the others are loaded ``threads`` at a time. A source whose document is
    missing or cannot be loaded is left out and listed in the stats.
    """
    started = time.monotonic()
    stats = BuildStats()
    connection = _connect()
    reusable = {}
    if previous is not None:
        # In steps, without the query lock: SQLite serialises each step against running queries,
        # so the old index keeps answering while it is copied (it never changes, so no step restarts).
        # On a native thread under gevent (app.offload), as the inserts and the merge below: the loop keeps serving.
        offload.run(partial(previous._connection.backup, connection, pages=BACKUP_STEP_PAGES))
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
    connection.execute("BEGIN")
    for doc, project, version, stamp in reusable:
        if (project, version) not in kept:
            _delete_doc(connection, doc)
    to_load = [source for source in sources if (source.project, source.version) not in kept]
    for source, outcome in load_all(load, to_load, threads):
        if isinstance(outcome, MissingDocument):
            stats.missing.append(source)
        elif isinstance(outcome, Exception):
            stats.failed.append((source, f"{type(outcome).__name__}: {outcome}"))
        else:
            offload.run(_insert_doc, connection, source, outcome, stats)
            stats.loaded += 1
    connection.execute("COMMIT")
    # Merge FTS5's segments into one: smaller, and faster to query than the many an insert leaves.
    offload.run(connection.execute, "INSERT INTO sections(sections) VALUES('optimize')")
    stats.pages, stats.sections = (
        connection.execute("SELECT count(*) FROM pages").fetchone()[0],
        connection.execute("SELECT count(*) FROM sections").fetchone()[0],
    )
    stats.seconds = time.monotonic() - started
    return SearchIndex(connection, sources, stats)


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


INSERT_SECTION = "INSERT INTO sections(rowid, title, heading, body, doc, anchor) VALUES (?, ?, ?, ?, ?, ?)"


def doc_token(doc):
    """Return the token that marks a version's rows in the ``doc`` column (a letter: never a query word's stem)."""
    return f"d{doc}"


def _delete_doc(connection, doc):
    connection.execute("DELETE FROM sections WHERE sections MATCH ?", (f'doc : "{doc_token(doc)}"',))
    connection.execute("DELETE FROM pages WHERE doc = ?", (doc,))
    connection.execute("DELETE FROM docs WHERE id = ?", (doc,))


def _insert_doc(connection, source, entries, stats):
    doc = connection.execute(
        "INSERT INTO docs(project, version, stamp) VALUES (?, ?, ?)", (source.project, source.version, source.stamp)
    ).lastrowid
    rows = []
    for entry in entries:
        page = connection.execute(
            "INSERT INTO pages(doc, path, title) VALUES (?, ?, ?)", (doc, entry["path"], entry["title"])
        ).lastrowid
        sections = list(entry["sections"]) or [("", "", 0, "")]
        if len(sections) > MAX_SECTIONS:
            # Past the rowid's room: the rest of the page joins its last section.
            last = sections[MAX_SECTIONS - 1]
            rest = " ".join(text for _, _, _, text in sections[MAX_SECTIONS - 1:])
            sections = sections[:MAX_SECTIONS - 1] + [(last[0], last[1], last[2], rest)]
        for index, (anchor, heading, _level, text) in enumerate(sections):
            rows.append(((page << SECTION_BITS) | index, entry["title"] if index == 0 else "", heading, text,
                         doc_token(doc), anchor))
        if len(rows) >= 5000:
            connection.executemany(INSERT_SECTION, rows)
            rows.clear()
    connection.executemany(INSERT_SECTION, rows)
