"""Stage an upload's files under a private prefix, then hand them to publish; lock a version while it is uploaded.

Members stream into ``<S3_PREFIX>.docs-staging/<upload id>/`` (a ``.docs-`` key: never served) as they
arrive, small ones with one PUT, large ones as multipart uploads, a few requests in flight at a time,
so memory holds at most ``IN_FLIGHT`` parts whatever the archive's size. Only once every member has
landed does publish copy them into the version (server-side), so a refused or cut upload never
touches the version, and ``discard`` removes what was staged. ``version_lock`` makes a second upload
of the same version wait for nothing: S3's conditional create (``IfNoneMatch: *``) lets one win.
"""

import hashlib
import json
import secrets
import tarfile
import threading
import zipfile
import zlib
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import DocsError
from ..publishing.source import SourceFile
from .archive import BadArchive

STAGING_FOLDER = ".docs-staging/"
LOCKS_FOLDER = ".docs-locks/"
PART_SIZE = 8 * 1024 * 1024  # also the largest member sent in one PUT; S3's minimum part is 5 MiB
IN_FLIGHT = 4  # requests (parts or small files) in flight per upload: memory <= IN_FLIGHT x PART_SIZE
# A lock older than this belongs to an upload whose worker died; the next upload takes it over.
LOCK_STALE_AFTER = timedelta(hours=6)
CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError)


class UploadConflict(DocsError):
    """Another upload of the same version is under way: 409."""

    status = 409


class StagingFailed(DocsError):
    """S3 refused a staged write: 502, and nothing of the upload is published."""

    status = 502


def staging_prefix(prefix, upload_id):
    """Return the key prefix an upload stages its files under."""
    return f"{prefix}{STAGING_FOLDER}{upload_id}/"


def new_upload_id():
    """Return a fresh upload id (also the lock's owner)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(6)


class Stager:
    """Streams members into the staging prefix on ``pool``; ``files`` are the ``SourceFile`` staged so far."""

    def __init__(self, s3, bucket, key_prefix, pool):
        self.s3, self.bucket, self.key_prefix, self.pool = s3, bucket, key_prefix, pool
        self.slots = threading.BoundedSemaphore(IN_FLIGHT)
        self.futures = []
        self.files = []
        self.multipart = []  # (key, upload id) not yet completed, aborted by discard
        self.bytes = 0

    def _submit(self, function, *args):
        self.slots.acquire()
        future = self.pool.submit(function, *args)
        future.add_done_callback(lambda _: self.slots.release())
        self.futures.append(future)
        self._raise_failed()
        return future

    def _raise_failed(self):
        for future in [future for future in self.futures if future.done()]:
            error = future.exception()
            if error is not None:
                raise StagingFailed(f"S3 refused a staged file ({error}); nothing was published")
            self.futures.remove(future)

    def _read(self, member, size):
        try:
            data = member.file.read(size)
        except READ_ERRORS as error:
            raise BadArchive(f"{member.relkey!r} cannot be read: the body was cut short or is corrupt ({error})") from None
        if len(data) != size:
            raise BadArchive(f"{member.relkey!r} ends early: the body was cut short")
        return data

    def add(self, member):
        """Stage one member: read it from the archive and send it, with its SHA-256 and MD5."""
        key = self.key_prefix + member.relkey
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        if member.size < PART_SIZE:
            data = self._read(member, member.size)
            sha256.update(data)
            md5.update(data)
            self._submit(lambda: self.s3.put_object(Bucket=self.bucket, Key=key, Body=data))
        else:
            upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
            self.multipart.append((key, upload_id))
            parts, left, number = {}, member.size, 0
            while left:
                number += 1
                data = self._read(member, min(PART_SIZE, left))
                left -= len(data)
                sha256.update(data)
                md5.update(data)

                def send(number=number, data=data):
                    parts[number] = self.s3.upload_part(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
                    )["ETag"]
                self._submit(send)
                del data
            self._wait()
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
            )
            self.multipart.remove((key, upload_id))
        self.bytes += member.size
        self.files.append(SourceFile(member.relkey, "", member.size, key, sha256.hexdigest(), md5.hexdigest()))

    def _wait(self):
        for future in list(self.futures):
            future.exception()
        self._raise_failed()

    def finish(self):
        """Wait for every staged write; return the staged ``SourceFile`` list."""
        self._wait()
        return self.files

    def discard(self):
        """Delete everything staged and abort unfinished multipart uploads (on every path, success included)."""
        for future in list(self.futures):
            future.cancel()
        for future in list(self.futures):
            if not future.cancelled():
                future.exception()
        for key, upload_id in self.multipart:
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass  # gc aborts what is left
        delete_prefix(self.s3, self.bucket, self.key_prefix)


def delete_prefix(s3, bucket, key_prefix):
    """Delete every object under ``key_prefix``; return how many were deleted."""
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            count += len(keys)
    return count


def lock_key(prefix, project, version):
    """Return the key of the lock an upload of ``project``/``version`` holds."""
    return f"{prefix}{LOCKS_FOLDER}{project}/{version}"


def is_conflict(error):
    """Tell whether a ``ClientError`` is S3 refusing a conditional write."""
    response = error.response
    code = response.get("Error", {}).get("Code") or str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code in CONFLICT_CODES


@contextmanager
def version_lock(s3, bucket, prefix, project, version, upload_id, now=None):
    """Hold the upload lock of ``project``/``version`` for the ``with`` block, or raise ``UploadConflict``."""
    now = now or datetime.now(timezone.utc)
    key = lock_key(prefix, project, version)
    body = json.dumps({"upload": upload_id, "started": now.isoformat()}).encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
    except ClientError as error:
        if not is_conflict(error):
            raise
        take_over_stale_lock(s3, bucket, key, body, now, project, version)
    try:
        yield
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


def take_over_stale_lock(s3, bucket, key, body, now, project, version):
    """Replace a lock left by a dead upload (older than ``LOCK_STALE_AFTER``), or raise ``UploadConflict``."""
    busy = UploadConflict(f"another upload of {project} {version} is under way; try again when it has finished")
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        with response["Body"] as stream:
            started = datetime.fromisoformat(json.loads(stream.read())["started"])
        if now - started < LOCK_STALE_AFTER:
            raise busy
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfMatch=response["ETag"])
    except ClientError as error:
        if is_conflict(error) or error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise busy from None
        raise
    except (ValueError, KeyError, TypeError):
        raise busy from None
