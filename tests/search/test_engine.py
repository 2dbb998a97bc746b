"""The index file: the query pipeline's ranking, scoping, hostile queries, time limits, rebuilding beside the old one."""

import itertools
import os

import pytest

from app.search import engine

from app.search.engine import (
    MARK_START, SECTION_BITS, MissingDocument, SearchTimeout, Source, build_index, edits, identifier_keys,
    identifier_words, is_bare_name, named_first, open_index,
)
from app.search.query import parse_query
from tests.search.test_query import HOSTILE

_numbers = itertools.count()


def page(path, title, *sections):
    """Return a search-document page entry; sections are (anchor, heading, text) or (anchor, heading, text, name)."""
    return {"path": path, "title": title,
            "sections": [(s[0], s[1], (7 if len(s) > 3 else 2) if s[1] else 0, s[2], *s[3:]) for s in sections]}


def build(sources, load, previous=None, **options):
    """Build an index file of ``sources`` in the test's folder and open it, as a worker does."""
    path = os.path.join(os.environ["SEARCH_TEST_DIR"], f"index-{next(_numbers)}.sqlite")
    build_index(path, sources, load, previous=previous, **options)
    return open_index(path)


@pytest.fixture(autouse=True)
def index_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_TEST_DIR", str(tmp_path))


DOCS = {
    ("alpha", "1.0"): [
        page("title.html", "Kestrel configuration", ("kestrel-configuration", "Kestrel configuration", "Set it up.")),
        page("body.html", "Other things", ("other", "Other things",
                                           "kestrel kestrel kestrel kestrel appears in this body many times kestrel")),
        page("heading.html", "Guide", ("intro", "Guide", "Nothing here."), ("kestrel-tuning", "Kestrel tuning", "Tune.")),
    ],
    ("beta", "2.0"): [page("index.html", "Beta", ("", "", "The beta project talks about kestrel once."))],
}


def load(source):
    """Load a source's entries from ``DOCS``."""
    key = (source.project, source.version)
    if key not in DOCS:
        raise MissingDocument(source.key)
    return DOCS[key]


def sources(*pairs, stamp="1"):
    return [Source(project, version, f"{project}/{version}/.docs-search.json", stamp) for project, version in pairs]


@pytest.fixture
def index():
    return build(sources(("alpha", "1.0"), ("beta", "2.0")), load)


def test_a_title_match_outranks_a_heading_match_which_outranks_body_matches(index):
    results = index.search(parse_query("kestrel "))

    assert [(hit.path, hit.anchor) for hit in results.hits] == [
        ("title.html", "kestrel-configuration"),
        ("heading.html", "kestrel-tuning"),
        ("body.html", "other"),
        ("index.html", ""),
    ]
    assert results.total == 4


def test_hits_carry_highlights_in_heading_and_snippet(index):
    hit = index.search(parse_query("tuning")).hits[0]

    assert hit.heading == f"Kestrel {MARK_START}tuning\x03"
    assert (hit.project, hit.version, hit.title) == ("alpha", "1.0", "Guide")


def test_the_search_is_limited_to_the_documents_asked_for(index):
    beta = index.docs[("beta", "2.0")]

    results = index.search(parse_query("kestrel"), docs=[beta])

    assert [hit.project for hit in results.hits] == ["beta"]
    assert index.search(parse_query("kestrel"), docs=[]).total == 0


def test_pages_of_results_follow_the_ranking(index):
    first = index.search(parse_query("kestrel"), limit=2)
    second = index.search(parse_query("kestrel"), offset=2, limit=2)

    assert [hit.path for hit in first.hits + second.hits] == ["title.html", "heading.html", "body.html", "index.html"]
    assert first.total == second.total == 4


def test_unreadable_hits_are_dropped_before_paging(index):
    results = index.search(parse_query("kestrel"), limit=2,
                           is_readable=lambda project, version, path: path != "title.html")

    assert [hit.path for hit in results.hits] == ["heading.html", "body.html"]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_answer_without_error(index, text):
    index.search(parse_query(text))


