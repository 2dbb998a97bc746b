"""Extraction tables: what search keeps of real Sphinx and MkDocs pages, and of hand-written edge cases."""

import pytest

from app.search.extract import MAX_PAGE_TEXT, OBJECT_LEVEL, extract_page, is_indexable
from tests.servers import ROOT

# (site, page, title, [(anchor, heading)], phrases in the text, chrome that must not be)
REAL_PAGES = [
    ("sphinx", "guide/usage.html", "Usage", [("usage", "Usage")],
     ["The word tesseract appears only on this page", "import requests"],
     ["Navigation", "Related Topics", "Page source", "docs-proxy authors", "¶", "Proxy Test Docs 1.0 documentation"]),
    ("sphinx", "guide/advanced/index.html", "Advanced topics",
     [("advanced-topics", "Advanced topics"), ("tuning-the-worker-pool", "Tuning the worker pool")],
     ["Raise the quokka threshold", "Two directory levels deep"], ["Navigation", "Contents", "¶"]),
    ("sphinx", "reference.html", "Reference", [("reference", "Reference")],
     ["S3_BUCKET The bucket to serve."], ["Quick search", "Go"]),
    ("sphinx", "index.html", "Proxy Test Docs", [("proxy-test-docs", "Proxy Test Docs")],
     ["names an S3 key", 'create_app({"S3_BUCKET": "docs-bucket"})'], ["User guide Installation Usage"]),
    ("mkdocs", "guide/usage/index.html", "Usage", [("usage", "Usage")],
     ["The word tesseract appears only on this page"],
     ["Keyboard Shortcuts", "Previous", "Documentation built with", "Table of Contents", "Overview"]),
    ("mkdocs", "guide/install/index.html", "Install",
     [("install", "Install"), ("upgrading-from-an-older-release", "Upgrading from an older release")],
     ["Follow the marmalade rollback plan", "$ make run"], ["Enter your search terms", "Proxy Test MkDocs"]),
    # Material for MkDocs: the <article> holds the content; header, tabs, sidebars and footer do not.
    ("material", "guide/install/index.html", "Install",
     [("install", "Install"), ("upgrading-from-an-older-release", "Upgrading from an older release")],
     ["Follow the marmalade rollback plan", "$ make run"],
     ["Skip to content", "Proxy Material Site", "Table of contents", "Made with", "Overview", "Search"]),
    ("material", "guide/usage/index.html", "Usage", [("usage", "Usage")],
     ["The word tesseract appears only on this page"], ["Proxy Material Site", "Previous", "Next"]),
]


@pytest.mark.parametrize(("site", "page", "title", "headings", "present", "absent"), REAL_PAGES,
                         ids=[f"{row[0]}:{row[1]}" for row in REAL_PAGES])
def test_real_generator_pages_give_their_title_headings_and_visible_text_only(
        built_sites, site, page, title, headings, present, absent):
    extracted = extract_page((built_sites[site] / page).read_bytes())

    assert extracted.title == title
    assert [(section.anchor, section.heading) for section in extracted.sections] == headings
    text = " ".join(section.text for section in extracted.sections)
    for phrase in present:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text


def test_the_subsection_text_belongs_to_its_own_heading(built_sites):
    extracted = extract_page((built_sites["sphinx"] / "guide/advanced/index.html").read_bytes())

    first, second = extracted.sections
    assert "quokka" not in first.text
    assert "quokka" in second.text and second.level == 2


