"""Run a publish: scan the folder, compare with the bucket, upload assets then pages, delete last.

``publish_tree`` is the entry point for the CLI, the end-to-end tests and the demo mode. Fatal
problems (no such bucket, access denied on the listing, no credentials, S3 unreachable, nothing to
publish) raise ``PublishError``; problems with single files are collected in the report.
"""

import base64
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from ..exceptions import is_missing

from .policy import (
    LocalFile,
    Plan,
    RemoteObject,
    cache_control_for,
    content_type_for,
    is_page,
    keys_to_check,
    plan_publish,
    strip_etag,
)
from .manifest import MANIFEST_NAME, apply_manifest, decode_manifest, encode_manifest
from .redirects import RedirectsError, read_redirects, write_redirects
from .source import LEAVES_SOURCE, checksum_file, scan_source

DELETE_BATCH = 1000  # S3's limit per DeleteObjects request.
COPY_OBJECT_LIMIT = 5 * 1024**3  # S3's limit for one CopyObject; larger objects are copied in parts.
INDEX_THREADS = 2  # indexers parse HTML (CPU, under the GIL): more threads would only contend
DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}


class PublishError(Exception):
    """A problem that stops the whole publish before anything is changed in the bucket."""


class EmptySource(PublishError):
    """The source folder holds no file to publish."""


class BadSource(PublishError):
    """The source itself cannot be published (a bad ``_redirects`` line); nothing was changed."""


@dataclass(frozen=True)
class PublishOptions:
    """How to publish; ``from_config`` reads the defaults from the app's configuration."""

    delete: bool = False
    dry_run: bool = False
    jobs: int = 8
    include_hidden: bool = False
    pages_policy: str = "no-cache"
    hashed_policy: str = "public, max-age=31536000, immutable"
    multipart_threshold: int = 16 * 1024 * 1024
    multipart_concurrency: int = 4
    docs_prefix: str = ""
    index_document: str = "index.html"
    # Per-page indexers (search, issue 15): see ``start_indexers`` and ``finish_indexers``.
    indexers: tuple = ()
    # Keys below the destination that --delete leaves alone (an upload's direct-uploaded artifacts, issue 24).
    keep: tuple = ()

    @classmethod
    def from_config(cls, config, **overrides):
        """Return the options from the ``DOCS_*`` settings, with ``overrides`` that are not ``None``."""
        options = cls(
            jobs=config["DOCS_PUBLISH_JOBS"],
            pages_policy=config["DOCS_CACHE_CONTROL_PAGES"],
            hashed_policy=config["DOCS_CACHE_CONTROL_HASHED"],
            multipart_threshold=config["DOCS_MULTIPART_THRESHOLD"],
            multipart_concurrency=config["DOCS_MULTIPART_CONCURRENCY"],
            docs_prefix=config["S3_PREFIX"],
            index_document=config["DOCS_INDEX_DOCUMENT"],
        )
        return replace(options, **{name: value for name, value in overrides.items() if value is not None})


@dataclass
class PublishReport:
    """What a publish did (or, with ``dry_run``, would do)."""

    bucket: str
    key_prefix: str
    dry_run: bool = False
    plan: Plan = field(default_factory=Plan)
    uploaded: list = field(default_factory=list)
    deleted: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    written: dict = field(default_factory=dict)
    held_back: list = field(default_factory=list)
    redirects: list = field(default_factory=list)
    redirected: list = field(default_factory=list)
    bytes_uploaded: int = 0
    heads: int = 0
    seconds: float = 0.0

    @property
    def unchanged(self):
        """Return how many files were already in the bucket as they are."""
        return len(self.plan.unchanged)

    @property
    def ok(self):
        """Tell whether every file was published."""
        return not self.failed and not self.held_back


class NullProgress:
    """A progress sink that shows nothing (see ``publish_progress`` for the CLI's)."""

    def step(self, message):
        """Announce a step of the publish."""

    def start(self, files, nbytes):
        """Begin the upload phase of ``files`` files totalling ``nbytes``."""

    def advance(self, files=0, nbytes=0):
        """Count finished files and sent bytes; called from worker threads."""

    def finish(self):
        """End the upload phase."""


