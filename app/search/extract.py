"""Pure: from one HTML page, its records: the sections under each heading, and the API objects it documents.

Publish extracts every page, so what is skipped should cost nothing. First the elements skipped by
their start tag alone (a Sphinx sidebar: the whole table of contents, most of a page's bytes) are cut
from the bytes, where that is safe (``_cut_skipped``); then libxml2's HTML parser builds the tree of
the rest in C, and one walk feeds its elements to the extractor, stepping over every other skipped
subtree whole and reading a plain inline leaf (a highlighted token) as its text. On the benchmark's
Sphinx pages that is 2.2x faster than feeding the extractor every element from the parser; on a page
that is nearly all content (Django's reference) it is the same. A page above ``TREE_LIMIT`` is streamed
through lxml's parser-target interface instead, element by element, so a generated 50 MB page costs
time, not a tree's memory. The cut and both drivers make the same records (tested on real sites).
What counts as the page's content:

- the generator's content element when it can be told apart: an element with ``role="main"``
  (Sphinx's ``div.body``, MkDocs' ``div.col-md-9``) or an ``<article>`` (MkDocs Material), else
  ``<main>``, else the whole ``<body>``;
- never navigation, scripts, styles, forms, dialogs, sidebars, headers and footers, hidden elements,
  nor Sphinx's and MkDocs Material's "¶" permalinks (``a.headerlink``).

Records, in page order:

- a **section** per heading (h1-h6), anchored by the heading's own permalink: its ``id``, else the
  target of its permalink (``a.headerlink``, or a link whose text is only "¶", "#", "§"), else the
  id of the enclosing ``<section>``/``<div>`` (Sphinx), else an empty anchor element just before it
  (Javadoc 8's ``<a name>``). Other links inside a heading (a "toc-backref" back to the table of
  contents, a cross-reference) are never its anchor;
- an **object** per documented API object, with its identifier (``name``): Sphinx's signatures of
  every domain (``dt[id]`` in a ``dl``: the id when it is the dotted name, as in the Python and
  JavaScript domains, else the signature's ``prename`` + ``name`` text, as for C++ or ``confval``),
  Sphinx standard-domain targets on a heading (Django's ``std-setting-USE_TZ``), mkdocstrings'
  headings (``.doc-heading``, whose id is the dotted path), and Javadoc's member details (a heading
  in ``.details``/``section.detail``, named ``package.Class.member``). A generator none of these
  match gives sections only.

Pages that are generated lists of links are not records at all: ``extract_page`` returns ``None``
for a page holding a Sphinx index table (``table.indextable``: ``genindex*.html``,
``py-modindex.html``) or a search-results container (Sphinx's ``#search-results``, MkDocs'
``#mkdocs-search-results``), and for a page with ``<meta name="robots" content="noindex">``;
``is_indexable`` refuses them by name before they are even read.
"""

import bisect
import re
from dataclasses import dataclass, field

from lxml import etree

# Text kept per page: enough for any real page's snippets and ranking, while a generated 50 MB
# dump cannot blow up the search document or every worker's index.
MAX_PAGE_TEXT = 200_000
MAX_HEADING_TEXT = 300
MAX_NAME = 200
# Pages up to this many characters are parsed to a tree (about ten times their size in memory); larger
# ones are streamed.
TREE_LIMIT = 2_000_000