SYNTHETIC = [
    # (html, title, [(anchor, heading, text)])
    ("<html><head><title>T</title><style>p{}</style><script>var x='hidden';</script></head>"
     "<body><p>Hello <b>world</b></p></body></html>", "T", [("", "", "Hello world")]),
    ("<body><nav>Menu</nav><article><h1 id='a'>Alpha</h1><p>Body</p></article><footer>Foot</footer></body>",
     "Alpha", [("a", "Alpha", "Body")]),
    # MkDocs Material: the article wins over main, whose sidebars are left out.
    ("<body><main><div class='md-sidebar'>Side</div><article><h1 id='x'>X<a class='headerlink' href='#x'>¶</a></h1>"
     "Text</article><p>outside</p></main></body>", "X", [("x", "X", "Text")]),
    # Sphinx: the section carries the id, the permalink points to it.
    ("<body><div role='main'><section id='s'><h2>Sec<a class='headerlink' href='#s'>¶</a></h2><p>t</p></section>"
     "</div><div class='footer'>f</div></body>", "Sec", [("s", "Sec", "t")]),
    # A heading without an id takes its permalink's target.
    ("<body><main><h2>Go<a href='#go-there'>#</a></h2>x</main></body>", "Go", [("go-there", "Go", "x")]),
    # Hidden and aria-hidden elements, forms and dialogs are not visible text.
    ("<body><main><p hidden>secret</p><span aria-hidden='true'>icon</span><form>Field</form>"
     "<div role='dialog'>Modal</div>Shown</main></body>", "", [("", "", "Shown")]),
    # Entities are decoded; inline elements do not split words; blocks do.
    ("<body><main><p>a&amp;b <code>c</code>d</p><p>e</p></main></body>", "", [("", "", "a&b cd e")]),
    # Unclosed and stray tags do not lose text.
    ("<body><main><p>one<p>two</span></div><li>three</main></body>", "", [("", "", "one two three")]),
]


@pytest.mark.parametrize(("html", "title", "sections"), SYNTHETIC, ids=range(len(SYNTHETIC)))
def test_synthetic_pages_are_extracted_as_a_reader_sees_them(html, title, sections):
    extracted = extract_page(html)

    assert extracted.title == title
    assert [(section.anchor, section.heading, section.text) for section in extracted.sections] == sections


def test_a_page_asking_not_to_be_indexed_gives_nothing():
    assert extract_page("<head><meta name='robots' content='noindex, follow'></head><body>x</body>") is None


def test_a_page_of_megabytes_of_text_is_cut_at_the_page_limit():
    html = "<body><main><h1 id='big'>Big</h1><p>" + "word " * 600_000 + "</p></main></body>"

    extracted = extract_page(html.encode())

    assert extracted.title == "Big"
    assert MAX_PAGE_TEXT - 10 <= len(extracted.sections[0].text) <= MAX_PAGE_TEXT


def test_bytes_that_are_not_utf8_are_replaced_not_refused():
    extracted = extract_page(b"<body><main>caf\xe9</main></body>")

    assert extracted.sections[0].text == "caf\ufffd"


@pytest.mark.parametrize(("relkey", "indexable"), [
    ("index.html", True),
    ("guide/install.HTM", True),
    ("genindex.html", False),
    ("search.html", False),
    ("404.html", False),
    ("py-modindex.html", False),
    ("_static/x.html", False),
    ("_sources/x.html", False),
    ("style.css", False),
    ("guide/search.html", False),
])
def test_only_documentation_pages_are_indexed(relkey, indexable):
    assert is_indexable(relkey) is indexable


DEBIAN = ROOT / "tests" / "sites" / "debian"