def test_a_query_past_its_time_limit_is_stopped():
    big = {("big", "1"): [page(f"p{n}.html", f"Page {n}", ("", "", "common words everywhere " * 20))
                          for n in range(3000)]}
    index = build(sources(("big", "1")), lambda source: big[("big", "1")])

    with pytest.raises(SearchTimeout):
        index.search(parse_query("common"), timeout=0.0)
    assert index.search(parse_query("common"), timeout=5).total == 3000


def test_a_rebuild_reloads_only_the_versions_whose_stamp_changed(index):
    loaded = []

    def counting(source):
        loaded.append(source.project)
        return load(source)

    rebuilt = build(sources(("alpha", "1.0")) + sources(("beta", "2.0"), stamp="2"), counting, previous=index)

    assert loaded == ["beta"]
    assert (rebuilt.stats.reused, rebuilt.stats.loaded) == (1, 1)
    assert rebuilt.search(parse_query("kestrel")).total == 4
    assert index.search(parse_query("kestrel")).total == 4  # the old index still answers


def test_a_rebuild_drops_versions_no_longer_wanted(index):
    rebuilt = build(sources(("beta", "2.0")), load, previous=index)

    assert [hit.project for hit in rebuilt.search(parse_query("kestrel")).hits] == ["beta"]
    assert set(rebuilt.docs) == {("beta", "2.0")}


def test_missing_and_unreadable_documents_are_listed_not_fatal():
    def failing(source):
        if source.project == "broken":
            raise ValueError("not a search document")
        return load(source)

    index = build(sources(("alpha", "1.0"), ("gone", "1"), ("broken", "1")), failing)

    assert [source.project for source in index.stats.missing] == ["gone"]
    assert [source.project for source, _ in index.stats.broken] == ["broken"] and index.stats.failed == []
    assert index.search(parse_query("kestrel")).total == 3


def test_a_version_published_again_keeps_its_old_records_while_its_new_document_cannot_be_read(index):
    def s3_down_for_beta(source):
        if source.project == "beta":
            raise ConnectionError("S3 did not answer")
        return load(source)

    rebuilt = build(sources(("alpha", "1.0")) + sources(("beta", "2.0"), stamp="2"), s3_down_for_beta, previous=index)

    assert [source.project for source, _ in rebuilt.stats.failed] == ["beta"]
    assert {hit.project for hit in rebuilt.search(parse_query("kestrel")).hits} == {"alpha", "beta"}
    # The retry, once S3 answers, replaces them with the new document's.
    retried = build(sources(("alpha", "1.0")) + sources(("beta", "2.0"), stamp="2"), load, previous=rebuilt)
    assert retried.stats.failed == [] and retried.stats.loaded == 1
    assert {hit.project for hit in retried.search(parse_query("kestrel")).hits} == {"alpha", "beta"}
    assert set(retried.docs) == {("alpha", "1.0"), ("beta", "2.0")}


def test_a_version_whose_new_document_cannot_be_decoded_loses_its_old_records(index):
    def undecodable_beta(source):
        if source.project == "beta":
            raise ValueError("not a search document")
        return load(source)

    rebuilt = build(sources(("alpha", "1.0")) + sources(("beta", "2.0"), stamp="2"), undecodable_beta, previous=index)

    # Not a passing S3 failure: what the version said before must not stay searchable until someone acts.
    assert rebuilt.stats.failed == [] and [source.project for source, _ in rebuilt.stats.broken] == ["beta"]
    assert {hit.project for hit in rebuilt.search(parse_query("kestrel")).hits} == {"alpha"}


def test_every_source_is_loaded_when_there_are_more_than_loading_threads():
    docs = {(f"p{n}", "1"): [page("index.html", f"Project {n}", ("", "", "shared word"))] for n in range(7)}

    index = build(sources(*docs), lambda source: docs[(source.project, source.version)], threads=2)

    assert index.stats.loaded == 7
    assert index.search(parse_query("shared")).total == 7