SKIPPED_TAGS = frozenset({
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "svg", "math",
    "button", "form", "select", "textarea", "iframe", "object", "canvas", "dialog", "head",
})
SKIPPED_ROLES = frozenset({"navigation", "search", "banner", "contentinfo", "complementary", "dialog", "menu"})
# Permalinks ("¶"), Sphinx's and MkDocs' sidebars and bars, MkDocs Material's header, footer and sidebars,
# Django's sidebar, Javadoc's navigation bars.
SKIPPED_CLASSES = frozenset({
    "headerlink", "sphinxsidebar", "related", "navbar", "bs-sidebar", "md-sidebar", "md-header", "md-footer",
    "md-source", "md-search", "md-tabs", "toctree-wrapper", "topNav", "bottomNav", "subNav", "top-nav",
    "sub-nav", "viewcode-link", "viewcode-back",
})
SKIPPED_IDS = frozenset({"sidebar", "docs-sidebar", "hd", "ft", "search-form"})
# Permalink links that are marked as such (Sphinx/MkDocs, Jupyter, anchor.js, VuePress).
PERMALINK_CLASSES = frozenset({"headerlink", "anchor-link", "anchorjs-link", "header-anchor", "permalink"})
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
# Inline elements that change nothing but the text they hold (links too, outside a heading), unless an
# attribute or a class below says otherwise: a leaf among them (highlighted code's tokens, literals)
# is read as its text alone.
PLAIN_TAGS = frozenset({
    "span", "code", "em", "strong", "b", "i", "tt", "kbd", "var", "samp", "abbr", "cite", "sub", "sup",
    "small", "mark", "q", "s", "u", "del", "ins", "dfn", "a",
})
MEANINGFUL_ATTRIBUTES = frozenset({"id", "name", "role", "hidden", "aria-hidden"})
# An object record's level: below every heading, so a reader can tell them apart.
OBJECT_LEVEL = 7
# Content containers, best first: the most specific one found on the page wins.
CONTENT, MAIN, BODY = 0, 1, 2
# Generator pages that are lists of links, not documentation (Sphinx, MkDocs, Javadoc), by name.
UNINDEXED_NAMES = frozenset({
    "genindex.html", "search.html", "py-modindex.html", "404.html", "modindex.html", "index-all.html",
    "allclasses.html", "allclasses-frame.html", "allclasses-noframe.html", "allclasses-index.html",
    "allpackages-index.html", "overview-tree.html", "package-tree.html", "overview-frame.html",
    "package-frame.html", "help-doc.html", "deprecated-list.html", "overview-summary.html",
})
UNINDEXED_PATTERN = re.compile(r"(^|/)(genindex-[^/]*|[^/]*-modindex|index-\d+)\.html?$")
# Content that marks a generated list of links: Sphinx's index tables and search pages, MkDocs' search page.
INDEX_CLASSES = frozenset({"indextable", "genindextable", "modindextable"})
INDEX_IDS = frozenset({"search-results", "mkdocs-search-results"})
# Definition lists that are not API objects: field lists, footnotes, citations, option lists.
NON_OBJECT_LISTS = frozenset({"field-list", "footnote", "citation", "option-list", "docutils", "simple"})
# Javadoc's member details: JDK 8-11 (div.details), 17+ (section.detail, one per member).
JAVADOC_DETAILS = frozenset({"details", "detail", "member-details"})
# Classes the extractor acts on: an element with one of them is never read as plain text.
PLAIN_CLASSES = frozenset(
    {"sig-prename", "descclassname", "sig-name", "descname", "subTitle", "sub-title"}
    | SKIPPED_CLASSES | INDEX_CLASSES | JAVADOC_DETAILS
)
# Javadoc's own anchors that name a block, not a member (method.detail, navbar.top, skip.navbar.top).
JAVADOC_BLOCK_ANCHOR = re.compile(r"\.(detail|summary)$|^(navbar|skip)|^[a-z-]+-(detail|summary)$")
# Sphinx targets that name an object without a signature: a module (``module-json``), a standard-domain
# object of the project's own kind (Django's ``std-setting-USE_TZ``, ``std-templatetag-for``).
OBJECT_TARGET = re.compile(r"^(?:module-|std[-:](?:django-admin|[a-z]+)-)(.+)$")
JAVADOC_TYPE = re.compile(r"^(?:Class|Interface|Enum|Record|Annotation Type|Exception) (\w+)")
DOTTED = re.compile(r"^[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$~][\w$]*)*$")
WHITESPACE = re.compile(r"\s+")
PERMALINK_SYMBOLS = " #¶§\U0001f517"