# Real pages from Debian's -doc packages (tests/sites/debian/README.md): (page, records that must be
# there as (anchor, name, heading)), in page order.
DEBIAN_RECORDS = [
    # Sphinx 5 (python domain): a module target before its first class, then each signature's id.
    ("sphinx/extdev/markupapi.html", [
        ("docutils-markup-api", "", "Docutils markup API"),
        ("module-docutils.parsers.rst", "docutils.parsers.rst", "docutils.parsers.rst"),
        ("docutils.parsers.rst.Directive", "docutils.parsers.rst.Directive", "docutils.parsers.rst.Directive"),
        ("docutils.parsers.rst.Directive.run", "docutils.parsers.rst.Directive.run",
         "docutils.parsers.rst.Directive.run"),
    ]),
    # Headings whose first link is a "toc-backref" to the contents (#id6): the permalink wins.
    ("sphinx/usage/advanced/intl.html", [
        ("internationalization", "", "Internationalization"),
        ("sphinx-internationalization-details", "", "Sphinx internationalization details"),
        ("translating-with-sphinx-intl", "", "Translating with sphinx-intl"),
    ]),
    # Django's theme: no role=main; a module heading, template filters as std-domain targets on headings.
    ("django/ref/contrib/humanize.html", [
        ("module-django.contrib.humanize", "django.contrib.humanize", "django.contrib.humanize"),
        ("std-templatefilter-apnumber", "apnumber", "apnumber"),
        ("std-templatefilter-intcomma", "intcomma", "intcomma"),
    ]),
    ("django/ref/contrib/gis/testing.html", [
        ("testing-geodjango-apps", "", "Testing GeoDjango apps"),
        ("std-setting-POSTGIS_VERSION", "POSTGIS_VERSION", "POSTGIS_VERSION"),
    ]),
    # SQLAlchemy's theme: the popout sidebar's heading is not a record, FAQ questions are.
    ("sqlalchemy/faq/sessions.html", [
        ("sessions-queries", "", "Sessions / Queries"),
        ("but-why-does-flush-insist-on-issuing-a-rollback", "", "But why does flush() insist on issuing a ROLLBACK?"),
    ]),
    # Javadoc (JDK 11 style): the class, then each member detail by its <a name> anchor.
    ("easyconf/com/germinus/easyconf/ConfUtil.html", [
        ("", "com.germinus.easyconf.ConfUtil", "Class ConfUtil"),
        ("method.summary", "", "Method Summary"),
        ("toString-Configuration-", "com.germinus.easyconf.ConfUtil.toString", "toString"),
    ]),
]


@pytest.mark.parametrize(("page", "records"), DEBIAN_RECORDS, ids=[row[0] for row in DEBIAN_RECORDS])
def test_real_debian_doc_pages_give_sections_by_permalink_and_objects_by_identifier(page, records):
    extracted = extract_page((DEBIAN / page).read_bytes())

    found = [(section.anchor, section.name, section.heading) for section in extracted.sections]
    assert [record for record in found if record in records] == records


def test_no_debian_page_takes_a_toc_backref_or_a_sidebar_as_an_anchor():
    for page in ("sphinx/usage/advanced/intl.html", "sqlalchemy/faq/sessions.html", "django/ref/contrib/humanize.html"):
        extracted = extract_page((DEBIAN / page).read_bytes())
        anchors = [section.anchor for section in extracted.sections]
        assert not [anchor for anchor in anchors if anchor.startswith(("id", "docs-sidebar"))], page
        assert "SQLAlchemy 1.4 Documentation" not in [section.heading for section in extracted.sections]


@pytest.mark.parametrize("page", ["flask/genindex.html", "flask/py-modindex.html", "sphinx/search.html"])
def test_generated_index_and_search_pages_are_recognised_by_their_content(page):
    # Even under a name is_indexable would let through (a renamed or split index: genindex-A.html).
    assert extract_page((DEBIAN / page).read_bytes()) is None


def test_an_object_signature_text_opens_its_record_and_its_description_follows():
    extracted = extract_page((DEBIAN / "sphinx/extdev/markupapi.html").read_bytes())

    run = next(section for section in extracted.sections if section.name == "docutils.parsers.rst.Directive.run")
    assert run.level == OBJECT_LEVEL
    assert run.text.startswith("run()")
    directive = next(section for section in extracted.sections if section.name == "docutils.parsers.rst.Directive")
    assert "Number of required directive arguments" not in directive.text  # members are records of their own


