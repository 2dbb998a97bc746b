"""Pure: from one HTML page, the title, the headings with their anchors, and the visible text under each.

One streaming pass of libxml2's HTML parser through lxml's parser-target interface: no tree is built,
so a page of 1 MB of text costs time linear in its size and little memory, and the parsing runs in C
(12x faster than the standard library's ``html.parser`` on Sphinx pages, whose sidebars hold
hundreds of links: publish extracts every page). What counts as the page's content:

- the generator's content element when it can be told apart: an element with ``role="main"``
  (Sphinx's ``div.body``, MkDocs' ``div.col-md-9``) or an ``<article>`` (MkDocs Material), else
  ``<main>``, else the whole ``<body>``;
- never navigation, scripts, styles, forms, dialogs, sidebars, headers and footers, hidden elements,
  nor Sphinx's and MkDocs Material's "¶" permalinks (``a.headerlink``).

A heading's anchor is its own ``id``, else the id its permalink points at, else the id of the
section that encloses it (Sphinx puts the id on ``<section>``).
"""

import re
from dataclasses import dataclass, field

from lxml import etree

# Text kept per page: enough for any real page's snippets and ranking, while a generated 50 MB
# dump cannot blow up the search document or every worker's index.
MAX_PAGE_TEXT = 200_000
MAX_HEADING_TEXT = 300

SKIPPED_TAGS = frozenset({
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "svg", "math",
    "button", "form", "select", "textarea", "iframe", "object", "canvas", "dialog", "head",
})
SKIPPED_ROLES = frozenset({"navigation", "search", "banner", "contentinfo", "complementary", "dialog", "menu"})
# Permalinks ("¶"), Sphinx's and MkDocs' sidebars and bars, MkDocs Material's header, footer and sidebars.
SKIPPED_CLASSES = frozenset({
    "headerlink", "sphinxsidebar", "related", "navbar", "bs-sidebar", "md-sidebar", "md-header", "md-footer",
    "md-source", "md-search", "md-tabs", "toctree-wrapper",
})
VOID_TAGS = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
})
# Elements that separate words; inline ones (<code>, <em>, <span>) join their text to their neighbours'.
BLOCK_TAGS = frozenset({
    "address", "article", "blockquote", "dd", "details", "div", "dl", "dt", "fieldset", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "br", "caption",
})
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Content containers, best first: the most specific one found on the page wins.
CONTENT, MAIN, BODY = 0, 1, 2
# Generator pages that are lists of links, not documentation.
UNINDEXED_NAMES = frozenset({"genindex.html", "search.html", "py-modindex.html", "404.html", "modindex.html"})
WHITESPACE = re.compile(r"\s+")
PERMALINK_SYMBOLS = " #¶§\U0001f517"


@dataclass
class Section:
    """A stretch of a page below one heading (the first one may have no heading)."""

    anchor: str
    heading: str
    text: str
    level: int = 0


@dataclass
class Page:
    """What search keeps of one HTML page."""

    title: str
    sections: list = field(default_factory=list)


def is_indexable(relkey):
    """Tell whether the file at ``relkey`` is an HTML page worth searching (not an index of links or a 404)."""
    lowered = relkey.lower()
    if not lowered.endswith((".html", ".htm")):
        return False
    name = lowered.rsplit("/", 1)[-1]
    return name not in UNINDEXED_NAMES and not lowered.startswith(("_sources/", "_static/", "search/"))


def clean(text, limit=None):
    """Collapse whitespace runs to single spaces and strip; cut at ``limit`` characters."""
    text = WHITESPACE.sub(" ", text).strip()
    return text[:limit] if limit else text


class _Frame:
    __slots__ = ("tag", "skip", "rank", "section_id")

    def __init__(self, tag, skip, rank, section_id):
        self.tag, self.skip, self.rank, self.section_id = tag, skip, rank, section_id


