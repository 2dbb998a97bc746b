"""Pure: the portal index document (what the bucket holds) and the Catalog read from it.

The index is one JSON object in the bucket, ``<S3_PREFIX>.docs-portal.json``::

    {"format": 1, "projects": {"payments": {
        "title": "Payments", "description": "...", "owner": "...", "contact": "...", "repo": "...",
        "tags": ["api"], "aliases": {"lts": "1.10.0"}, "hub": true,
        "versions": {"2.0.0": {"published": "2026-11-22T14:00:00+00:00", "commit": "abc123",
                               "size": 123456, "files": 42, "hidden": false, "error_document": "404.html",
                               "metadata": {"description": "...", ...},
                               "artifacts": {"dist/manual.pdf": {"max_size": 734003200,
                                                                 "granted": "2026-11-22T14:05:00+00:00"}}}}}}}

The project's fields are what its latest publishes said; each version also keeps what it said, for
readers who may read only some versions (``metadata_for``).

``artifacts`` are the files a token holder was granted a presigned POST for (issue 24): granted, not
necessarily uploaded, so whoever lists them first asks S3 whether each is there (portal/artifacts.py).

``aliases`` holds only pins; ``latest``, ``stable`` and release lines are computed (versions.py).
"""

import json
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit
from functools import cached_property

from .versions import DEVELOPMENT, LINE, PRERELEASE, order_versions, parse_version, resolve_aliases

FORMAT = 1
METADATA_FIELDS = ("title", "description", "owner", "contact", "repo")


class BadIndex(ValueError):
    """The index object is not a portal index this version understands."""


def empty_index():
    """Return an index document with no projects."""
    return {"format": FORMAT, "projects": {}}


def decode_index(data):
    """Return the index document in ``data`` (bytes), raising ``BadIndex`` if it is not one."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise BadIndex(f"not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("projects"), dict):
        raise BadIndex(f"not a format-{FORMAT} portal index")
    for name, project in document["projects"].items():
        if not isinstance(project, dict) or not isinstance(project.get("versions", {}), dict):
            raise BadIndex(f"project {name!r} is malformed")
    return document


def encode_index(document):
    """Return the bytes of an index document (sorted keys: equal content, equal ETag)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def new_project(name):
    """Return an index entry for a project with no versions yet."""
    return {"title": name, "description": "", "owner": "", "contact": "", "repo": "", "tags": [],
            "aliases": {}, "versions": {}}


@dataclass(frozen=True)
class Artifact:
    """A file of a version granted a presigned POST: ``path`` below the version, at most ``max_size`` bytes."""

    path: str
    max_size: int = None
    granted: str = ""


def granted_artifacts(raw):
    """Return a version's recorded artifacts as ``Artifact`` tuples sorted by path (a list of paths is the older form)."""
    if isinstance(raw, list):
        raw = {path: {} for path in raw}
    if not isinstance(raw, dict):
        return ()
    artifacts = []
    for path, grant in sorted(raw.items()):
        grant = grant if isinstance(grant, dict) else {}
        max_size = grant.get("max_size")
        artifacts.append(Artifact(
            path, max_size if isinstance(max_size, int) and not isinstance(max_size, bool) else None,
            grant.get("granted") if isinstance(grant.get("granted"), str) else "",
        ))
    return tuple(artifact for artifact in artifacts if isinstance(artifact.path, str) and artifact.path)


@dataclass(frozen=True)
class Version:
    """One published version of a project."""

    name: str
    hidden: bool = False
    published: str = None
    commit: str = ""
    size: int = None
    files: int = None
    metadata: tuple = ()  # ((field, value), ...) this version's publish said of the project
    # The version's own error page, when publish found one at its root (``404.html``).
    error_document: str = ""
    # A preview (issue 24) is always hidden too; it is deleted by ``flask docs gc`` after ``expires``.
    preview: bool = False
    expires: str = None
    # Files granted a presigned POST (issue 24), as ``Artifact``: listed once S3 holds them (portal/artifacts.py),
    # kept when the version is published again.
    artifacts: tuple = ()

    @cached_property
    def kind(self):
        """Return ``release``, ``prerelease``, ``line`` or ``development`` (versions.py)."""
        return parse_version(self.name).kind


@dataclass(frozen=True)
class Project:
    """A project with its metadata and versions, newest first (hidden ones included, flagged)."""

    name: str
    title: str = ""
    description: str = ""
    owner: str = ""
    contact: str = ""
    repo: str = ""
    tags: tuple = ()
    pins: dict = field(default_factory=dict)
    versions: tuple = ()
    # The hub (app/hub/): True or False once set for the project, None while it follows DOCS_HUB.
    hub: bool = None

    @cached_property
    def by_name(self):
        """Return ``{name: Version}``."""
        return {version.name: version for version in self.versions}

    @cached_property
    def resolution(self):
        """Return the aliases of the listed (not hidden) versions, for a reader who may read them all."""
        return resolve_aliases([version.name for version in self.versions if not version.hidden], self.pins)

    @cached_property
    def search_text(self):
        """Return the lower-case text the landing page's filter matches: name, title, description, owner, tags."""
        return " ".join([self.name, self.title, self.description, self.owner, *self.tags]).lower()

    @property
    def default_version(self):
        """Return the version ``/docs/<project>/`` leads to, or ``None`` when nothing is listed."""
        return self.resolution.default