def test_mkdocstrings_objects_are_records_named_by_their_dotted_path(built_mkdocstrings):
    extracted = extract_page((built_mkdocstrings / "api" / "index.html").read_bytes())

    objects = [(section.anchor, section.name) for section in extracted.objects]
    assert objects == [
        ("quokka.census", "quokka.census"),
        ("quokka.census.IslandCensus", "quokka.census.IslandCensus"),
        ("quokka.census.IslandCensus.count_burrows", "quokka.census.IslandCensus.count_burrows"),
        ("quokka.census.IslandCensus.readText", "quokka.census.IslandCensus.readText"),
        ("quokka.census.parse_sighting", "quokka.census.parse_sighting"),
    ]
    burrows = extracted.objects[2]
    assert "wombat-free" in burrows.text and "one line per burrow" not in burrows.text


SYNTHETIC_ANCHORS = [
    # (heading html inside <main>, anchor): own id, marked permalink, bare permalink, section, never a backref
    ("<h2 id='own'><a class='toc-backref' href='#id7'>T</a><a class='headerlink' href='#p'>¶</a></h2>", "own"),
    ("<h2><a class='toc-backref' href='#id7'>T</a><a class='headerlink' href='#p'>¶</a></h2>", "p"),
    ("<h2><a class='reference internal' href='#module-optparse'>T</a></h2>", ""),
    ("<section id='s'><h2><a class='toc-backref' href='#id7'>T</a></h2></section>", "s"),
    ("<h2>T <a href='#bare'>#</a></h2>", "bare"),
    ("<h2>See <a href='#other'>the other part</a></h2>", ""),
]


@pytest.mark.parametrize(("html", "anchor"), SYNTHETIC_ANCHORS, ids=range(len(SYNTHETIC_ANCHORS)))
def test_a_heading_is_anchored_by_its_own_permalink_never_by_another_link(html, anchor):
    extracted = extract_page(f"<body><main>{html}<p>x</p></main></body>")

    assert extracted.sections[0].anchor == anchor


@pytest.mark.parametrize(("relkey", "indexable"), [
    ("genindex-A.html", False),
    ("genindex-all.html", False),
    ("np-modindex.html", False),
    ("_modules/flask/app.html", False),
    ("index-files/index-1.html", False),
    ("allclasses-noframe.html", False),
    ("com/example/Widget.html", True),
    ("guide/index.html", True),
])
def test_split_indexes_source_listings_and_javadoc_lists_are_not_indexed(relkey, indexable):
    assert is_indexable(relkey) is indexable


# Before parsing, elements skipped by their start tag are cut from the page's bytes (extract._cut_skipped):
# only where nothing inside could be read otherwise, and never changing a record.
SIDEBAR = '<div class="sphinxsidebar"><div class="inner"><ul><li><a href="x.html">Sidebar link</a></li></ul>{inside}</div></div>'
CUT_PAGES = [
    # (what the sidebar holds, whether it is cut)
    ("", True),
    ("<script>document.getElementById('searchbox').style.display = 'block'</script>", True),
    ("<STYLE>.x { color: red }</STYLE><NAV>More</NAV>", True),
    ("<!-- a comment that says </div> -->", False),
    ("<script>if (a < b) { document.write('</div>') }</script>", False),
    ("<title>A second title</title>", False),
    ("<meta name='robots' content='noindex'>", False),
    ("<textarea></div></textarea>", False),
    ("<div>never closed", False),
]


def page_with_sidebar(inside):
    return ("<!DOCTYPE html><html><head><title>T</title></head><body><div class='body' role='main'>"
            "<h1 id='t'>Title</h1><p>Before <code>the</code> sidebar.</p></div>" + SIDEBAR.format(inside=inside)
            + "<div role='main'><h2 id='after'>After</h2><p>Text after the sidebar.</p></div></body></html>")


def records(page):
    return page and (page.title, [tuple(vars(section).values()) for section in page.sections])


