"""A small Sphinx project that the browser tests build, publish and browse (tests/test_browser.py)."""

project = "Proxy Test Docs"
author = "docs-proxy"
copyright = "docs-proxy authors"
release = "1.0"

# Alabaster ships with Sphinx and loads nothing from the network; the test browser has none.
html_theme = "alabaster"
# show_related puts the "Next" link in the sidebar, which the tests follow.
html_theme_options = {"github_button": False, "show_powered_by": False, "show_related": True}
exclude_patterns = ["_build"]