def describe_error(error, bucket, what):
    """Return a one-line explanation of an S3 or file error met while doing ``what``."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return f"bucket {bucket!r} does not exist (check S3_BUCKET and the endpoint)"
        if code in DENIED_CODES or status == 403:
            return f"access denied {what} in bucket {bucket!r} ({code or status}): check the credentials and the bucket policy"
        return f"S3 refused {what}: {code or status}: {message}".rstrip(": ")
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
    if isinstance(error, EndpointConnectionError):
        url = urlsplit(error.kwargs.get("endpoint_url") or "")
        return f"cannot reach S3 at {url.scheme}://{url.netloc}: check S3_ENDPOINT_URL and that the endpoint is up"
    if isinstance(error, BotoCoreError):
        return f"S3 failed {what}: {error}"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return f"{type(error).__name__}: {error}"


def list_remote(s3, bucket, key_prefix):
    """Return ``{relkey: RemoteObject}`` for every key under ``key_prefix``."""
    remote = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        for item in page.get("Contents", ()):
            relkey = item["Key"][len(key_prefix):]
            remote[relkey] = RemoteObject(
                relkey, strip_etag(item["ETag"]), item["Size"], item["LastModified"].isoformat()
            )
    return remote


def read_manifest(s3, bucket, key_prefix, remote):
    """Return the decoded manifest under ``key_prefix``, or ``{}`` when there is none or it cannot be read."""
    if MANIFEST_NAME not in remote:
        return {}
    try:
        response = s3.get_object(Bucket=bucket, Key=key_prefix + MANIFEST_NAME)
        with response["Body"] as body:
            return decode_manifest(body.read())
    except (ClientError, BotoCoreError):
        return {}


def head_remote(s3, bucket, key_prefix, listed):
    """Return ``listed`` with the checksum and headers from a HEAD, or ``None`` if the object is gone."""
    try:
        response = s3.head_object(Bucket=bucket, Key=key_prefix + listed.relkey)
    except ClientError as error:
        if is_missing(error, strict=True):
            return None
        # Unknown state: the plan uploads it again, which is always safe.
        return listed
    return replace(
        listed,
        etag=strip_etag(response.get("ETag")),
        sha256=response.get("Metadata", {}).get("sha256", ""),
        content_type=response.get("ContentType", ""),
        cache_control=response.get("CacheControl", ""),
    )


def describe_local(source, options):
    """Return the ``LocalFile`` for a source file: checksums read from disk (or known from staging), headers from policy."""
    if source.staged_key:
        sha256, md5, size = source.sha256, source.md5, source.size
    else:
        sha256, md5, size = checksum_file(source.path)
    return LocalFile(
        relkey=source.relkey,
        path=source.path,
        size=size,
        sha256=sha256,
        md5=md5,
        content_type=content_type_for(source.relkey),
        cache_control=cache_control_for(source.relkey, options.pages_policy, options.hashed_policy),
        staged_key=source.staged_key,
    )


def open_source(s3, bucket, item):
    """Open a source file (a ``SourceFile`` or ``LocalFile``) for reading bytes: from disk, or its staged copy in S3."""
    if item.staged_key:
        return s3.get_object(Bucket=bucket, Key=item.staged_key)["Body"]
    return open(item.path, "rb")


def copy_staged(s3, bucket, key, local, extra, options, progress):
    """Copy an upload's staged file into place server-side with its final headers; return the new ETag."""
    source = {"Bucket": bucket, "Key": local.staged_key}
    if local.size < COPY_OBJECT_LIMIT:
        response = s3.copy_object(Bucket=bucket, Key=key, CopySource=source, MetadataDirective="REPLACE", **extra)
        etag = response["CopyObjectResult"]["ETag"]
    else:
        config = TransferConfig(multipart_threshold=options.multipart_threshold, max_concurrency=options.multipart_concurrency)
        s3.copy(source, bucket, key, ExtraArgs={**extra, "MetadataDirective": "REPLACE"}, Config=config)
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    progress.advance(files=1, nbytes=local.size)
    return etag


def upload_file(s3, bucket, key, local, options, progress):
    """Upload one file from disk, streaming; return the ``RemoteObject`` written, for the manifest.

    ``put_object`` reads from the open file; from ``multipart_threshold`` on, the transfer manager
    sends parts in parallel, each read from disk as it goes.
    """
    extra = {
        "ContentType": local.content_type,
        "CacheControl": local.cache_control,
        "Metadata": {"sha256": local.sha256},
    }
    if local.staged_key:
        etag = copy_staged(s3, bucket, key, local, extra, options, progress)
    elif local.size >= options.multipart_threshold:
        config = TransferConfig(
            multipart_threshold=options.multipart_threshold,
            max_concurrency=options.multipart_concurrency,
        )
        s3.upload_file(local.path, bucket, key, ExtraArgs=extra, Config=config,
                       Callback=lambda sent: progress.advance(nbytes=sent))
        # The transfer manager does not return the multipart ETag; large files are few.
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        progress.advance(files=1)
    else:
        # Content-MD5 makes S3 refuse the body if the file changed since it was checksummed.
        content_md5 = base64.b64encode(bytes.fromhex(local.md5)).decode()
        with open(local.path, "rb") as body:
            etag = s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentMD5=content_md5, ContentLength=local.size, **extra
            )["ETag"]
        progress.advance(files=1, nbytes=local.size)
    return RemoteObject(
        local.relkey, strip_etag(etag), local.size, "", local.sha256, local.content_type, local.cache_control
    )


