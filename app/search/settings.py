"""Search's settings (config.py describes a ``Setting``)."""

from config import Setting, choice, number

SETTINGS = (
    Setting("DOCS_SEARCH_QUERY_MAX_CHARS", 200, number(int, 10, 10_000),
            "characters of a search query searched for (the rest is cut, and the answer says so)", "100"),
    Setting("DOCS_SEARCH_QUERY_MAX_TERMS", 12, number(int, 1, 64), "words or quoted phrases of a query searched for", "6"),
    Setting("DOCS_SEARCH_TIMEOUT", 0.5, number(float, 0.01, 60),
            "seconds a search may run before it is stopped with a `503`", "0.25"),
    Setting("DOCS_SEARCH_BUILD_WAIT", 10.0, number(float, 0, 600),
            "seconds a worker's first search waits for its index before a `503` with `Retry-After`", "3"),
    Setting("DOCS_SEARCH_PER_PAGE", 10, number(int, 1, 100), "results per page", "20"),
    Setting("DOCS_SEARCH_PROJECT_INDEXES", 2, number(int, 0, 100),
            '"all versions of one project" indexes each worker keeps (least recently used dropped)', "4"),
    # issue 19: readers cycling through projects made a build per search
    Setting("DOCS_SEARCH_BUILDS", 1, number(int, 1, 16),
            "index builds one worker runs at once; a scope with no index finding none free answers `503`", "2"),
    Setting("DOCS_SEARCH_PUBLISH", "on", choice("on", "off"),
            "`on`: `publish` extracts every page and writes the version's search document; `off`: it does not", "off"),
)
