"""Pure: how a hit is shown: the URL to its heading, its snippet as text and as HTML, the page numbers."""

from urllib.parse import quote

from markupsafe import Markup, escape

from .engine import MARK_END, MARK_START

MAX_PAGES = 100  # result pages a reader can ask for: deep pages of a docs search are never wanted


def doc_path(project, version, path, index_document="index.html"):
    """Return the document path below /docs/ of a page, with a directory's index document left out."""
    if path == index_document or path.endswith("/" + index_document):
        path = path[: -len(index_document)]
    return f"{project}/{version}/{path}"


def hit_url(script_root, project, version, path, anchor, index_document="index.html"):
    """Return the URL of a hit: the versioned page under /docs/, with the heading's anchor."""
    url = f"{script_root}/docs/" + quote(doc_path(project, version, path, index_document))
    return url + "#" + quote(anchor, safe="-._~!$&'()*+,;=:@/?") if anchor else url


def plain_text(marked):
    """Return marked text (highlights between ``MARK_START``/``MARK_END``) without the marks."""
    return marked.replace(MARK_START, "").replace(MARK_END, "")


def marked_html(marked):
    """Return marked text as safe HTML, every highlight in ``<mark>``, everything else escaped."""
    html = str(escape(marked)).replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    # A mark left open by a snippet cut mid-highlight is closed, so it cannot swallow the page.
    if html.count("<mark>") > html.count("</mark>"):
        html += "</mark>"
    return Markup(html)


def page_count(total, per_page):
    """Return how many result pages ``total`` hits fill, at most ``MAX_PAGES``."""
    return min(MAX_PAGES, max(1, -(-total // per_page)))


def parse_page_number(raw):
    """Return the 1-based result page asked for in ``raw``, or ``None`` if it is not one (1 to ``MAX_PAGES``)."""
    if raw is None or raw == "":
        return 1
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_PAGES else None