@dataclass
class Section:
    """A record of a page: the stretch below one heading, or one documented API object (``name`` set)."""

    anchor: str
    heading: str
    text: str
    level: int = 0
    name: str = ""


@dataclass
class Page:
    """What search keeps of one HTML page."""

    title: str
    sections: list = field(default_factory=list)

    @property
    def objects(self):
        """Return the records that are API objects."""
        return [section for section in self.sections if section.name]


def is_indexable(relkey):
    """Tell whether the file at ``relkey`` is an HTML page worth searching (not an index of links or a 404)."""
    lowered = relkey.lower()
    if not lowered.endswith((".html", ".htm")):
        return False
    name = lowered.rsplit("/", 1)[-1]
    return (
        name not in UNINDEXED_NAMES
        and not UNINDEXED_PATTERN.search(lowered)
        and not lowered.startswith(("_sources/", "_static/", "search/", "_modules/", "index-files/"))
    )


def clean(text, limit=None):
    """Collapse whitespace runs to single spaces and strip; cut at ``limit`` characters."""
    text = WHITESPACE.sub(" ", text).strip()
    return text[:limit] if limit else text


def is_skipped(tag, role, classes, element_id, attributes):
    """Tell whether an element is skipped whole for its start tag: its tag, role, a class, its id, or hidden.

    The one rule both the extractor and the cut before parsing (``_cut_skipped``) apply.
    """
    return (
        tag in SKIPPED_TAGS
        or role in SKIPPED_ROLES
        or not SKIPPED_CLASSES.isdisjoint(classes)
        or element_id in SKIPPED_IDS
        or "hidden" in attributes
        or (attributes.get("aria-hidden") or "").lower() == "true"
    )


class _Frame:
    __slots__ = ("tag", "skip", "rank", "section_id", "role", "javadoc")

    def __init__(self, tag, skip, rank, section_id, role=None, javadoc=False):
        self.tag, self.skip, self.rank, self.section_id = tag, skip, rank, section_id
        # What closing this element ends: "dl" (an object list: back to the record before it),
        # "dt" (a signature), "prename"/"name" (parts of a signature), "package" (Javadoc's package).
        self.role = role
        self.javadoc = javadoc


class _Heading:
    """A heading, a Sphinx signature (``dt``) or a Javadoc member being read."""

    __slots__ = ("level", "anchor", "parts", "rank", "section_id", "permalink", "link", "target", "name",
                 "prename", "descname", "is_object", "dt_id")

    def __init__(self, level, anchor, rank, section_id, target="", is_object=False, dt_id=""):
        self.level, self.anchor, self.rank, self.section_id = level, anchor, rank, section_id
        self.parts = []
        self.permalink = ""   # the target of the heading's own permalink
        self.link = None      # (href, start in parts) of a link that may turn out to be a bare permalink
        self.target = target  # an empty anchor element right before the heading
        self.name = ""
        self.prename, self.descname = [], []
        self.is_object = is_object
        self.dt_id = dt_id


