"""What changed between two versions (or previews) of a project, from their publish manifests' checksums.

``diff_manifests`` is pure (tested from tables); ``read_version_manifest`` reads one manifest from the
bucket. Pages only: assets change with every build (hashed names) and say nothing to a reader.
"""

from botocore.exceptions import ClientError

from ..publishing.manifest import MANIFEST_NAME, decode_manifest
from ..publishing.policy import is_page


class NoManifest(LookupError):
    """A version without a publish manifest (copied in by hand): it cannot be compared."""


def fingerprint(entry):
    """Return what identifies an object's content: its SHA-256, or its ETag when the checksum is unknown."""
    return entry.sha256 or entry.etag


def diff_manifests(old, new, pages_only=True):
    """Return ``{"added", "changed", "removed"}``: sorted relkeys between two decoded manifests."""
    keep = is_page if pages_only else (lambda relkey: True)
    old = {relkey: entry for relkey, entry in old.items() if keep(relkey)}
    new = {relkey: entry for relkey, entry in new.items() if keep(relkey)}
    return {
        "added": sorted(set(new) - set(old)),
        "changed": sorted(relkey for relkey in set(old) & set(new) if fingerprint(old[relkey]) != fingerprint(new[relkey])),
        "removed": sorted(set(old) - set(new)),
    }


def read_version_manifest(s3, bucket, prefix, project, version):
    """Return the decoded publish manifest of ``project``/``version``, or raise ``NoManifest``."""
    try:
        response = s3.get_object(Bucket=bucket, Key=f"{prefix}{project}/{version}/{MANIFEST_NAME}")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise NoManifest(f"{project} {version} has no publish manifest (was it copied in by hand?)") from None
        raise
    with response["Body"] as body:
        manifest = decode_manifest(body.read())
    if not manifest:
        raise NoManifest(f"the publish manifest of {project} {version} cannot be read")
    return manifest