# An API reference the way Sphinx writes one: objects with their names, pages that merely mention them.
API = {
    ("python", "3"): [
        page("library/functions.html", "Built-in Functions",
             ("built-in-functions", "Built-in Functions", "The Python interpreter has a number of functions."),
             ("open", "open", "open(file, mode='r') Open file and return a corresponding file object.", "open"),
             ("len", "len", "len(s) Return the length (the number of items) of an object.", "len")),
        page("library/os.html", "os — Miscellaneous operating system interfaces",
             ("os.open", "os.open", "os.open(path, flags) Open the file path. open open open.", "os.open")),
        page("tutorial/inputoutput.html", "Input and Output",
             ("reading-and-writing-files", "Reading and Writing Files",
              "open() returns a file object; open it, open another, open them all, len of it, open again.")),
        page("library/zipfile.html", "zipfile — Work with ZIP archives",
             ("module-zipfile", "zipfile", "Tools to create, read, write, append, and list a ZIP file.", "zipfile"),
             ("zipfile.ZipFile", "zipfile.ZipFile", "class zipfile.ZipFile(file) Open a ZIP file.", "zipfile.ZipFile"),
             ("zipfile.ZipFile.writestr", "zipfile.ZipFile.writestr",
              "ZipFile.writestr(zinfo_or_arcname, data) Write a file into the archive.", "zipfile.ZipFile.writestr"),
             ("zipfile.ZipFile.write", "zipfile.ZipFile.write",
              "ZipFile.write(filename) Write the file named filename to the archive; unlike writestr.",
              "zipfile.ZipFile.write")),
        page("library/json.html", "json — JSON encoder and decoder",
             ("json.dumps", "json.dumps", "json.dumps(obj) Serialize obj to a JSON formatted str.", "json.dumps"),
             ("json.loads", "json.loads", "json.loads(s) Deserialize s to a Python object.", "json.loads")),
        page("library/math.html", "math — Mathematical functions",
             ("module-math", "math", "This module provides access to the mathematical functions.", "math")),
        page("whatsnew/3.8.html", "What's New In Python 3.8",
             ("math", "math", "Added new function math.dist() for computing Euclidean distance; math math.")),
        page("library/pathlib.html", "pathlib — Object-oriented filesystem paths",
             ("pathlib.Path.read_text", "pathlib.Path.read_text",
              "Path.read_text(encoding=None) Return the decoded contents of the pointed-to file as a string.",
              "pathlib.Path.read_text")),
        page("howto/reading.html", "Reading files",
             ("read-text", "Read text", "To read text from a file, read the text with read text. Read, text.")),
        page("library/typing.html", "typing — Support for type hints",
             ("generics", "Generics", "User-defined generic types."),
             ("general", "General notes", "Some general remarks.")),
        page("install.html", "Installation",
             ("installation", "Installation", "Get the interpreter."),
             ("error-handling-guide", "Error handling", "What to do when things fail.")),
        page("faq.html", "FAQ", ("faq", "FAQ", "An error in the handling of signals is not error handling as such.")),
    ],
    # Django's: bare words that are both a section's title and the last part of longer names.
    ("django", "4"): [
        page("ref/views.html", "Built-in views",
             ("module-django.views", "django.views", "Several of Django's built-in views.", "django.views")),
        page("misc/design.html", "Design philosophies",
             ("views", "Views", "Simplicity: writing a view should be as simple as writing a Python function.")),
        # The same class under an h3 of a flattened index, unqualified, and under its own h2.
        {"path": "ref/flattened-index.html", "title": "Class-based generic views - flattened index", "sections": [
            ("flat-yeararchiveview", "YearArchiveView", 3, "Attributes and methods, flattened.", ""),
            ("YearArchiveView", "YearArchiveView", 7, "class YearArchiveView", "YearArchiveView")]},
        {"path": "ref/generic-dates.html", "title": "Generic date views", "sections": [
            ("yeararchiveview", "YearArchiveView", 2, "A yearly archive page.", ""),
            ("django.views.generic.dates.YearArchiveView", "django.views.generic.dates.YearArchiveView", 7,
             "class YearArchiveView A yearly archive page showing every available month.",
             "django.views.generic.dates.YearArchiveView")]},
        page("ref/exceptions.html", "Exceptions",
             ("django.db.IntegrityError", "django.db.IntegrityError", "The database raised it.",
              "django.db.IntegrityError")),
        page("ref/errors.html", "Error messages",
             ("integrityerror", "IntegrityError", "What this error means and how to avoid it.")),
    ],
}


