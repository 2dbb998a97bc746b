"""The portal index in the bucket: read it (cached per worker), update it with conditional writes, rebuild it.

Writers never lose each other's changes: every update reads the index with its ETag, applies one
change and writes it back with ``IfMatch`` (or ``IfNoneMatch: *`` when creating it); S3 refuses the
write if someone else wrote in between (412, or 409 for a write racing ours), and the update starts
over from a fresh read. Readers keep the parsed index for at most ``DOCS_PORTAL_TTL`` seconds and
then revalidate it with a conditional GET (a 304 costs no body and no parsing). A bucket without an
index has no projects: its folders are never guessed to be projects and versions, so a plain S3
website keeps S3 website hosting's answers (``flask docs reindex`` writes an index from a listing).
"""

import json
import random
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError

from ..exceptions import is_missing

from .catalog import BadIndex, catalog_from_index, decode_index, empty_index, encode_index, granted_artifacts, new_project
from .versions import (
    PROJECT_PATTERN,
    BadName,
    check_alias_name,
    check_project_name,
    check_version_name,
    order_versions,
    parse_version,
)

INDEX_NAME = ".docs-portal.json"
# Each project's entry is also kept beside its versions, so a rebuild after losing the index keeps
# titles, pins, hidden flags and commits. The index stays the one source the portal reads.
PROJECT_NAME = ".docs-project.json"
UPDATE_ATTEMPTS = 40
NO_INDEX = "none"
# A version published with this file at its root answers its missing pages with it (docs/website.md).
ERROR_DOCUMENT = "404.html"
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class IndexConflict(Exception):
    """The index kept changing under an update; nothing was written."""


def index_key(prefix):
    """Return the key of the portal index under ``S3_PREFIX`` ``prefix``."""
    return prefix + INDEX_NAME


def now_iso():
    """Return the current UTC time as ISO 8601, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def error_code(error):
    """Return S3's error code for a ``ClientError`` (falling back to the HTTP status)."""
    response = error.response
    return response.get("Error", {}).get("Code") or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def read_index(s3, bucket, prefix, if_none_match=None):
    """Return ``(document, etag)``; ``(None, None)`` when there is no index; ``(None, etag)`` on a 304."""
    params = {"IfNoneMatch": if_none_match} if if_none_match else {}
    try:
        response = s3.get_object(Bucket=bucket, Key=index_key(prefix), **params)
    except ClientError as error:
        if is_missing(error, strict=True):
            return None, None
        if error_code(error) in ("304", "NotModified"):
            return None, if_none_match
        raise
    with response["Body"] as body:
        data = body.read()
    return decode_index(data), response["ETag"]


def update_index(s3, bucket, prefix, change, attempts=UPDATE_ATTEMPTS):
    """Apply ``change(document)`` to the index with a conditional write, retrying on conflict; return the new document.

    ``change`` mutates the document it is given and may raise (``BadName``, ``LookupError``) to
    refuse; it is called again on every retry, so it must decide from the document alone. A missing
    index is first rebuilt from a listing, so projects copied in by hand do not vanish from the portal.
    """
    for attempt in range(attempts):
        document, etag = read_index(s3, bucket, prefix)
        if document is None:
            document = build_index(s3, bucket, prefix)
            condition = {"IfNoneMatch": "*"}
        else:
            condition = {"IfMatch": etag}
        change(document)
        try:
            s3.put_object(
                Bucket=bucket, Key=index_key(prefix), Body=encode_index(document),
                ContentType="application/json", CacheControl="no-store", **condition,
            )
            return document
        except ClientError as error:
            if error_code(error) not in CONFLICT_CODES:
                raise
        # Someone else wrote first: back off with jitter so 20 writers do not collide in lockstep.
        time.sleep(random.uniform(0, min(1.0, 0.02 * 2 ** min(attempt, 6))))
    raise IndexConflict(f"the portal index changed {attempts} times while updating it; try again")


