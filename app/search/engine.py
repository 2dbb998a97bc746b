"""The search index: SQLite FTS5 in memory, one row per section of every page of the versions it holds.

Why FTS5 (the standard library's ``sqlite3``) rather than a pure-Python engine: BM25 ranking with
per-column weights, phrase and prefix queries, highlighting and snippets are built in and run in C,
the index of 10,000 pages fits in a few tens of MiB, and there is nothing to install or keep up to
date. bench/search_bench.py has the figures.

Ranking: BM25 over three columns weighted title 10, heading 5, body 1. A page's title is indexed on
its first section only, so a page whose title matches ranks that section first instead of flooding
the results with every section of the page; BM25 saturates repeated body words, so a title or
heading match outranks a body that merely repeats the word.

An index never changes once built (``build_index``); a refresh builds a new one beside it, copying
the rows of unchanged versions from the old one with SQLite's backup API, then swaps it in. Queries
on an index share one connection under a lock; each is bounded in time by a progress handler.
"""

import sqlite3
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

TOKENIZER = "porter unicode61 remove_diacritics 2"
WEIGHTS = (10.0, 5.0, 1.0)
MARK_START, MARK_END = "\x02", "\x03"
ELLIPSIS = "\u2026"
SNIPPET_TOKENS = 32
# How many SQLite virtual-machine steps run between two checks of a query's deadline.
PROGRESS_STEPS = 2000


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
    score: float


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
    title, heading, body, doc UNINDEXED, page UNINDEXED, anchor UNINDEXED, tokenize='{TOKENIZER}'
);
"""


def _connect():
    # check_same_thread=False: the index is built on a background thread and queried by request
    # threads; every use goes through SearchIndex's lock.
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

    def search(self, query, docs=None, offset=0, limit=10, timeout=0.5, is_readable=None):
        """Return ``Results`` for the parsed ``query``: hits ``offset`` to ``offset + limit`` in rank order.

        ``docs`` limits the search to these document ids (``None``: all); ``is_readable(project,
        version, path)`` drops hits the reader may not see. Raises ``SearchTimeout`` past ``timeout``.
        """
        if query.is_empty or docs is not None and not docs:
            return Results()
        match = query.fts()
        where, parameters = "sections MATCH ?", [match]
        if docs is not None:
            where += f" AND doc IN ({','.join('?' * len(docs))})"
            parameters += list(docs)
        weights = ", ".join(str(weight) for weight in WEIGHTS)
        deadline = time.monotonic() + timeout
        with self._lock:
            self._connection.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
            try:
                total = self._connection.execute(f"SELECT count(*) FROM sections WHERE {where}", parameters).fetchone()[0]
                ranked = self._connection.execute(
                    f"SELECT rowid, doc, page FROM sections WHERE {where} ORDER BY bm25(sections, {weights})",
                    parameters,
                )
                chosen, seen = [], 0
                for rowid, doc, page in ranked:
                    location = self._location(doc, page)
                    if is_readable is not None and not is_readable(location[0], location[1], location[2]):
                        total -= 1
                        continue
                    seen += 1
                    if seen > offset:
                        chosen.append(rowid)
                    if len(chosen) == limit:
                        break
                ranked.close()
                hits = [self._hit(rowid, match, weights) for rowid in chosen]
            except sqlite3.OperationalError as error:
                if "interrupted" in str(error):
                    raise SearchTimeout(f"the search took longer than {timeout:g} s") from None
                raise
            finally:
                self._connection.set_progress_handler(None, 0)
        return Results(hits, max(total, offset + len(hits)))

    def _location(self, doc, page):
        return self._connection.execute(
            "SELECT docs.project, docs.version, pages.path FROM pages JOIN docs ON docs.id = pages.doc WHERE pages.id = ?",
            (page,),
        ).fetchone()

    def _hit(self, rowid, match, weights):
        marks = (MARK_START, MARK_END)
        row = self._connection.execute(
            f"""SELECT docs.project, docs.version, pages.path, sections.anchor, pages.title,
                       highlight(sections, 1, ?, ?), snippet(sections, 2, ?, ?, ?, {SNIPPET_TOKENS}),
                       bm25(sections, {weights})
                FROM sections JOIN pages ON pages.id = sections.page JOIN docs ON docs.id = pages.doc
                WHERE sections MATCH ? AND sections.rowid = ?""",
            (*marks, *marks, ELLIPSIS, match, rowid),
        ).fetchone()
        project, version, path, anchor, title, heading, snippet, score = row
        return Hit(project, version, path, anchor, title, heading, snippet, score)

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
        with previous._lock:
            previous._connection.backup(connection)
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
            _insert_doc(connection, source, outcome, stats)
            stats.loaded += 1
    connection.execute("COMMIT")
    # Merge FTS5's segments into one: smaller, and faster to query than the many an insert leaves.
    connection.execute("INSERT INTO sections(sections) VALUES('optimize')")
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
        window = deque((source, pool.submit(attempt, source)) for source, _ in zip(remaining, range(threads)))
        while window:
            source, future = window.popleft()
            upcoming = next(remaining, None)
            if upcoming is not None:
                window.append((upcoming, pool.submit(attempt, upcoming)))
            yield source, future.result()


def _delete_doc(connection, doc):
    connection.execute("DELETE FROM sections WHERE doc = ?", (doc,))
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
        sections = entry["sections"] or [("", "", 0, "")]
        for index, (anchor, heading, _level, text) in enumerate(sections):
            rows.append((entry["title"] if index == 0 else "", heading, text, doc, page, anchor))
        if len(rows) >= 5000:
            connection.executemany("INSERT INTO sections(title, heading, body, doc, page, anchor) VALUES (?,?,?,?,?,?)", rows)
            rows.clear()
    connection.executemany("INSERT INTO sections(title, heading, body, doc, page, anchor) VALUES (?,?,?,?,?,?)", rows)
