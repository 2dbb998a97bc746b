"""Pure: a reader's query text -> a bounded query: its words, its identifier, and always-valid FTS5 expressions.

Everything a reader types is text. Words become quoted FTS5 strings (so ``NEAR(``, ``AND``, ``*``,
``-``, ``:`` and ``^`` are searched for as words, never run as syntax); a word joined by punctuation
(``S3_BUCKET``, ``docs-proxy``, ``json.dumps``) and text in balanced double quotes become phrases; an
unbalanced quote is ignored. A query of one piece that looks like an API name (``json.dumps``,
``ZipFile.writestr``, ``std::vector``, ``read_text()``) also gives an ``identifier``, matched exactly
against the objects' names before any full-text ranking.

The last word is also matched as a prefix (``instal`` finds ``install``, as a reader types), when it
has at least ``PREFIX_MIN`` characters: a shorter prefix would expand to thousands of words. Words
are not stemmed: stemming merged "Generics" with "General" and "Directives" with "Direct" in API
documentation, and the prefix on the last word finds most of what it found (bench/search_quality.py).
Queries are cut at ``max_chars`` characters and ``max_terms`` terms, and say so.
"""

import re
from dataclasses import dataclass, replace

# Text in balanced double quotes, or a run of anything but spaces and quotes.
PIECE = re.compile(r'"([^"]*)"|([^\s"]+)')
# What SQLite's unicode61 tokenizer keeps: letters and digits (underscore separates, as in FTS5).
TOKEN = re.compile(r"[^\W_]+")
# An API name: dotted, or C++'s ``::``, Ruby/Javadoc's ``#``; optional call parentheses.
IDENTIFIER = re.compile(r"^[^\W\d][\w$-]*(?:(?:\.|::|#)[^\W\d~][\w$-]*)*(?:\(\))?$")
PREFIX_MIN = 3


def identifier_key(name):
    """Return the lookup form of an API name: case-folded, ``::`` and ``#`` as ``.``, without ``()``."""
    name = name.strip()
    if name.endswith("()"):
        name = name[:-2]
    return name.replace("::", ".").replace("#", ".").casefold()


@dataclass(frozen=True)
class Query:
    """A parsed query: its phrases (tuples of words), its identifier if it looks like one, whether it was cut."""

    text: str
    phrases: tuple = ()
    shortened: bool = False
    identifier: str = ""
    quoted_end: bool = False

    @property
    def words(self):
        """Return every word of the query, for highlighting and display."""
        return [word for phrase in self.phrases for word in phrase]

    @property
    def is_empty(self):
        """Tell whether nothing searchable is left (only punctuation, or nothing at all)."""
        return not self.phrases

    @property
    def prefix(self):
        """Tell whether the last word is matched as a prefix too."""
        return bool(self.phrases) and not self.quoted_end and len(self.phrases[-1][-1]) >= PREFIX_MIN

    def fts(self, prefix=False, completions=()):
        """Return the FTS5 MATCH expression: every phrase must match (implicit AND); the last as a prefix if asked.

        ``completions``, the indexed words that begin with the last word, stand for the prefix when
        given: FTS5 evaluates ``"word"*`` by merging the whole posting list of every word it expands
        to, on each evaluation, whatever the LIMIT (bench/README.md); a few named words it seeks.
        """
        # Words hold no '"' (TOKEN matches letters and digits only), so the quoting is always valid.
        quoted = ['"' + " ".join(phrase) + '"' for phrase in self.phrases]
        if prefix and quoted and self.prefix:
            if completions:
                head, last = self.phrases[-1][:-1], self.phrases[-1][-1]
                endings = [last] + [word for word in completions
                                    if word != last and word.startswith(last) and TOKEN.fullmatch(word)]
                if len(endings) > 1:
                    # FTS5's implicit AND joins phrases only: a group needs its AND spelled out.
                    group = "(" + " OR ".join('"' + " ".join(head + (word,)) + '"' for word in endings) + ")"
                    return " AND ".join(quoted[:-1] + [group])
            else:
                quoted[-1] += "*"
        return " ".join(quoted)

    def phrase(self):
        """Return the FTS5 expression of the whole query as one phrase."""
        return '"' + " ".join(self.words) + '"'

    def corrected(self, words, identifier=None):
        """Return this query with its words replaced from ``words`` (``{old: new}``) and a new identifier."""
        phrases = tuple(tuple(words.get(word, word) for word in phrase) for phrase in self.phrases)
        text = identifier if identifier else " ".join(" ".join(phrase) for phrase in phrases)
        return replace(self, text=text, phrases=phrases,
                       identifier=identifier_key(identifier) if identifier else self.identifier and "")


def parse_query(raw, max_chars=200, max_terms=12):
    """Return the ``Query`` for the text ``raw`` typed by a reader (never raises on any text)."""
    text = "".join(char for char in (raw or "") if char.isprintable() or char.isspace())
    shortened = len(text) > max_chars
    text = text[:max_chars]
    phrases = []
    pieces = 0
    identifier = ""
    quoted_end = False
    for match in PIECE.finditer(text):
        quoted, bare = match.groups()
        pieces += 1
        if bare is not None and IDENTIFIER.match(bare):
            identifier = identifier_key(bare)
        words = tuple(TOKEN.findall((quoted if quoted is not None else bare).casefold()))
        if not words:
            continue
        if len(phrases) == max_terms:
            shortened = True
            break
        phrases.append(words)
        quoted_end = quoted is not None
    return Query(text.strip(), tuple(phrases), shortened, identifier if pieces == 1 else "", quoted_end)