class _Extractor:
    """A parser target: collects text chunks tagged with the best content container they sit in, and records."""

    def __init__(self):
        self.stack = [_Frame("#root", False, BODY + 1, "")]
        self.title_parts = []
        self.in_title = False
        self.noindex = False
        self.link_index = False
        # Each block: [rank, anchor, heading, level, name, text parts]; a new one starts at every record.
        self.blocks = []
        self.heading = None  # a _Heading while inside one
        self.best_rank = BODY + 1
        self.text_size = 0
        # Empty elements with an id seen since the last text: targets of the next heading.
        self.targets = []
        # Records interrupted by an object list (dl), resumed when it closes.
        self.resume = []
        self.capture = None  # "prename", "name" or "package" while inside such an element
        self.package_parts = []

    def _new_block(self, rank, anchor="", heading="", level=0, name=""):
        self.blocks.append([rank, anchor, heading, level, name, []])

    def _current(self):
        return tuple(self.blocks[-1][1:5]) if self.blocks else ("", "", 0, "")

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
        if parent.skip:
            # Inside a sidebar, a navigation bar, <head>: nothing of it is kept (most of a Sphinx page's
            # elements: the fast path halves extraction's cost).
            self.stack.append(_Frame(tag, True, parent.rank, parent.section_id, javadoc=parent.javadoc))
            return
        classes = set((attributes.get("class") or "").split())
        element_id = attributes.get("id") or ""
        role = (attributes.get("role") or "").lower()
        in_heading = self.heading is not None
        if in_heading and tag == "a":
            self._heading_link(attributes, classes)
        skip = is_skipped(tag, role, classes, element_id, attributes)
        rank = parent.rank
        if role == "main" or tag == "article":
            rank = CONTENT
        elif tag == "main":
            rank = min(rank, MAIN)
        elif tag == "body":
            rank = min(rank, BODY)
        section_id = element_id or parent.section_id if tag in ("section", "div", "article") else parent.section_id
        javadoc = parent.javadoc or bool(classes & JAVADOC_DETAILS)
        frame = _Frame(tag, skip, rank, section_id, javadoc=javadoc)
        self.stack.append(frame)
        if skip:
            return
        if classes & INDEX_CLASSES or element_id in INDEX_IDS:
            # Visible, not a search dialog every page carries (MkDocs' theme): a generated list of links.
            self.link_index = True
        if classes & {"subTitle", "sub-title"} and not self.package_parts:
            frame.role, self.capture = "package", "package"
        if tag in HEADINGS and not in_heading and rank <= BODY:
            target = self.targets[-1] if self.targets else ""
            javadoc_member = javadoc and not JAVADOC_BLOCK_ANCHOR.search(target or section_id or "x.detail")
            self.heading = _Heading(HEADINGS[tag], element_id, rank, section_id, target)
            if "doc-heading" in classes and element_id:
                self.heading.is_object, self.heading.name = True, element_id  # mkdocstrings: the id is the path
            elif javadoc_member:
                self.heading.is_object = True
            elif any(OBJECT_TARGET.match(candidate) for candidate in self.targets):
                self.heading.is_object = True
                self.heading.target = next(c for c in self.targets if OBJECT_TARGET.match(c))
        elif tag == "dl":
            if not classes & NON_OBJECT_LISTS or classes & {"glossary"}:
                frame.role = "dl"
                self.resume.append(self._current())
        elif tag == "dt" and element_id and not in_heading and "label" not in classes and rank <= BODY:
            if parent.role == "dl":
                if self.targets:
                    self._target_object()  # a module target right before its first class
                frame.role = "dt"
                self.heading = _Heading(OBJECT_LEVEL, element_id, rank, section_id, is_object=True, dt_id=element_id)
        elif in_heading and classes & {"sig-prename", "descclassname"}:
            frame.role, self.capture = "prename", "prename"
        elif in_heading and classes & {"sig-name", "descname"}:
            frame.role, self.capture = "name", "name"
        if tag == "a" and not element_id:
            element_id = attributes.get("name") or ""  # HTML 4's anchors (Javadoc 8-11)
        if element_id and not in_heading and tag not in HEADINGS:
            self.targets.append(element_id)
        if tag in BLOCK_TAGS:
            self._text(" ")

    def _heading_link(self, attributes, classes):
        href = attributes.get("href") or ""
        if not href.startswith("#") or len(href) < 2 or self.heading.permalink:
            return
        if classes & PERMALINK_CLASSES:
            self.heading.permalink = href[1:]
        elif "toc-backref" not in classes and "reference" not in classes:
            # Maybe a bare permalink ("Go#"): known once its text is read (only symbols).
            self.heading.link = (href[1:], len(self.heading.parts))

    def end(self, tag):
        """Close an element."""
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag == "title":
            self.in_title = False
        if tag in VOID_TAGS:
            return
        top = self.stack[-1]
        if top.skip and top.tag == tag:
            # The common case inside a sidebar or <head>: nothing to finish.
            self.stack.pop()
            if tag in BLOCK_TAGS and not self.stack[-1].skip:
                self._text(" ")
            return
        # Pop to the matching open element; a stray end tag (no such element open) changes nothing.
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                break
        else:
            return
        closed = self.stack[depth:]
        del self.stack[depth:]
        for frame in reversed(closed):
            if frame.role in ("prename", "name", "package"):
                self.capture = None
            elif frame.tag == "a" and self.heading is not None and self.heading.link is not None:
                href, start = self.heading.link
                self.heading.link = None
                if not "".join(self.heading.parts[start:]).strip(PERMALINK_SYMBOLS + "\n\t"):
                    self.heading.permalink = href
        if self.heading is not None and any(frame.tag in HEADINGS or frame.role == "dt" for frame in closed):
            self._finish_heading()
        for frame in reversed(closed):
            if frame.role == "dl" and self.resume:
                anchor, heading, level, name = self.resume.pop()
                self._new_block(self.stack[-1].rank if self.blocks else BODY, anchor, heading, level, name)
        if tag in BLOCK_TAGS and not self.stack[-1].skip:
            self._text(" ")

    def _finish_heading(self):
        heading = self.heading
        self.heading = None
        self.targets = []
        # Permalinks that are not marked by a class ("Go#", "Setup ¶") leave their symbol behind.
        text = clean("".join(heading.parts), MAX_HEADING_TEXT).rstrip(PERMALINK_SYMBOLS)
        if not text:
            return
        self.best_rank = min(self.best_rank, heading.rank)
        if heading.dt_id:
            name = _signature_name(heading.dt_id, "".join(heading.prename), "".join(heading.descname))
            if name:
                self._new_block(heading.rank, heading.dt_id, name, OBJECT_LEVEL, name)
                self.blocks[-1][5].append(text + " ")  # the signature opens the object's text
            else:
                # A glossary term, an option: named by its text when that is short.
                self._new_block(heading.rank, heading.dt_id, text, OBJECT_LEVEL, text if len(text) <= 60 else "")
            return
        anchor = heading.anchor or heading.permalink or heading.section_id or heading.target
        name = ""
        if not heading.is_object and anchor.startswith("module-"):
            # A module's page or section (Sphinx's ``module-json``): the heading is the module's record.
            heading.is_object, heading.target = True, anchor
        if heading.is_object:
            if heading.name:
                name = heading.name
            elif heading.target and OBJECT_TARGET.match(heading.target):
                anchor, name = heading.target, OBJECT_TARGET.match(heading.target).group(1)
            elif self.stack[-1].javadoc or any(frame.javadoc for frame in self.stack):
                member = text.split("(")[0].strip()
                owner = self._javadoc_class()
                if DOTTED.match(member):
                    name = f"{owner}.{member}" if owner else member
                    anchor = heading.anchor or heading.target or heading.section_id
        elif heading.level <= 2 and JAVADOC_TYPE.match(text) and self.package_parts:
            # Javadoc's class title ("Class ConfUtil", "Interface Filter"): the class is an object too.
            owner = self._javadoc_class()
            name = owner if owner.endswith("." + JAVADOC_TYPE.match(text).group(1)) else ""
        self._new_block(heading.rank, anchor, text, heading.level, name[:MAX_NAME])

    def _javadoc_class(self):
        package = clean("".join(self.package_parts))
        package = package.split()[-1] if package else ""
        title = clean("".join(self.title_parts)).split(" ")[0] if self.title_parts else ""
        if not DOTTED.match(title):
            return package
        return f"{package}.{title}" if DOTTED.match(package) else title

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
        if self.capture == "package":
            self.package_parts.append(data)
        if self.heading is not None:
            self.heading.parts.append(data)
            if self.capture == "prename":
                self.heading.prename.append(data)
            elif self.capture == "name":
                self.heading.descname.append(data)
            return
        if not data.isspace():
            if self.targets and frame.rank <= BODY:
                self._target_object()
            self.targets = []
        self._text(data)

    def _target_object(self):
        """Start the record of an object whose only mark is a target just before this text (a module)."""
        for target in self.targets:
            match = OBJECT_TARGET.match(target)
            if match:
                self._new_block(self.stack[-1].rank, target, match.group(1)[:MAX_NAME], OBJECT_LEVEL,
                                match.group(1)[:MAX_NAME])
                return

    def _text(self, data):
        frame = self.stack[-1]
        if frame.skip or frame.rank > BODY or self.text_size >= MAX_PAGE_TEXT:
            return
        if not data.isspace():
            self.best_rank = min(self.best_rank, frame.rank)
        if not self.blocks or self.blocks[-1][0] != frame.rank:
            # Text from another container (a sidebar outside the article): its own block, under the last
            # record read in a container at least as good (never a sidebar's heading).
            record = next((tuple(block[1:5]) for block in reversed(self.blocks) if block[0] <= frame.rank), ())
            self._new_block(frame.rank, *record)
        data = data[: MAX_PAGE_TEXT - self.text_size]
        self.blocks[-1][5].append(data)
        self.text_size += len(data)


