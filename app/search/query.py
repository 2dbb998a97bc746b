"""Pure: a reader's query text -> a bounded, always-valid SQLite FTS5 query.

Everything a reader types is text. Words become quoted FTS5 strings (so ``NEAR(``, ``AND``, ``*``,
``-``, ``:`` and ``^`` are searched for as words, never run as syntax); a word joined by punctuation
(``S3_BUCKET``, ``docs-proxy``) and text in balanced double quotes become phrases; an unbalanced
quote is ignored. There is no prefix matching: the index stems English words instead (``installing``
finds ``install``), which costs nothing at query time, where a short prefix can expand to thousands
of words. Queries are cut at ``max_chars`` characters and ``max_terms`` terms, and say so.
"""

import re
from dataclasses import dataclass

# Text in balanced double quotes, or a run of anything but spaces and quotes.
PIECE = re.compile(r'"([^"]*)"|([^\s"]+)')
# What SQLite's unicode61 tokenizer keeps: letters and digits (underscore separates, as in FTS5).
TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Query:
    """A parsed query: its phrases (tuples of words), and whether it was cut."""

    text: str
    phrases: tuple = ()
    shortened: bool = False

    @property
    def words(self):
        """Return every word of the query, for highlighting and display."""
        return [word for phrase in self.phrases for word in phrase]

    @property
    def is_empty(self):
        """Tell whether nothing searchable is left (only punctuation, or nothing at all)."""
        return not self.phrases

    def fts(self):
        """Return the FTS5 MATCH expression: every phrase must match (implicit AND)."""
        # Words hold no '"' (TOKEN matches letters and digits only), so the quoting is always valid.
        return " ".join('"' + " ".join(phrase) + '"' for phrase in self.phrases)


def parse_query(raw, max_chars=200, max_terms=12):
    """Return the ``Query`` for the text ``raw`` typed by a reader (never raises on any text)."""
    text = "".join(char for char in (raw or "") if char.isprintable() or char.isspace())
    shortened = len(text) > max_chars
    text = text[:max_chars]
    phrases = []
    for match in PIECE.finditer(text):
        quoted, bare = match.groups()
        words = tuple(TOKEN.findall((quoted if quoted is not None else bare).casefold()))
        if not words:
            continue
        if len(phrases) == max_terms:
            shortened = True
            break
        phrases.append(words)
    return Query(text.strip(), tuple(phrases), shortened)