@pytest.fixture
def api():
    return build(sources(("python", "3")), lambda source: API[(source.project, source.version)])


@pytest.fixture
def django():
    return build(sources(("django", "4")), lambda source: API[(source.project, source.version)])


RANKING = [
    # (query, the first hit's (path, anchor)): an exact API name ranks its definition first ...
    ("open", ("library/functions.html", "open")),
    ("len", ("library/functions.html", "len")),
    ("os.open", ("library/os.html", "os.open")),
    ("json.dumps", ("library/json.html", "json.dumps")),
    # ... a unique short or qualified suffix too, with or without call parentheses ...
    ("writestr", ("library/zipfile.html", "zipfile.ZipFile.writestr")),
    ("ZipFile.writestr", ("library/zipfile.html", "zipfile.ZipFile.writestr")),
    ("zipfile.ZipFile.writestr", ("library/zipfile.html", "zipfile.ZipFile.writestr")),
    ("ZipFile.writestr()", ("library/zipfile.html", "zipfile.ZipFile.writestr")),
    ("read_text", ("library/pathlib.html", "pathlib.Path.read_text")),
    # ... a module beats a heading that merely shares its name ...
    ("math", ("library/math.html", "module-math")),
    # ... a heading holding the phrase outranks a body that mentions the words ...
    ("error handling", ("install.html", "error-handling-guide")),
    # ... words are not stemmed into each other ...
    ("Generics", ("library/typing.html", "generics")),
    ("general", ("library/typing.html", "general")),
    # ... the last word is a prefix, as a reader types ...
    ("instal", ("install.html", "installation")),
    ("json.dum", ("library/json.html", "json.dumps")),
    # ... and a one-letter typo is corrected against the index's own names and words.
    ("jsno.dumps", ("library/json.html", "json.dumps")),
    ("json.dumsp", ("library/json.html", "json.dumps")),
    ("writestrr", ("library/zipfile.html", "zipfile.ZipFile.writestr")),
    ("instalation", ("install.html", "installation")),
]


@pytest.mark.parametrize(("text", "first"), RANKING, ids=[row[0] for row in RANKING])
def test_the_query_pipeline_ranks_the_definition_first(api, text, first):
    results = api.search(parse_query(text))

    assert results.hits, text
    assert (results.hits[0].path, results.hits[0].anchor) == first


TITLED_NAMES = [
    # (query, the first hit's (path, anchor)): a bare word that only ends longer names is a topic
    # too: the section titled exactly that word comes first ...
    ("Views", ("misc/design.html", "views")),
    ("views", ("misc/design.html", "views")),
    ("IntegrityError", ("ref/errors.html", "integrityerror")),
    # ... unless a page holds both the heading and the object: the object, on its own anchor, the
    # page with the higher heading first ...
    ("YearArchiveView", ("ref/generic-dates.html", "django.views.generic.dates.YearArchiveView")),
    # ... and a name typed with its qualifiers, or as a call, is an API name: its object first.
    ("django.views", ("ref/views.html", "module-django.views")),
    ("db.IntegrityError", ("ref/exceptions.html", "django.db.IntegrityError")),
    ("IntegrityError()", ("ref/exceptions.html", "django.db.IntegrityError")),
]


@pytest.mark.parametrize(("text", "first"), TITLED_NAMES, ids=[row[0] for row in TITLED_NAMES])
def test_a_bare_word_finds_the_section_titled_so_before_the_names_it_merely_ends(django, text, first):
    results = django.search(parse_query(text))

    assert (results.hits[0].path, results.hits[0].anchor) == first


def test_every_record_a_bare_word_finds_is_still_listed(django):
    anchors = [hit.anchor for hit in django.search(parse_query("YearArchiveView")).hits]

    assert anchors[:4] == ["django.views.generic.dates.YearArchiveView", "YearArchiveView", "yeararchiveview",
                           "flat-yeararchiveview"]