# recover: real pages are rarely valid HTML; no_network: never fetch a DTD or anything else.
PARSER_OPTIONS = {"recover": True, "no_network": True, "remove_comments": True, "remove_pis": True}

# Before parsing, the page's bytes are scanned for start tags of elements the extractor skips whole: a
# Sphinx sidebar (the whole table of contents) is most of a page's bytes. The scan runs over an ASCII
# lowercase copy (same offsets), and matches comments, processing instructions and raw-text elements
# first (as libxml2 2.14 reads them), so a tag written inside one is never taken for one.
CUT_SCAN = re.compile(
    rb"<!--.*?-->|<[!?][^>]*>"
    rb"|<(script|style|textarea|title|xmp|iframe|noembed|noframes)(?=[\s/>]).*?</\1\s*>|<plaintext(?=[\s/>]).*"
    rb"|<(div|nav|aside|header|footer|section|ul)(?=[\s/>])([^>]*)>",
    re.DOTALL,
)
CUT_ATTRIBUTE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
CUT_ENDS = {}  # tag name: the pattern of its start and end tags, to find the matching end
# What a cut-out stretch must not hold, since the parser or the extractor would read it otherwise: comments
# and processing instructions, raw text that may hold "<", the document's title and meta tags (the extractor
# reads them anywhere), and table or document structure (an end tag the parser would not let close across
# a cell, or would ignore).
CUT_UNSAFE = re.compile(
    rb"<(?:[!?]|textarea|title|xmp|plaintext|noscript|noembed|noframes|template|iframe|meta"
    rb"|/?(?:td|th|tr|thead|tbody|tfoot|table|caption|body|html|head)(?=[\s/>])|(script|style))"
)
# A quoted attribute value holding "<": the scan would read a tag where the parser reads text.
CUT_QUOTED_TAG = re.compile(rb"""=\s*(?:"[^"]*<|'[^']*<)""")
CUT_HEADINGS = re.compile(rb"<(/?)h[1-6](?=[\s/>])")