class _Extractor:
    """A parser target: collects text chunks tagged with the best content container they sit in, and headings."""

    def __init__(self):
        self.stack = [_Frame("#root", False, BODY + 1, "")]
        self.title_parts = []
        self.in_title = False
        self.noindex = False
        # Each block: [rank, anchor, heading, level, text parts]; a new one starts at every heading.
        self.blocks = []
        self.heading = None  # [level, anchor, parts, rank] while inside a heading
        self.best_rank = BODY + 1
        self.text_size = 0

    def _new_block(self, rank, anchor="", heading="", level=0):
        self.blocks.append([rank, anchor, heading, level, []])

    def start(self, tag, attributes):
        """Open an element (libxml2 reports implied ones too, and void ones as start then end)."""
        parent = self.stack[-1]
        if tag == "title" and not any(frame.tag == "svg" for frame in self.stack):
            # The document's <title> (in <head>, itself skipped as text), not an SVG's tooltip.
            self.in_title = True
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag == "meta" and (attributes.get("name") or "").lower() == "robots":
            self.noindex = "noindex" in (attributes.get("content") or "").lower()
        if tag in VOID_TAGS:
            if tag == "br" or tag == "hr":
                self._text(" ")
            return
        classes = set((attributes.get("class") or "").split())
        role = (attributes.get("role") or "").lower()
        skip = parent.skip or (
            tag in SKIPPED_TAGS
            or role in SKIPPED_ROLES
            or bool(classes & SKIPPED_CLASSES)
            or "hidden" in attributes
            or (attributes.get("aria-hidden") or "").lower() == "true"
        )
        rank = parent.rank
        if role == "main" or tag == "article":
            rank = CONTENT
        elif tag == "main":
            rank = min(rank, MAIN)
        elif tag == "body":
            rank = min(rank, BODY)
        section_id = attributes.get("id") or parent.section_id if tag in ("section", "div", "article") else parent.section_id
        self.stack.append(_Frame(tag, skip, rank, section_id))
        if skip:
            return
        if tag in HEADINGS and self.heading is None and rank <= BODY:
            self.heading = [HEADINGS[tag], attributes.get("id") or "", [], rank, section_id]
        elif tag == "a" and self.heading is not None and not self.heading[1]:
            href = attributes.get("href") or ""
            if href.startswith("#") and len(href) > 1:
                self.heading[1] = href[1:]
        if tag in BLOCK_TAGS:
            self._text(" ")

    def end(self, tag):
        """Close an element."""
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag == "title":
            self.in_title = False
        if tag in VOID_TAGS:
            return
        # Pop to the matching open element; a stray end tag (no such element open) changes nothing.
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                break
        else:
            return
        closed = self.stack[depth:]
        del self.stack[depth:]
        if self.heading is not None and any(frame.tag in HEADINGS for frame in closed):
            self._finish_heading()
        if tag in BLOCK_TAGS and not self.stack[-1].skip:
            self._text(" ")

    def _finish_heading(self):
        level, anchor, parts, rank, section_id = self.heading
        self.heading = None
        # Permalinks that are not marked by a class ("Go#", "Setup ¶") leave their symbol behind.
        text = clean("".join(parts), MAX_HEADING_TEXT).rstrip(PERMALINK_SYMBOLS)
        if not text:
            return
        self.best_rank = min(self.best_rank, rank)
        self._new_block(rank, anchor or section_id, text, level)

    def close(self):
        """End of the document (lxml asks the target for a result; the extractor keeps its own)."""

    def data(self, data):
        """Take text: to the title, to the heading being read, or to the current section."""
        if self.in_title:
            self.title_parts.append(data)
            return
        frame = self.stack[-1]
        if frame.skip or frame.rank > BODY:
            return
        if self.heading is not None:
            self.heading[2].append(data)
            return
        self._text(data)

    def _text(self, data):
        frame = self.stack[-1]
        if frame.skip or frame.rank > BODY or self.text_size >= MAX_PAGE_TEXT:
            return
        if not data.isspace():
            self.best_rank = min(self.best_rank, frame.rank)
        if not self.blocks or self.blocks[-1][0] != frame.rank:
            # Text from another container (a sidebar outside the article): its own block, same heading.
            last = self.blocks[-1] if self.blocks else None
            self._new_block(frame.rank, *(last[1:4] if last else ()))
        data = data[: MAX_PAGE_TEXT - self.text_size]
        self.blocks[-1][4].append(data)
        self.text_size += len(data)


def extract_page(html):
    """Return the ``Page`` of ``html`` (str or bytes), or ``None`` for a page that asks not to be indexed.

    Bytes are decoded as UTF-8 with replacement, which is what every documentation generator writes.
    """
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    parser = _Extractor()
    # recover: real pages are rarely valid HTML; no_network: never fetch a DTD or anything else.
    lxml_parser = etree.HTMLParser(target=parser, recover=True, no_network=True, remove_comments=True, remove_pis=True)
    if html.strip():
        lxml_parser.feed(html)
        lxml_parser.close()
    if parser.heading is not None:
        parser._finish_heading()
    if parser.noindex:
        return None
    best = parser.best_rank
    sections = []
    for rank, anchor, heading, level, parts in parser.blocks:
        if rank != best:
            continue
        text = clean("".join(parts))
        if sections and sections[-1].anchor == anchor and sections[-1].heading == heading:
            # Blocks split by skipped or outer text under the same heading join again.
            sections[-1].text = clean(sections[-1].text + " " + text)
            continue
        if text or heading:
            sections.append(Section(anchor, heading, text, level))
    head_title = clean("".join(parser.title_parts), MAX_HEADING_TEXT)
    first_h1 = next((section.heading for section in sections if section.level == 1), "")
    return Page(first_h1 or head_title or (sections[0].heading if sections else ""), sections)