def record(page_number, number=0):
    return (page_number << SECTION_BITS) | number


@pytest.mark.parametrize(("identified", "titles", "bare", "ranked"), [
    # no title: the identifier step's order
    ([(record(1), 2), (record(2), 0)], [], True, [record(1), record(2)]),
    # qualified query: identifier hits, then titles
    ([(record(1), 1)], [record(2)], False, [record(1), record(2)]),
    # bare word: full names, then suffix hits on titled pages, then titles, then the other suffix hits
    ([(record(1), 2), (record(3), 0), (record(2, 5), 1)], [record(2), record(4)], True,
     [record(3), record(2, 5), record(2), record(4), record(1)]),
    # bare word: the objects on titled pages in their titles' order, whatever their names' length
    ([(record(4, 1), 0), (record(2, 5), 3)], [record(2), record(4)], True,
     [record(2, 5), record(4, 1), record(2), record(4)]),
])
def test_identifier_hits_and_titles_are_merged_by_what_the_query_names(identified, titles, bare, ranked):
    assert named_first(identified, titles, bare) == ranked


@pytest.mark.parametrize(("text", "bare"), [
    ("Views", True), ("getElementById", True), ("read_text", False), ("django.views", False), ("std::vector", False), ("open()", False),
    ("two words", False),
])
def test_a_bare_name_is_one_part_without_qualifiers_or_parentheses(text, bare):
    assert is_bare_name(parse_query(text)) is bare


def test_a_generic_word_does_not_find_general():
    index = build(sources(("python", "3")), lambda source: API[(source.project, source.version)])

    assert [hit.anchor for hit in index.search(parse_query("generics")).hits] == ["generics"]


def test_a_corrected_query_says_what_it_searched_for(api):
    assert api.search(parse_query("jsno.dumps")).corrected == "json.dumps"
    assert api.search(parse_query("instalation")).corrected == "installation"
    assert api.search(parse_query("json.dumps")).corrected is None


def test_nothing_near_the_vocabulary_gives_no_results_and_no_correction(api):
    results = api.search(parse_query("xylophonequartz"))

    assert (results.hits, results.total, results.corrected) == ([], 0, None)


def test_an_object_hit_carries_its_name_and_anchor(api):
    hit = api.search(parse_query("writestr")).hits[0]

    assert (hit.name, hit.anchor, hit.title) == (
        "zipfile.ZipFile.writestr", "zipfile.ZipFile.writestr", "zipfile — Work with ZIP archives")


def test_identifier_hits_are_scoped_and_filtered_like_every_other(api):
    python = api.docs[("python", "3")]

    assert api.search(parse_query("writestr"), docs=[python + 1000]).hits == []
    results = api.search(parse_query("writestr"), is_readable=lambda project, version, path: "zipfile" not in path)
    assert all("zipfile" not in hit.path for hit in results.hits)


@pytest.mark.parametrize(("name", "words"), [
    ("zipfile.ZipFile.writestr", "zipfile.ZipFile.writestr zipfile ZipFile writestr Zip File"),
    ("read_text", "read_text read_text read text"),
    ("std::vector::push_back", "std::vector::push_back std vector push_back push back"),
    ("HTTPServer", "HTTPServer HTTPServer HTTP Server"),
    ("getElementById", "getElementById getElementById get Element By Id"),
])
def test_an_identifier_is_found_by_its_parts(name, words):
    assert identifier_words(name) == words


def test_an_identifier_is_looked_up_by_every_dotted_suffix():
    assert identifier_keys("zipfile.ZipFile.writestr") == [
        ("zipfile.zipfile.writestr", 0), ("zipfile.writestr", 1), ("writestr", 2)]
    assert identifier_keys("std::vector") == [("std.vector", 0), ("vector", 1)]


def test_edits_are_one_letter_away():
    assert {"json", "jso", "jsnoo", "jsna"} <= edits("jsno")  # swapped, deleted, inserted, replaced
    assert not {"jsno", "nosj", "js"} & edits("jsno")


