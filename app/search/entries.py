"""The entries of pages in a search document, extracted from their HTML: what publish's extraction process runs.

It imports lxml and the search document's format, nothing of Flask or boto3, so the process that
publish starts for a large site (``publish.py``) is ready in a few hundredths of a second.
"""

import os

from .builder import die_with_parent
from .document import page_entry
from .extract import extract_page


def start_extraction_process(nice, parent):
    """Prepare publish's extraction process: below the uploads in priority, and dead with the publish.

    Killed publishes (OOM, a worker's timeout, ``kill -9``) must not leave it behind: blocked writing a
    chunk's entries to a pipe nobody reads, it would wait forever.
    """
    os.nice(nice)
    die_with_parent(parent)


def extract_entry(path, data, sha256=""):
    """Return the entry of the page ``data`` (HTML bytes) published at ``path``, or ``None`` (nothing to search)."""
    page = extract_page(data)
    if page is None or not page.sections and not page.title:
        return None
    return page_entry(path, page, sha256)


def extract_files(pages):
    """Return ``[(entry, problem)]`` for ``[(path, filename, sha256)]``: each file's entry, or why it has none.

    One page that cannot be read never costs the others their entries.
    """
    results = []
    for path, filename, sha256 in pages:
        try:
            with open(filename, "rb") as file:
                results.append((extract_entry(path, file.read(), sha256), None))
        except Exception as error:  # noqa: BLE001 - reported by publish, which leaves the page out of search
            results.append((None, f"{type(error).__name__}: {error}"))
    return results