def _cut_skipped(data):
    """Return the UTF-8 ``data`` without the elements the extractor would skip whole, where that is safe.

    An element is cut, start tag to matching end tag, when its start tag alone makes the extractor skip
    it (``_Extractor.start``: its tag, role, class, id, ``hidden``), it is no empty ``<div/>``, sits
    in no other tag's attribute and in no heading, and nothing inside could be read as anything but
    elements and text; what remains parses to the same records, only faster. A block element leaves a
    space, as the extractor would.
    """
    lower = data.lower()  # ASCII only: every offset stays the same
    if b"<frameset" in lower:
        return data  # the parser reads a frame page's text by rules of its own (old Javadoc's index)
    pieces = []
    headings = None
    done = 0
    position = 0
    while True:
        match = CUT_SCAN.search(lower, position)
        if match is None:
            break
        position = match.end()
        if match.group(2) is None:
            continue
        tag = match.group(2).decode()
        attributes = data[match.start(3):match.end(3)].decode("utf-8", errors="replace")
        if not _plain_start_tag(attributes) or not _skipped_by_start_tag(tag, attributes):
            continue
        if lower.rfind(b"<", 0, match.start()) > lower.rfind(b">", 0, match.start()):
            continue  # written inside another tag's attribute value
        if headings is None:
            headings = [(found.start(), not found.group(1)) for found in CUT_HEADINGS.finditer(lower)]
        if _in_heading(headings, match.start()):
            continue  # the parser would close the heading here: what follows is no longer its text
        end = _matching_end(lower, tag, position)
        if end is None or not _safe_to_cut(lower, position, end):
            continue
        pieces.append(data[done:match.start()])
        pieces.append(b" " if tag in BLOCK_TAGS else b"")
        done = position = end
    if not pieces:
        return data
    pieces.append(data[done:])
    return b"".join(pieces)