def test_a_name_documented_elsewhere_than_its_module_is_found_by_the_parts_it_shares_and_its_case():
    docs = {("sa", "1"): [
        page("types.html", "Types", ("sa.types.NCHAR", "sa.types.NCHAR", "The generic NCHAR type.", "sa.types.NCHAR")),
        page("mysql.html", "MySQL", ("sa.dialects.mysql.NCHAR", "sa.dialects.mysql.NCHAR", "MySQL NCHAR.",
                                     "sa.dialects.mysql.NCHAR")),
        page("dml.html", "DML",
             ("sa.sql.expression.update", "sa.sql.expression.update", "update(table) Construct an Update.",
              "sa.sql.expression.update"),
             ("sa.sql.expression.Update", "sa.sql.expression.Update", "class Update Represent an UPDATE.",
              "sa.sql.expression.Update")),
    ]}
    index = build(sources(("sa", "1")), lambda source: docs[(source.project, source.version)])

    first = lambda text: index.search(parse_query(text)).hits[0].anchor  # noqa: E731
    assert first("sa.dialects.mysql.types.NCHAR") == "sa.dialects.mysql.NCHAR"  # documented under another path
    assert first("sa.sql.dml.Update") == "sa.sql.expression.Update"
    assert first("sa.sql.dml.update") == "sa.sql.expression.update"
    assert first("sa.sql.expression.Update") == "sa.sql.expression.Update"
    assert first("Update") == "sa.sql.expression.Update"


@pytest.fixture
def walruses():
    """Five pages whose bodies all say walrus, the fourth under a heading about walruses."""
    pages = [page(f"p{number}.html", f"Page {number}", ("s", "Section", f"walrus number {number}"))
             for number in range(5)]
    pages[3] = page("p3.html", "Page 3", ("walrus-care", "Walrus care", "walrus number 3"))
    return build(sources(("zoo", "1")), lambda source: pages)


def test_a_very_common_word_ranks_headings_first_among_its_first_records(walruses, monkeypatch):
    monkeypatch.setattr(engine, "COMMON_RECORDS", 1)

    results = walruses.search(parse_query("walrus"))

    assert [hit.path for hit in results.hits] == ["p3.html", "p0.html", "p1.html", "p2.html", "p4.html"]
    assert results.total == 5


def test_a_very_common_word_is_ranked_within_a_bounded_set_of_candidates(walruses, monkeypatch):
    monkeypatch.setattr(engine, "COMMON_RECORDS", 1)
    monkeypatch.setattr(engine, "MAX_RANKED", 2)

    results = walruses.search(parse_query("walrus"))

    # The heading past the first two candidates is not looked for; the total still counts every record.
    assert [hit.path for hit in results.hits] == ["p0.html", "p1.html"]
    assert results.total == 5


def test_a_prefix_is_searched_as_its_most_frequent_completions(monkeypatch):
    pages = [page("a.html", "A", ("a", "Install", "install it")), page("b.html", "B", ("b", "Install", "install")),
             page("c.html", "C", ("c", "Installer", "the installer"))]
    index = build(sources(("zoo", "1")), lambda source: pages)

    assert {hit.path for hit in index.search(parse_query("instal")).hits} == {"a.html", "b.html", "c.html"}
    monkeypatch.setattr(engine, "MAX_COMPLETIONS", 1)
    assert {hit.path for hit in index.search(parse_query("instal")).hits} == {"a.html", "b.html"}


def test_a_prefix_typed_within_one_version_finds_its_rare_word_beside_frequent_ones_elsewhere():
    # Another project holds more frequent completions of "kestre" than the index names for a prefix.
    busy = [page(f"p{n}.html", f"Page {n}", ("", "", " ".join(f"kestrel{m}" for m in range(30)) * 3)) for n in range(5)]
    docs = {("busy", "1"): busy, ("quiet", "1"): [page("only.html", "Only", ("", "", "the kestrelzzz lives here"))]}
    index = build(sources(*docs), lambda source: docs[(source.project, source.version)])
    quiet = {index.docs[("quiet", "1")]}

    results = index.search(parse_query("kestre"), docs=quiet)

    assert [hit.path for hit in results.hits] == ["only.html"]
    assert index.search(parse_query("kestrelzz"), docs=quiet).total == 1
