"""The FTS5 index: ranking, scoping, hostile queries, time limits, and rebuilding beside the old index."""

import pytest

from app.search.engine import MARK_START, MissingDocument, SearchTimeout, Source, build_index
from app.search.query import parse_query
from tests.search.test_query import HOSTILE


def page(path, title, *sections):
    """Return a search-document page entry; sections are (anchor, heading, text)."""
    return {"path": path, "title": title, "sections": [(a, h, 2 if h else 0, t) for a, h, t in sections]}


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
    return build_index(sources(("alpha", "1.0"), ("beta", "2.0")), load)


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
    index = build_index(sources(("big", "1")), lambda source: big[("big", "1")])

    with pytest.raises(SearchTimeout):
        index.search(parse_query("common"), timeout=0.0)
    assert index.search(parse_query("common"), timeout=5).total == 3000


def test_a_rebuild_reloads_only_the_versions_whose_stamp_changed(index):
    loaded = []

    def counting(source):
        loaded.append(source.project)
        return load(source)

    rebuilt = build_index(sources(("alpha", "1.0")) + sources(("beta", "2.0"), stamp="2"), counting, previous=index)

    assert loaded == ["beta"]
    assert (rebuilt.stats.reused, rebuilt.stats.loaded) == (1, 1)
    assert rebuilt.search(parse_query("kestrel")).total == 4
    assert index.search(parse_query("kestrel")).total == 4  # the old index still answers


def test_a_rebuild_drops_versions_no_longer_wanted(index):
    rebuilt = build_index(sources(("beta", "2.0")), load, previous=index)

    assert [hit.project for hit in rebuilt.search(parse_query("kestrel")).hits] == ["beta"]
    assert set(rebuilt.docs) == {("beta", "2.0")}


def test_missing_and_unreadable_documents_are_listed_not_fatal():
    def failing(source):
        if source.project == "broken":
            raise ValueError("not a search document")
        return load(source)

    index = build_index(sources(("alpha", "1.0"), ("gone", "1"), ("broken", "1")), failing)

    assert [source.project for source in index.stats.missing] == ["gone"]
    assert [source.project for source, _ in index.stats.failed] == ["broken"]
    assert index.search(parse_query("kestrel")).total == 3


def test_every_source_is_loaded_when_there_are_more_than_loading_threads():
    docs = {(f"p{n}", "1"): [page("index.html", f"Project {n}", ("", "", "shared word"))] for n in range(7)}

    index = build_index(sources(*docs), lambda source: docs[(source.project, source.version)], threads=2)

    assert index.stats.loaded == 7
    assert index.search(parse_query("shared")).total == 7