def _plain_start_tag(attributes):
    """Tell whether a start tag's attributes are read alike by the scan and the parser: no ``/>``, quotes closed."""
    return not (attributes.rstrip().endswith("/") or "<" in attributes
                or attributes.count('"') % 2 or attributes.count("'") % 2)


def _in_heading(headings, offset):
    """Tell whether ``offset`` follows a heading's start tag with no heading's end tag in between."""
    place = bisect.bisect_left(headings, (offset,))
    return place > 0 and headings[place - 1][1]


def _skipped_by_start_tag(tag, attributes_text):
    if tag in SKIPPED_TAGS:
        return True
    attributes = {}
    for match in CUT_ATTRIBUTE.finditer(attributes_text):
        name = match.group(1).lower()
        if name not in attributes:
            attributes[name] = next((value for value in match.group(2, 3, 4) if value is not None), "")
    return is_skipped(tag, attributes.get("role", "").lower(), attributes.get("class", "").split(),
                      attributes.get("id", ""), attributes)


def _matching_end(lower, tag, position):
    """Return where the element whose start tag ends at ``position`` ends, or ``None`` if it is never closed."""
    pattern = CUT_ENDS.get(tag)
    if pattern is None:
        pattern = CUT_ENDS[tag] = re.compile(rb"<(/?)" + tag.encode() + rb"(?=[\s/>])([^>]*)>")
    depth = 1
    for match in pattern.finditer(lower, position):
        if match.group(1):
            depth -= 1
            if not depth:
                return match.end()
        elif not match.group(2).rstrip().endswith(b"/"):  # an empty <div/> opens nothing
            depth += 1
    return None


def _safe_to_cut(lower, start, end):
    if CUT_QUOTED_TAG.search(lower, start, end):
        return False
    for match in CUT_UNSAFE.finditer(lower, start, end):
        if not match.group(1):
            return False
        # A script or style inside must be closed and hold no "<" that could be read as markup.
        opened = lower.find(b">", match.end(), end)
        closed = lower.find(b"<", opened, end) if opened >= 0 else -1
        if closed < 0 or not lower.startswith(b"</" + match.group(1), closed):
            return False
    return True


def _utf8(html):
    """Return ``html`` as UTF-8 bytes: a str encoded, bytes as they are when valid, else decoded with replacement."""
    if isinstance(html, str):
        return html.encode("utf-8", errors="replace")
    try:
        html.decode("utf-8")
    except UnicodeDecodeError:
        return html.decode("utf-8", errors="replace").encode("utf-8")
    return html


def _parse_tree(data):
    """Return the root element of the UTF-8 ``data`` parsed by libxml2, or ``None`` when it holds no element."""
    # From bytes: a fifth faster than from a str.
    parser = etree.HTMLParser(encoding="utf-8", **PARSER_OPTIONS)
    parser.feed(data)
    try:
        return parser.close()
    except etree.XMLSyntaxError:
        return None  # text with no element at all


