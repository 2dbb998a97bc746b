"""Pure: which projects get the hub, which keys are pages, and what the context API says about a page."""

from ..portal.versions import DEVELOPMENT, LINE, PRERELEASE

PAGE_SUFFIXES = (".html", ".htm")


def is_enabled(mode, project_setting):
    """Tell whether a project gets the hub: ``DOCS_HUB=on`` unless it turned it off, else only if it turned it on.

    ``project_setting`` is the project's portal entry's ``hub``: ``True``, ``False`` or ``None`` (never set).
    """
    if mode == "on":
        return project_setting is not False
    return project_setting is True


def split_version_path(path):
    """Return ``(project, version, rest)`` of a document path inside a version, or ``None``."""
    project, _, rest = path.partition("/")
    version, slash, rest = rest.partition("/")
    if not project or not version or not slash:
        return None
    return project, version, rest


def is_page_key(key, index_document):
    """Tell whether ``key`` names a page the hub may go into (the serving code checks the type S3 gives)."""
    return key.lower().endswith(PAGE_SUFFIXES) or key.rpartition("/")[2] == index_document


def page_name(relkey, index_document):
    """Return the page a key below a version's root stands for: its directory for an index document."""
    folder, slash, name = relkey.rpartition("/")
    if name == index_document:
        return folder + slash
    return relkey


def page_keys(page, index_document):
    """Return the keys below a version's root that would serve ``page``."""
    if page == "" or page.endswith("/"):
        return (page + index_document,)
    return (page,)


def notice(kind, hidden, is_default, is_newer_than_default, preview=False):
    """Return the notice a version's pages show: ``preview``, ``hidden``, ``prerelease``, ``development``, ``outdated`` or ``None``."""
    if preview:
        return "preview"  # a temporary build (issue 24): always hidden too, and says so before anything else
    if hidden:
        return "hidden"
    if is_default:
        return None
    if kind == PRERELEASE and is_newer_than_default:
        return "prerelease"
    if kind in (DEVELOPMENT, LINE):
        return "development"
    return "outdated"


def version_url(docs_url, switch_url, project, version, page, pages, index_document):
    """Return where ``version``'s entry leads from ``page``: the same page if its manifest has it, its root if not.

    ``pages`` is the set of the version's keys from its publish manifest, or ``None`` when it has none
    (copied in by hand): then the portal's switch URL finds the nearest page that exists when followed.
    """
    if pages is None:
        return switch_url(project, version, page)
    if page and any(key in pages for key in page_keys(page, index_document)):
        return docs_url(project, version, page)
    return docs_url(project, version, "")
