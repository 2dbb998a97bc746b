"""Fixtures for the search tests: the real Sphinx and MkDocs sites, built once per session."""

import pytest

from tests.browser.test_browser import build_mkdocs, build_sphinx


@pytest.fixture(scope="session")
def built_sites(tmp_path_factory):
    """``{"sphinx": dir, "mkdocs": dir}``: tests/sites/ built by Sphinx and MkDocs, as the browser tests do."""
    work = tmp_path_factory.mktemp("search-sites")
    sites = {}
    for name, build in (("sphinx", build_sphinx), ("mkdocs", build_mkdocs)):
        sites[name] = work / name
        build(sites[name], work)
    return sites