def run_parallel(pool, function, items):
    """Yield ``(item, result, error)`` for ``function(item)`` run on ``pool``, in completion order."""
    futures = {pool.submit(function, item): item for item in items}
    try:
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], None if error else future.result(), error
    finally:
        for future in futures:
            future.cancel()


def publish_tree(s3, bucket, source_dir, key_prefix="", options=PublishOptions(), progress=None):
    """Make ``s3://bucket/key_prefix`` hold the files of ``source_dir``; return a ``PublishReport``.

    ``key_prefix`` is the full destination (S3_PREFIX plus the publish prefix): empty, or ending in '/'.
    Phases: the source (checked before S3 is touched), then local checksums and the remote listing side
    by side, then what S3 holds, then the plan; then uploads, redirects, deletes, manifest, indexes.
    """
    progress = progress or NullProgress()
    progress.step(f"Scanning {source_dir}")
    sources, problems = scan_source(source_dir, options.include_hidden)
    outside = sorted(relkey for relkey, reason in problems if reason == LEAVES_SOURCE)
    if outside:
        # Before anything is listed or uploaded: a half-published run would already have exposed files.
        raise PublishError(
            f"{len(outside)} symlinks in {source_dir} lead outside it, and nothing was published: "
            f"{', '.join(outside[:10])}{' ...' if len(outside) > 10 else ''} "
            "(copy what they point to into the folder, e.g. `cp -rL`, if it is meant to be published)"
        )
    return publish_sources(s3, bucket, sources, problems, key_prefix, options, progress, source_dir)


def publish_sources(s3, bucket, sources, problems, key_prefix="", options=PublishOptions(), progress=None, label="the source"):
    """Make ``s3://bucket/key_prefix`` hold ``sources`` (``SourceFile``, on disk or staged); return a ``PublishReport``.

    The one pipeline behind ``flask docs publish`` and the upload API (app/upload/): ``problems`` are
    the ``(relkey, reason)`` the scan found; ``label`` names the source in messages.
    """
    progress = progress or NullProgress()
    started = time.monotonic()
    report = PublishReport(bucket, key_prefix, dry_run=options.dry_run)
    sources = read_source(s3, bucket, list(sources), list(problems), label, key_prefix, options, report)

    indexing = []
    try:
        with ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="publish") as pool, \
                ThreadPoolExecutor(max_workers=INDEX_THREADS, thread_name_prefix="publish-index") as index_pool:
            local_files, remote = describe_and_list(s3, bucket, key_prefix, sources, options, progress, pool, report)
            if not options.dry_run:
                indexing = start_indexers(index_pool, options.indexers, s3, bucket, key_prefix, remote, local_files)
            manifest, known = learn_remote(s3, bucket, key_prefix, remote, local_files, progress, pool, report)
            keep = (MANIFEST_NAME, *(redirect.relkey for redirect in report.redirects),
                    *(indexer.name for indexer in options.indexers), *options.keep)
            plan = report.plan = plan_publish(local_files, known, delete=options.delete, keep=keep)
            if options.dry_run:
                report.seconds = time.monotonic() - started
                return report
            upload_all(s3, bucket, key_prefix, plan, options, progress, pool, report)
            publish_redirects(s3, bucket, key_prefix, options, progress, pool, report)

        finish_publish(s3, bucket, key_prefix, plan, manifest, known, indexing, options, progress, report)
    finally:
        # A publish that failed never finishes its indexers: what they started (a process) stops here.
        for _, run, _ in indexing:
            run.close()
    report.seconds = time.monotonic() - started
    return report