def build_index(s3, bucket, prefix, previous=None, index_document="index.html"):
    """Return an index rebuilt from a full listing of the bucket, keeping ``previous``'s metadata, pins and flags.

    A version is a folder ``<project>/<version>/`` holding an index page; its size, file count and
    publish time (the newest object's) come from the listing.
    """
    stats = defaultdict(lambda: {"size": 0, "files": 0, "published": "", "pages": False})
    top_pages = set()
    saved = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            parts = item["Key"][len(prefix):].split("/")
            if len(parts) == 2 and parts[1] == index_document:
                top_pages.add(parts[0])
            if len(parts) == 2 and parts[1] == PROJECT_NAME:
                saved.append(parts[0])
            if len(parts) < 3 or parts[0][:1] in ("_", ".") or parts[1][:1] in ("_", "."):
                continue
            entry = stats[(parts[0], parts[1])]
            entry["size"] += item["Size"]
            entry["files"] += 1
            entry["published"] = max(entry["published"], item["LastModified"].astimezone(timezone.utc).replace(microsecond=0).isoformat())
            if len(parts) == 3 and parts[2] == index_document:
                entry["pages"] = True
            if len(parts) == 3 and parts[2] == ERROR_DOCUMENT:
                entry["error_document"] = ERROR_DOCUMENT
    old = dict((previous or empty_index())["projects"])
    for project in saved:
        if project not in old:
            old[project] = read_project_entry(s3, bucket, prefix, project)
    document = empty_index()
    for (project, version), entry in sorted(stats.items()):
        if not entry["pages"] or project in top_pages or not PROJECT_PATTERN.fullmatch(project):
            continue
        target = document["projects"].setdefault(project, _carry_project(old.get(project), project))
        kept = old.get(project, {}).get("versions", {}).get(version, {})
        target["versions"][version] = {
            "published": kept.get("published") or entry["published"],
            "commit": kept.get("commit", ""),
            "size": entry["size"],
            "files": entry["files"],
            "hidden": bool(kept.get("hidden", False)),
            **({"preview": True, "expires": kept.get("expires", "")} if kept.get("preview") else {}),
            **({"artifacts": artifact_grants(kept["artifacts"])} if kept.get("artifacts") else {}),
        }
        if entry.get("error_document"):
            target["versions"][version]["error_document"] = entry["error_document"]
    for project in document["projects"].values():
        project["aliases"] = {name: target for name, target in project["aliases"].items() if target in project["versions"]}
    return document


def read_project_entry(s3, bucket, prefix, project):
    """Return the project entry saved beside ``project``'s versions, or ``{}`` when it cannot be read."""
    try:
        response = s3.get_object(Bucket=bucket, Key=f"{prefix}{project}/{PROJECT_NAME}")
        with response["Body"] as body:
            entry = json.loads(body.read())
        return entry if isinstance(entry, dict) and isinstance(entry.get("versions", {}), dict) else {}
    except (ClientError, BotoCoreError, ValueError):
        return {}


def save_project_entry(s3, bucket, prefix, project, document):
    """Save ``project``'s entry of ``document`` beside its versions (deleted with its last version)."""
    key = f"{prefix}{project}/{PROJECT_NAME}"
    entry = document["projects"].get(project)
    if entry is None:
        s3.delete_object(Bucket=bucket, Key=key)
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(entry, sort_keys=True).encode(),
                      ContentType="application/json", CacheControl="no-store")


def _carry_project(previous, name):
    entry = new_project(name)
    if previous:
        entry.update({key: value for key, value in previous.items() if key != "versions"})
        entry["aliases"] = dict(previous.get("aliases", {}))
    entry["versions"] = {}
    return entry


# --- changes for update_index: each mutates the document it is given, or raises to refuse ---