def _walk(root, target):
    """Feed ``target`` the elements and text of the tree under ``root``, in document order, as the parser would.

    A subtree the extractor skips is stepped over whole; only what the extractor would still take from
    inside it, the document's ``<title>`` and ``<meta name="robots">``, is handed over first.
    """
    if root is None:
        return
    stack = target.stack
    plain = None  # the plain leaf just read as text: its end is no element's end to the extractor
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag
        if not isinstance(tag, str):
            # An entity or another node that is no element: only its tail is text of the page.
            if event == "end" and element.tail:
                target.data(element.tail)
            continue
        if event == "end":
            if element is plain:
                plain = None
            else:
                target.end(tag)
            if element.tail:
                target.data(element.tail)
            continue
        if tag in PLAIN_TAGS and not len(element) and target.heading is None and _is_plain(element):
            plain = element
            if element.text:
                target.data(element.text)
            continue
        depth = len(stack)
        target.start(tag, element.attrib)
        if len(stack) > depth and stack[-1].skip:
            _skipped(element, target)
            walker.skip_subtree()
        elif element.text:
            target.data(element.text)
    target.close()


def _is_plain(element):
    """Tell whether the extractor would take nothing from the leaf ``element`` but its text."""
    if not MEANINGFUL_ATTRIBUTES.isdisjoint(element.keys()):
        return False
    classes = element.get("class")
    return not classes or PLAIN_CLASSES.isdisjoint(classes.split())


def _skipped(element, target):
    """Hand ``target`` what it takes from inside the skipped subtree ``element``: titles and robots meta tags."""
    for inner in element.iter("title", "meta"):
        if inner.tag == "meta":
            target.start("meta", inner.attrib)
        elif not any(frame.tag == "svg" for frame in target.stack) and not any(
                ancestor.tag == "svg" for ancestor in inner.iterancestors()):
            target.title_parts.append("".join(inner.itertext()))


def _signature_name(element_id, prename, descname):
    """Return the identifier of a Sphinx signature: its id when that is the dotted name, else prename + name."""
    # reStructuredText's own markup around a directive's or role's name (".. note::", ":ref:").
    descname, prename = clean(descname).strip(".: "), clean(prename)
    if DOTTED.match(element_id) and descname and element_id.endswith(descname):
        return element_id[:MAX_NAME]  # Python and JavaScript domains: the id is the full dotted name
    if descname:
        return (prename + descname)[:MAX_NAME]
    return ""


def extract_page(html):
    """Return the ``Page`` of ``html`` (str or bytes), or ``None`` for a page that is not to be searched.

    Bytes are decoded as UTF-8 with replacement, which is what every documentation generator writes.
    """
    parser = _Extractor()
    data = _cut_skipped(_utf8(html))
    if data.strip():
        if len(data) <= TREE_LIMIT:
            _walk(_parse_tree(data), parser)
        else:
            stream = etree.HTMLParser(target=parser, encoding="utf-8", **PARSER_OPTIONS)
            stream.feed(data)
            stream.close()
    if parser.heading is not None:
        parser._finish_heading()
    if parser.noindex or parser.link_index:
        return None
    best = parser.best_rank
    sections = []
    by_key = {}
    for rank, anchor, heading, level, name, parts in parser.blocks:
        if rank != best:
            continue
        text = clean("".join(parts))
        key = (anchor, heading, name)
        if key in by_key:
            # Blocks split by skipped text, outer text or an object list under the same record join again.
            section = by_key[key]
            section.text = clean(section.text + " " + text) if text else section.text
            continue
        if text or heading:
            by_key[key] = Section(anchor, heading, text, level, name)
            sections.append(by_key[key])
    head_title = clean("".join(parser.title_parts), MAX_HEADING_TEXT)
    first_h1 = next((section.heading for section in sections if section.level == 1), "")
    return Page(first_h1 or head_title or (sections[0].heading if sections else ""), sections)