def read_source(s3, bucket, sources, problems, label, key_prefix, options, report):
    """Return the ``sources`` to publish; reserved names and unreadable files go to ``report.failed``,
    ``_redirects`` to ``report.redirects``. Raises before S3 is written when there is nothing to publish."""
    reserved = {MANIFEST_NAME: "the publish manifest", **{indexer.name: "the search document" for indexer in options.indexers}}
    for source in [source for source in sources if source.relkey in reserved]:
        problems.append((source.relkey, f"reserved for {reserved[source.relkey]}; not uploaded"))
        sources.remove(source)
    if not sources and not problems:
        hint = "" if options.include_hidden else " (hidden files are skipped; --include-hidden publishes them)"
        raise EmptySource(f"{label} contains no files to publish{hint}")
    report.failed.extend(problems)
    try:
        # Checked before anything is listed or uploaded: a bad line leaves the bucket untouched.
        site_path = key_prefix[len(options.docs_prefix):] if key_prefix.startswith(options.docs_prefix) else key_prefix
        report.redirects, sources = read_redirects(
            sources, site_path, options.index_document, lambda source: open_source(s3, bucket, source)
        )
    except RedirectsError as error:
        raise BadSource(str(error)) from None
    return sources


def describe_and_list(s3, bucket, key_prefix, sources, options, progress, pool, report):
    """Return ``(local files with checksums, remote listing)``: the checksums run on ``pool`` while S3 lists."""
    destination = f"s3://{bucket}/{key_prefix}"
    hashing = [(source, pool.submit(describe_local, source, options)) for source in sources]
    try:
        progress.step(f"Listing {destination}")
        remote = list_remote(s3, bucket, key_prefix)
    except (ClientError, BotoCoreError) as error:
        for _, future in hashing:
            future.cancel()
        raise PublishError(describe_error(error, bucket, f"listing {destination}")) from None
    local_files = []
    for source, future in hashing:
        try:
            local_files.append(future.result())
        except OSError as error:
            report.failed.append((source.relkey, describe_error(error, bucket, "reading")))
    total = sum(local.size for local in local_files)
    objects = len(remote) - (MANIFEST_NAME in remote)
    progress.step(f"Found {counted(len(local_files), 'file')} ({format_bytes(total)}); {counted(objects, 'object')} in {destination}")
    return local_files, remote


def learn_remote(s3, bucket, key_prefix, remote, local_files, progress, pool, report):
    """Return ``(manifest, known)``: what S3 holds, from the manifest, and a HEAD where it says too little."""
    manifest = read_manifest(s3, bucket, key_prefix, remote)
    known = apply_manifest(remote, manifest)
    unknown = [known[relkey] for relkey in keys_to_check(local_files, known)]
    if unknown:
        progress.step(f"Checking {counted(len(unknown), 'object')} whose checksum or headers are not known")
        report.heads = len(unknown)
        for listed, result, error in run_parallel(pool, lambda item: head_remote(s3, bucket, key_prefix, item), unknown):
            if error is None and result is None:
                del known[listed.relkey]
            elif error is None:
                known[listed.relkey] = result
    return manifest, known


def finish_publish(s3, bucket, key_prefix, plan, manifest, known, indexing, options, progress, report):
    """After the uploads: delete (only if every file was published), write the manifest, finish the indexes."""
    if plan.deletes and options.delete:
        if report.ok:
            delete_all(s3, bucket, key_prefix, plan.deletes, progress, report)
        else:
            progress.step(f"Not deleting {counted(len(plan.deletes), 'object')}: some files failed")
    if report.uploaded or report.deleted or manifest_is_stale(manifest, known, plan):
        write_manifest(s3, bucket, key_prefix, known, plan, report, progress)
    if indexing and report.ok:
        finish_indexers(indexing, bucket, progress)


def start_indexers(pool, indexers, s3, bucket, key_prefix, remote, local_files):
    """Begin each indexer's run (knowing every file) and submit its ``page(local)`` for every file to ``pool``.

    ``pool`` is the indexers' own (CPU-bound work on a thread or two), so extraction runs while the
    upload pool waits on the network. It covers every source file, not only the uploads: an
    incremental publish uploads what changed, yet the index must describe every page (an indexer
    may reuse what it knew of an unchanged file, by its checksum). A run has ``page(local)``,
    ``finish(results, progress)`` (after a successful publish) and ``close()`` (always, last).
    Returns ``[(indexer, run, {relkey: future})]``.
    """
    started = []
    for indexer in indexers:
        run = indexer.begin(s3, bucket, key_prefix, remote, local_files)
        started.append((indexer, run, {local.relkey: pool.submit(run.page, local) for local in local_files}))
    return started


def finish_indexers(indexing, bucket, progress):
    """After a fully successful publish, let each indexer's run write what it gathered (``finish``)."""
    for indexer, run, futures in indexing:
        results = {relkey: future.result() for relkey, future in futures.items()}
        try:
            run.finish(results, progress)
        except (ClientError, BotoCoreError) as error:
            # The site itself is published; the next publish writes the index again.
            progress.step(f"Warning: could not write {indexer.name}: {describe_error(error, bucket, f'writing {indexer.name}')}")