def record_version(project, version, metadata, stats):
    """Return a change that records a successful publish of ``project``/``version`` with ``metadata``."""
    def change(document):
        check_project_name(project)
        entry = document["projects"].setdefault(project, new_project(project))
        check_version_name(version, [name for name in entry["versions"]], entry["aliases"])
        old = entry["versions"].get(version, {})
        if old.get("preview"):
            raise BadName(f"{version!r} is a preview of {project}; delete it (or let it expire) before publishing a version of that name")
        for key in ("title", "description", "owner", "contact", "repo"):
            if metadata.get(key) is not None:
                entry[key] = metadata[key]
        if metadata.get("tags"):
            entry["tags"] = list(metadata["tags"])
        if metadata.get("hub"):
            entry["hub"] = True
        entry["versions"][version] = {
            "published": now_iso(),
            "commit": metadata.get("commit") or "",
            "size": stats.get("size"),
            "files": stats.get("files"),
            "hidden": bool(metadata.get("hidden")) or bool(old.get("hidden", False)),
            # What this version said of its project, kept with it: a reader who may read only some
            # versions sees only what those said (catalog.metadata_for).
            "metadata": {
                **old.get("metadata", {}),
                **{key: metadata[key] for key in ("title", "description", "owner", "contact", "repo") if metadata.get(key) is not None},
                **({"tags": list(metadata["tags"])} if metadata.get("tags") else {}),
            },
            **({"artifacts": old["artifacts"]} if old.get("artifacts") else {}),
        }
        if stats.get("error_document"):
            entry["versions"][version]["error_document"] = stats["error_document"]
    return change


def artifact_grants(raw):
    """Return a version's recorded artifacts as ``{path: {"max_size", "granted"}}`` (the older form was a list of paths)."""
    return {
        artifact.path: {name: value for name, value in (("max_size", artifact.max_size), ("granted", artifact.granted))
                        if value}
        for artifact in granted_artifacts(raw)
    }


def add_artifact(project, version, relkey, max_size):
    """Return a change that records a presigned POST granted for ``relkey`` of ``project``/``version``, at most ``max_size`` bytes.

    A grant, not a file: the portal lists the artifact once S3 holds it (portal/artifacts.py), and a
    publish of the version keeps it.
    """
    def change(document):
        entry = version_entry(document, project, version)
        grants = artifact_grants(entry.get("artifacts"))
        grants[relkey] = {"max_size": max_size, "granted": now_iso()}
        entry["artifacts"] = grants
    return change


def record_preview(project, name, expires, metadata, stats):
    """Return a change that records preview ``name`` of ``project``, unlisted until it expires at ``expires`` (ISO 8601).

    A preview is a hidden version with a ``preview`` flag: served under the project like a version,
    never a default, an alias target, in versions.json, switcher.json or the default search, and
    deleted by ``flask docs gc`` after ``expires``.
    """
    def change(document):
        check_project_name(project)
        entry = document["projects"].setdefault(project, new_project(project))
        check_version_name(name, [version for version in entry["versions"]], entry["aliases"])
        old = entry["versions"].get(name)
        if old is not None and not old.get("preview"):
            raise BadName(f"{name!r} is a published version of {project}, not a preview; choose another preview name")
        if metadata.get("hub"):
            entry["hub"] = True
        entry["versions"][name] = {
            "published": now_iso(),
            "commit": metadata.get("commit") or "",
            "size": stats.get("size"),
            "files": stats.get("files"),
            "hidden": True,
            "preview": True,
            "expires": expires,
        }
    return change


def expired_previews(document, now):
    """Return ``[(project, name, expires)]`` for every preview in ``document`` whose expiry is at or before ``now``."""
    found = []
    for project, entry in sorted(document["projects"].items()):
        for name, version in sorted(entry.get("versions", {}).items()):
            if not version.get("preview"):
                continue
            try:
                expires = datetime.fromisoformat(version.get("expires") or "")
            except ValueError:
                expires = None  # unreadable: fail towards removing a temporary build, never keeping it forever
            if expires is None or expires <= now:
                found.append((project, name, version.get("expires") or ""))
    return found


def record_published(s3, bucket, prefix, change, project):
    """Apply ``change`` to the index and save ``project``'s entry beside its versions; return the document."""
    document = update_index(s3, bucket, prefix, change)
    save_project_entry(s3, bucket, prefix, project, document)
    return document


def project_entry(document, project):
    """Return the index entry of ``project``, raising ``LookupError`` naming the known ones."""
    entry = document["projects"].get(project)
    if entry is None:
        known = ", ".join(sorted(document["projects"])) or "none"
        raise LookupError(f"no project {project!r} in the portal index (known: {known})")
    return entry


