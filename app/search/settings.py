"""Search's settings (config.py describes a ``Setting``)."""

import os

from config import ConfigError, Setting, choice, number


def index_folder(name, raw):
    """Return an absolute folder path, or empty (the default folder under the system's temporary directory)."""
    if raw and not os.path.isabs(raw):
        raise ConfigError(f"{name} must be an absolute path (the folder every worker of the host shares), not {raw!r}")
    return raw


SETTINGS = (
    Setting("DOCS_SEARCH_QUERY_MAX_CHARS", 200, number(int, 10, 10_000),
            "characters of a search query searched for (the rest is cut, and the answer says so)", "100"),
    Setting("DOCS_SEARCH_QUERY_MAX_TERMS", 12, number(int, 1, 64), "words or quoted phrases of a query searched for", "6"),
    Setting("DOCS_SEARCH_TIMEOUT", 0.5, number(float, 0.01, 60),
            "seconds a search may run before it is stopped with a `503`", "0.25"),
    Setting("DOCS_SEARCH_BUILD_WAIT", 10.0, number(float, 0, 600),
            "seconds a host's first search waits for the host's index before a `503` with `Retry-After`", "3"),
    Setting("DOCS_SEARCH_BUILD_TIMEOUT", 900.0, number(float, 10, 86_400),
            "seconds a build of the host's index (a process of its own) may run before it is stopped, logged and "
            "tried again 30 s later, the previous index answering meanwhile", "1800"),
    Setting("DOCS_SEARCH_PER_PAGE", 10, number(int, 1, 100), "results per page", "20"),
    Setting("DOCS_SEARCH_PUBLISH", "on", choice("on", "off"),
            "`on`: `publish` extracts every page and writes the version's search document; `off`: it does not", "off"),
    Setting("DOCS_SEARCH_INDEX_DIR", "", index_folder,
            "absolute folder of the host's search index file, shared by every worker of the host (empty: a folder "
            "per bucket and prefix under the system's temporary directory)", "/var/cache/docs-proxy/search"),
)