def upload_all(s3, bucket, key_prefix, plan, options, progress, pool, report):
    """Upload the plan's assets, then (only if every asset made it) its pages."""
    assets = [local for local in plan.uploads if not is_page(local.relkey)]
    pages = [local for local in plan.uploads if is_page(local.relkey)]
    if not plan.uploads:
        return
    progress.step(f"Uploading {counted(len(plan.uploads), 'file')} ({format_bytes(plan.upload_bytes)}): assets first, then pages")
    progress.start(len(plan.uploads), plan.upload_bytes)
    try:
        for phase in (assets, pages):
            if phase is pages and any(not is_page(relkey) for relkey, _ in report.failed):
                # A page must never reach readers before its assets; a re-run uploads them together.
                report.held_back = [local.relkey for local in pages]
                break
            upload = lambda local: upload_file(s3, bucket, key_prefix + local.relkey, local, options, progress)
            for local, written, error in run_parallel(pool, upload, phase):
                if error is None:
                    report.uploaded.append(local.relkey)
                    report.written[local.relkey] = written
                    report.bytes_uploaded += local.size
                else:
                    report.failed.append((local.relkey, describe_error(error, bucket, f"uploading {local.relkey}")))
    finally:
        progress.finish()


def publish_redirects(s3, bucket, key_prefix, options, progress, pool, report):
    """Write the ``_redirects`` objects once every file is up (a redirect must not lead to a page not yet there)."""
    if not report.redirects:
        return
    if not report.ok:
        progress.step(f"Not writing {counted(len(report.redirects), 'redirect')}: some files failed")
        return
    progress.step(f"Writing {counted(len(report.redirects), 'redirect')} from _redirects")
    report.redirected, failed = write_redirects(s3, bucket, key_prefix, report.redirects, options.pages_policy, pool)
    report.failed.extend((relkey, describe_error(error, bucket, f"writing redirect {relkey}")) for relkey, error in failed)


def delete_all(s3, bucket, key_prefix, relkeys, progress, report):
    """Delete ``relkeys`` under ``key_prefix`` in batches, recording what S3 refused."""
    progress.step(f"Deleting {counted(len(relkeys), 'object')} no longer in the source")
    for start in range(0, len(relkeys), DELETE_BATCH):
        batch = relkeys[start:start + DELETE_BATCH]
        try:
            response = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key_prefix + relkey} for relkey in batch], "Quiet": True}
            )
        except (ClientError, BotoCoreError) as error:
            reason = describe_error(error, bucket, "deleting")
            report.failed.extend((relkey, f"not deleted: {reason}") for relkey in batch)
            continue
        refused = {item["Key"][len(key_prefix):]: item.get("Message", item.get("Code", "")) for item in response.get("Errors", ())}
        report.failed.extend((relkey, f"not deleted: {reason}") for relkey, reason in refused.items())
        report.deleted.extend(relkey for relkey in batch if relkey not in refused)


def manifest_is_stale(manifest, known, plan):
    """Tell whether the manifest misses or misdescribes an unchanged file (a first run, or a lost manifest)."""
    return any(
        not same_object(manifest.get(local.relkey), known.get(local.relkey)) for local in plan.unchanged
    )


def same_object(recorded, current):
    """Tell whether two descriptions name the same object, ignoring a modification time not recorded."""
    if recorded is None or current is None:
        return recorded is current
    if not recorded.last_modified:
        recorded = replace(recorded, last_modified=current.last_modified)
    return recorded == current


def write_manifest(s3, bucket, key_prefix, known, plan, report, progress):
    """Record the ETag, size, checksum and headers of every file now published under ``key_prefix``."""
    entries = [known[local.relkey] for local in plan.unchanged] + list(report.written.values())
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key_prefix + MANIFEST_NAME,
            Body=encode_manifest(entries),
            ContentType="application/json",
            CacheControl="no-store",
        )
    except (ClientError, BotoCoreError) as error:
        # Only a cache: the next publish checks with HEAD requests instead.
        progress.step(f"Warning: could not write {MANIFEST_NAME}: {describe_error(error, bucket, 'writing the manifest')}")


def counted(number, noun, plural=None):
    """Return ``number`` with ``noun`` in the singular or plural: ``1 version``, ``2 versions``."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def format_bytes(count):
    """Return ``count`` bytes in a human unit (B, KiB, MiB, GiB)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