def version_entry(document, project, version):
    """Return the index entry of ``project``/``version``, raising ``LookupError`` naming the known versions."""
    entry = project_entry(document, project)
    if version not in entry["versions"]:
        known = ", ".join(order_versions(entry["versions"])) or "none"
        raise LookupError(f"project {project!r} has no version {version!r} (versions: {known})")
    return entry["versions"][version]


def set_hidden(project, version, hidden):
    """Return a change that hides or shows ``project``/``version``."""
    def change(document):
        entry = version_entry(document, project, version)
        if entry.get("preview"):
            raise BadName(f"{version!r} is a preview: previews are always unlisted, and expire")
        entry["hidden"] = hidden
    return change


def set_hub(project, on):
    """Return a change that turns the hub (app/hub/) on or off for ``project``'s pages."""
    def change(document):
        project_entry(document, project)["hub"] = on
    return change


def pin_alias(project, name, version):
    """Return a change that pins alias ``name`` of ``project`` to ``version`` (``None`` unsets it)."""
    def change(document):
        entry = project_entry(document, project)
        if version is None:
            if name not in entry["aliases"]:
                raise LookupError(f"project {project!r} has no pinned alias {name!r}")
            del entry["aliases"][name]
            return
        check_alias_name(name, entry["versions"])
        target = version_entry(document, project, version)
        if target.get("hidden"):
            raise BadName(f"version {version!r} is hidden; hidden versions are never alias targets (flask docs show first)")
        if not parse_version(version).is_alias_target:
            raise BadName(f"version {version!r} is a development version; aliases point at releases and prereleases only")
        entry["aliases"][name] = version
    return change


def remove_version(project, version, removed):
    """Return a change that drops ``project``/``version`` and the pins naming it (noted in ``removed``)."""
    def change(document):
        entry = project_entry(document, project)
        version_entry(document, project, version)
        del entry["versions"][version]
        removed[:] = [name for name, target in entry["aliases"].items() if target == version]
        for name in removed:
            del entry["aliases"][name]
        if not entry["versions"]:
            del document["projects"][project]
    return change


# --- the per-worker cache ---

class IndexCache:
    """The parsed index of one app (one per worker), at most ``ttl`` seconds old, refreshed by one thread at a time."""

    def __init__(self, ttl, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self.lock = threading.Lock()
        self.catalog = None
        self.etag = None
        self.checked = None

    def get(self, s3, bucket, prefix, index_document="index.html", logger=None):
        """Return the current ``Catalog``, revalidating it when older than the TTL."""
        if self.catalog is not None and self.clock() - self.checked < self.ttl:
            return self.catalog
        with self.lock:
            if self.catalog is not None and self.clock() - self.checked < self.ttl:
                return self.catalog
            try:
                self._refresh(s3, bucket, prefix, index_document)
            except (ClientError, BotoCoreError, BadIndex) as error:
                if self.catalog is None:
                    raise
                # A stale catalog beats an error page; the next request after the TTL tries again.
                if logger is not None:
                    logger.warning("portal index could not be refreshed, serving the previous one: %s", error)
            self.checked = self.clock()
            return self.catalog

    def _refresh(self, s3, bucket, prefix, index_document):
        document, etag = read_index(s3, bucket, prefix, if_none_match=self.etag)
        if document is None and etag is not None:
            return  # 304: unchanged
        if document is not None:
            self.catalog = catalog_from_index(document, version_id=etag.strip('"'))
            self.etag = etag
            return
        # No index, no projects: guessing them from folders would turn a plain site's folders into
        # projects and redirect into made-up versions where S3 website hosting answers 404.
        if self.catalog is None or self.catalog.source != NO_INDEX:
            self.catalog = catalog_from_index(empty_index(), version_id=NO_INDEX, source=NO_INDEX)
        self.etag = None

    def invalidate(self):
        """Forget the cached copy's age, so the next read revalidates (after this worker changed the index)."""
        self.checked = None if self.catalog is None else self.clock() - self.ttl - 1
