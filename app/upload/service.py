"""One upload, start to finish: check the names, lock the version, stage the archive, publish it, list it.

The publish step is ``publishing.run.publish_sources``, the pipeline ``flask docs publish`` runs (content
types, cache headers, incremental upload, ``_redirects``, search extraction), with ``--delete`` so the
version then holds exactly the archive's files; the portal step is the one the CLI runs after it.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from ..errors import DocsError
from ..portal import get_index_cache
from ..portal.catalog import granted_artifacts
from ..portal.index import (
    IndexConflict,
    pin_alias,
    read_index,
    record_preview,
    record_published,
    record_version,
    remove_version,
)
from ..portal.views import docs_url
from ..portal.versions import BadName, check_project_name, check_version_name
from ..publishing import get_indexers
from ..publishing.policy import suggest_redirects
from ..publishing.run import BadSource, EmptySource, PublishError, PublishOptions, describe_error, publish_sources
from ..s3 import get_s3
from .archive import Limits, spool, tar_members, zip_members
from .staging import IN_FLIGHT, Stager, delete_prefix, new_upload_id, staging_prefix, version_lock


class BadTarget(DocsError):
    """A project, version or preview name the portal refuses: 400."""

    status = 400


class NameTaken(DocsError):
    """A preview name that is a version, or a version name that is a preview: 409."""

    status = 409


class PublishFailed(DocsError):
    """S3 refused part of the publish: 502; the version is as the last complete publish left it, or being fixed by a re-run."""

    status = 502


def check_target(s3, bucket, prefix, project, name, preview):
    """Refuse a name the portal would refuse, before anything is staged; return ``(already published, its artifacts)``."""
    try:
        check_project_name(project)
        document, _ = read_index(s3, bucket, prefix)
        entry = (document or {"projects": {}})["projects"].get(project, {})
        check_version_name(name, list(entry.get("versions", {})), entry.get("aliases", {}))
    except BadName as error:
        raise BadTarget(str(error)) from None
    existing = entry.get("versions", {}).get(name)
    if existing is not None and bool(existing.get("preview")) != preview:
        what = "a preview" if existing.get("preview") else "a published version"
        raise NameTaken(f"{name!r} is already {what} of {project}")
    return existing is not None, tuple(artifact.path for artifact in granted_artifacts((existing or {}).get("artifacts")))


def members_of(body, kind, limits, include_hidden, length):
    """Return the member iterator of the request ``body`` for an archive ``kind``, and the spool to close after."""
    if kind == "zip":
        spooled = spool(body, limits.max_bytes, length)
        return zip_members(spooled, limits, include_hidden), spooled
    return tar_members(body, kind == "tar.gz", limits, include_hidden), None


def publish_upload(project, name, options, body, kind, length=None, preview=False, expires_at=None):
    """Publish the archive in ``body`` as ``project``/``name`` (a version, or a preview); return the JSON summary."""
    started = time.monotonic()
    config = current_app.config
    s3, bucket, prefix = get_s3(), config["S3_BUCKET"], config["S3_PREFIX"]
    existed, artifacts = check_target(s3, bucket, prefix, project, name, preview)
    upload_id = new_upload_id()
    limits = Limits(config["DOCS_UPLOAD_MAX_BYTES"], config["DOCS_UPLOAD_MAX_FILES"])
    key_prefix = f"{prefix}{project}/{name}/"
    with version_lock(s3, bucket, prefix, project, name, upload_id), \
            ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="upload") as pool:
        stager = Stager(s3, bucket, staging_prefix(prefix, upload_id), pool)
        spooled = None
        try:
            members, spooled = members_of(body, kind, limits, options.include_hidden, length)
            for member in members:
                stager.add(member)
            sources = stager.finish()
            report = publish_staged(s3, bucket, key_prefix, sources, keep=artifacts)
        finally:
            stager.discard()
            if spooled is not None:
                spooled.close()
        files = list(report.plan.uploads) + list(report.plan.unchanged)
        stats = {"size": sum(local.size for local in files), "files": len(files)}
        aliases = list_in_portal(s3, bucket, prefix, project, name, options, stats, preview, expires_at)
    summary = {
        "project": project,
        "preview" if preview else "version": name,
        "url": docs_url(project, name, ""),
        "created": not existed,
        "files": stats["files"],
        "uploaded": len(report.uploaded),
        "unchanged": report.unchanged,
        "deleted": len(report.deleted),
        "redirects": len(report.redirected),
        "bytes": limits.bytes,
        "bytes_uploaded": report.bytes_uploaded,
        "seconds": round(time.monotonic() - started, 3),
        "suggested_redirects": suggest_redirects(report.deleted, [local.relkey for local in files]),
    }
    if preview:
        summary["expires"] = expires_at
    else:
        summary["aliases"] = aliases
    return summary


def publish_staged(s3, bucket, key_prefix, sources, keep=()):
    """Run publish's pipeline over the staged ``sources`` into ``key_prefix``, replacing the version's files but ``keep``."""
    config = current_app.config
    options = PublishOptions.from_config(config, delete=True, include_hidden=True, indexers=get_indexers(current_app),
                                         keep=tuple(keep))
    # The request thread and IN_FLIGHT stagers already run; publish's copies are server-side and light.
    options = replace(options, jobs=min(options.jobs, 8))
    try:
        report = publish_sources(s3, bucket, sources, [], key_prefix, options, label="the archive")
    except EmptySource:
        raise DocsError("the archive holds no files to publish (hidden files are skipped; ?include-hidden=1 publishes them)") from None
    except BadSource as error:
        raise DocsError(str(error)) from None
    except PublishError as error:
        raise PublishFailed(str(error)) from None
    if not report.ok:
        failed = [f"{relkey}: {reason}" for relkey, reason in report.failed[:5]]
        raise PublishFailed(
            f"{len(report.failed) + len(report.held_back)} files were not published ({'; '.join(failed)}); "
            "send the same upload again to finish"
        )
    return report


def list_in_portal(s3, bucket, prefix, project, name, options, stats, preview, expires_at):
    """Record the publish in the portal index (and pin ``options.alias``); return the pinned aliases."""
    metadata = {**options.metadata, "hidden": options.hidden, "hub": options.hub}
    if options.tags:
        metadata["tags"] = list(options.tags)
    if preview:
        change = record_preview(project, name, expires_at, metadata, stats)
    else:
        change = record_version(project, name, metadata, stats)
    try:
        record_published(s3, bucket, prefix, change, project)
        for alias in options.alias:
            record_published(s3, bucket, prefix, pin_alias(project, alias, name), project)
    except (BadName, LookupError) as error:
        raise BadTarget(f"the files of {project} {name} were published, but: {error}") from None
    except (IndexConflict, ClientError, BotoCoreError) as error:
        reason = describe_error(error, bucket, "updating the portal index") if not isinstance(error, IndexConflict) else str(error)
        raise PublishFailed(f"the files of {project} {name} were published but it is not listed in the portal: {reason}; "
                            "send the same upload again (nothing is uploaded twice)") from None
    finally:
        get_index_cache().invalidate()
    return list(options.alias)


def delete_published(project, name, preview):
    """Delete ``project``/``name`` (a version, or a preview): from the portal index, then every object; return a summary."""
    config = current_app.config
    s3, bucket, prefix = get_s3(), config["S3_BUCKET"], config["S3_PREFIX"]
    try:
        check_project_name(project)
    except BadName as error:
        raise BadTarget(str(error)) from None
    if not name or "/" in name or name[:1] in (".", "_"):
        raise BadTarget(f"{name!r} is not a version name")
    document, _ = read_index(s3, bucket, prefix)
    entry = ((document or {"projects": {}})["projects"].get(project) or {}).get("versions", {}).get(name)
    if entry is None:
        raise DocsError(f"{project} has no {'preview' if preview else 'version'} {name!r}", status=404)
    if bool(entry.get("preview")) != preview:
        raise NameTaken(f"{name!r} is {'a preview' if entry.get('preview') else 'a version'} of {project}; "
                        f"use .../{'previews' if entry.get('preview') else 'versions'}/{name}")
    unpinned = []
    with version_lock(s3, bucket, prefix, project, name, new_upload_id()):
        try:
            record_published(s3, bucket, prefix, remove_version(project, name, unpinned), project)
        except LookupError:
            pass  # removed meanwhile: delete what is left of its objects anyway
        finally:
            get_index_cache().invalidate()
        count = delete_prefix(s3, bucket, f"{prefix}{project}/{name}/")
    return {"project": project, "preview" if preview else "version": name, "deleted": count, "unpinned": unpinned}