@pytest.mark.parametrize(("inside", "cut"), CUT_PAGES, ids=[row[0][:30] or "plain" for row in CUT_PAGES])
def test_a_skipped_element_is_cut_before_parsing_only_where_that_changes_no_record(inside, cut, monkeypatch):
    from app.search import extract

    html = page_with_sidebar(inside)

    assert (b"Sidebar link" not in extract._cut_skipped(html.encode())) == cut
    with_cut = records(extract_page(html))
    monkeypatch.setattr(extract, "_cut_skipped", lambda data: data)
    assert records(extract_page(html)) == with_cut


# Pages where cutting as the scan reads the bytes would change what the parser reads (found in review):
# each is left as it is, or cut where the parser agrees.
MAIN = '<html><body><div role="main"><h1 id="a">Head</h1>{}</div></body></html>'
TRICKY_PAGES = {
    "custom element": MAIN.format("<nav-menu>Custom element text</nav-menu><p>Body</p>"),
    "unclosed div in a cell": MAIN.format("<table><tr><td><div hidden>x</td><td>Real cell</td></tr></table><p>after</p>"),
    "end tag that cannot close a cell": MAIN.format("<div hidden><table><tr><td>x</div><p>Hidden</p></td></tr></table></div>"),
    "empty div/": MAIN.format('<div class="sphinxsidebar"/><p>Body text</p><div>x</div>'),
    "tag in an attribute": MAIN.format("<div title=\"<div class='sphinxsidebar'>\"><p>Body text</p></div><p>more</p>"),
    "end tag in an attribute": MAIN.format('<div class="sphinxsidebar"><a title="</div>">x</a>Sidebar text</div><p>Body</p>'),
    "form in a paragraph": MAIN.format("<p>foo<form hidden>x</form>bar</p>"),
    "block in a heading": MAIN.format('<h2 id="b">Sub<div hidden>x</div>title</h2><p>t</p>'),
    "raw-text iframe": MAIN.format("<iframe><div hidden></iframe><p>Body iframe</p></div><p>x</p>"),
    "processing instruction": MAIN.format("<?x <div hidden> ?><p>Body PI</p></div><p>x</p>"),
    "frameset": '<html><frameset><div hidden>x</div></frameset><noframes><p>Body</p></noframes></html>',
}


@pytest.mark.parametrize("html", TRICKY_PAGES.values(), ids=TRICKY_PAGES.keys())
def test_a_page_the_scan_could_misread_gives_the_same_records_as_without_the_cut(html, monkeypatch):
    from app.search import extract

    with_cut = records(extract_page(html))
    monkeypatch.setattr(extract, "_cut_skipped", lambda data: data)
    assert records(extract_page(html)) == with_cut


def test_a_tag_written_inside_a_script_or_comment_is_not_cut():
    html = ("<html><body><script>var s = '<div class=\"sphinxsidebar\">';</script><!-- <nav> -->"
            "<div role='main'><h1 id='a'>Kept</h1><p>Body text.</p></div></body></html>")
    from app.search import extract

    assert extract._cut_skipped(html.encode()) == html.encode()
    assert [section.heading for section in extract_page(html).sections] == ["Kept"]


def test_every_real_page_gives_the_same_records_cut_or_not_from_a_tree_or_streamed(built_sites, monkeypatch):
    from app.search import extract

    pages = sorted(DEBIAN.rglob("*.html")) + sorted(path for site in ("sphinx", "mkdocs", "material")
                                                  for path in built_sites[site].rglob("*.html"))
    expected = {page: records(extract_page(page.read_bytes())) for page in pages}
    assert sum(1 for value in expected.values() if value and value[1]) >= 20
    monkeypatch.setattr(extract, "_cut_skipped", lambda data: data)
    assert {page: records(extract_page(page.read_bytes())) for page in pages} == expected
    monkeypatch.setattr(extract, "TREE_LIMIT", 0)  # every page streamed through the parser target
    assert {page: records(extract_page(page.read_bytes())) for page in pages} == expected