@dataclass(frozen=True)
class Catalog:
    """Every project in the bucket; ``version_id`` changes whenever anything in the index changes."""

    projects: tuple
    version_id: str
    source: str = "index"

    @cached_property
    def by_name(self):
        """Return ``{name: Project}``."""
        return {project.name: project for project in self.projects}


def is_web_link(url):
    """Tell whether ``url`` is an absolute http(s) URL, the only kind the portal makes a link of."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(char.isspace() or ord(char) < 32 for char in url)


def link_or_empty(url):
    """Return ``url`` if the portal may link to it (``is_web_link``), else ``""`` (``javascript:`` never becomes a link)."""
    return url if isinstance(url, str) and is_web_link(url) else ""


def version_metadata(raw):
    """Return a version's recorded metadata as a tuple of pairs, with only known fields of the right type."""
    if not isinstance(raw, dict):
        return ()
    pairs = [(key, raw[key]) for key in METADATA_FIELDS if isinstance(raw.get(key), str)]
    if isinstance(raw.get("tags"), list):
        pairs.append(("tags", tuple(tag for tag in raw["tags"] if isinstance(tag, str))))
    return tuple(pairs)


def metadata_for(project, readable):
    """Return ``project`` as a reader who may read only the versions named in ``readable`` sees it.

    A reader of every version sees the project's fields. Anyone else sees what the versions they may
    read said, the latest publish winning: a restricted version's description, owner or repository
    must not show on its public versions' cards.
    """
    if all(version.name in readable for version in project.versions):
        return project
    said = {}
    for version in sorted(project.versions, key=lambda version: version.published or ""):
        if version.name in readable:
            said.update(version.metadata)
    return replace(
        project,
        title=said.get("title") or project.name,
        description=said.get("description", ""),
        owner=said.get("owner", ""),
        contact=said.get("contact", ""),
        repo=link_or_empty(said.get("repo", "")),
        tags=tuple(said.get("tags", ())),
    )


def catalog_from_index(document, version_id, source="index"):
    """Return the ``Catalog`` an index document describes (projects by name, versions newest first)."""
    projects = []
    for name in sorted(document["projects"]):
        entry = document["projects"][name]
        raw_versions = entry.get("versions", {})
        versions = tuple(
            Version(
                name=version,
                hidden=bool(raw_versions[version].get("hidden", False)),
                published=raw_versions[version].get("published"),
                commit=raw_versions[version].get("commit", "") or "",
                size=raw_versions[version].get("size"),
                files=raw_versions[version].get("files"),
                metadata=version_metadata(raw_versions[version].get("metadata")),
                error_document=raw_versions[version].get("error_document", "") or "",
                preview=bool(raw_versions[version].get("preview", False)),
                expires=raw_versions[version].get("expires"),
                artifacts=granted_artifacts(raw_versions[version].get("artifacts")),
            )
            for version in order_versions(raw_versions)
        )
        projects.append(Project(
            name=name,
            title=entry.get("title") or name,
            description=entry.get("description", "") or "",
            owner=entry.get("owner", "") or "",
            contact=entry.get("contact", "") or "",
            repo=link_or_empty(entry.get("repo", "") or ""),
            tags=tuple(entry.get("tags", ()) or ()),
            pins=dict(entry.get("aliases", {}) or {}),
            versions=versions,
            hub=entry["hub"] if isinstance(entry.get("hub"), bool) else None,
        ))
    return Catalog(tuple(projects), version_id, source)


def groups(project, names):
    """Split a project's listed version ``names`` into stable / next / past / development, for the project page.

    ``stable``: the stable version; ``next``: prereleases newer than it; ``past``: every other release
    and prerelease; ``development``: branches and lines (``main``, ``1.x``).
    """
    resolution = resolve_aliases(names, project.pins)
    stable = resolution.aliases.get("stable")
    stable_info = parse_version(stable) if stable else None
    result = {"stable": [], "next": [], "past": [], "development": []}
    for name in resolution.ordered:
        info = parse_version(name)
        if info.kind in (DEVELOPMENT, LINE):
            result["development"].append(name)
        elif name == stable:
            result["stable"].append(name)
        elif info.kind == PRERELEASE and (stable_info is None or stable_info < info):
            result["next"].append(name)
        else:
            result["past"].append(name)
    return resolution, result
