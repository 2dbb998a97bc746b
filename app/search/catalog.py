"""Which projects and versions exist: the portal's catalog (issue 11), or a stand-in until it lands.

Search needs only the catalog contract of the brief: ``.projects`` (``.name``, ``.default_version``,
``.versions`` of ``.name``/``.hidden``/``.published``) and ``.version_id``. When ``app.portal``
provides ``get_catalog()`` search uses it; otherwise ``listing_catalog`` derives the same shape from
the search documents in the bucket (one listing, cached a few seconds per worker), taking the most
recently published version of each project as its default.
"""

import threading
import time
from dataclasses import dataclass, field

from flask import current_app

from .document import SEARCH_DOCUMENT

LISTING_TTL = 10.0


@dataclass(frozen=True)
class Version:
    """A version as the catalog contract describes it."""

    name: str
    hidden: bool = False
    published: str = ""


@dataclass(frozen=True)
class Project:
    """A project as the catalog contract describes it (versions newest first)."""

    name: str
    title: str = ""
    description: str = ""
    default_version: str | None = None
    versions: list = field(default_factory=list)


@dataclass(frozen=True)
class Catalog:
    """The projects, and an id that changes whenever any of them changes."""

    projects: list
    version_id: str


def get_catalog():
    """Return the current catalog: the portal's when it is installed, else the listing stand-in."""
    try:
        from ..portal import get_catalog as portal_catalog
    except ImportError:
        return listing_catalog()
    return portal_catalog()


def catalog_from_keys(objects):
    """Return the ``Catalog`` described by ``(key, last_modified)`` pairs of ``P/V/.docs-search.json`` keys."""
    versions = {}
    for key, modified in objects:
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == SEARCH_DOCUMENT and parts[0] and parts[1]:
            versions.setdefault(parts[0], []).append(Version(parts[1], published=modified))
    projects = []
    for name in sorted(versions):
        listed = sorted(versions[name], key=lambda version: (version.published, version.name), reverse=True)
        projects.append(Project(name, title=name, default_version=listed[0].name, versions=listed))
    version_id = "|".join(f"{project.name}/{version.name}@{version.published}" for project in projects for version in project.versions)
    return Catalog(projects, version_id)


_cache_lock = threading.Lock()


def listing_catalog():
    """Return the catalog from one listing of the bucket's search documents, cached ``LISTING_TTL`` seconds."""
    now = time.monotonic()
    with _cache_lock:
        cached = current_app.extensions.get("search.listing")
        if cached and now - cached[0] < LISTING_TTL:
            return cached[1]
    s3, bucket, prefix = current_app.extensions["s3"], current_app.config["S3_BUCKET"], current_app.config["S3_PREFIX"]
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects.extend(
            (item["Key"][len(prefix):], item["LastModified"].isoformat())
            for item in page.get("Contents", ())
            if item["Key"].endswith("/" + SEARCH_DOCUMENT)
        )
    catalog = catalog_from_keys(objects)
    with _cache_lock:
        current_app.extensions["search.listing"] = (now, catalog)
    return catalog
