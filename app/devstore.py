"""``make run``'s local bucket kept in a folder between runs: a snapshot written on exit, restored on start.

moto's server keeps everything in memory and has no persistence of its own. Rather than replaying
publishes, the bucket itself is saved: every object's bytes and the headers S3 serves it with
(type, encoding, cache control, website redirect, user metadata), so a restored bucket answers
exactly as the saved one did, portal index and search documents included. The folder holds one
``<bucket>/`` per bucket: ``manifest.json`` (key -> file name and headers) and ``objects/``, each
object named by the SHA-256 of its key (keys may hold characters no file system takes). A snapshot
is written beside the previous one and swapped in, so an interrupted save leaves the last good one.
"""

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MANIFEST = "manifest.json"
# get_object's answer -> put_object's parameter, for every header a served object carries.
KEPT = {
    "ContentType": "ContentType",
    "ContentEncoding": "ContentEncoding",
    "CacheControl": "CacheControl",
    "ContentDisposition": "ContentDisposition",
    "ContentLanguage": "ContentLanguage",
    "WebsiteRedirectLocation": "WebsiteRedirectLocation",
    "Metadata": "Metadata",
}
THREADS = 8


def has_snapshot(folder, bucket):
    """Tell whether ``folder`` holds a saved copy of ``bucket``."""
    return (Path(folder) / bucket / MANIFEST).is_file()


def save(s3, bucket, folder):
    """Save every object of ``bucket`` into ``folder``/``bucket``, replacing the previous snapshot; return the count."""
    target = Path(folder) / bucket
    scratch = Path(folder) / f".{bucket}.saving"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "objects").mkdir(parents=True)
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", ())]

    def save_one(key):
        name = hashlib.sha256(key.encode()).hexdigest()
        response = s3.get_object(Bucket=bucket, Key=key)
        with response["Body"] as body:
            (scratch / "objects" / name).write_bytes(body.read())
        return key, {"file": name, **{param: response[field] for field, param in KEPT.items() if response.get(field)}}

    with ThreadPoolExecutor(THREADS) as pool:
        manifest = dict(pool.map(save_one, keys))
    (scratch / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    old = Path(folder) / f".{bucket}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    scratch.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return len(manifest)


def restore(s3, bucket, folder):
    """Create ``bucket`` (if needed) and put back every object saved in ``folder``/``bucket``; return the count."""
    source = Path(folder) / bucket
    manifest = json.loads((source / MANIFEST).read_text())
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass

    def restore_one(item):
        key, entry = item
        params = {param: entry[param] for param in KEPT.values() if param in entry}
        s3.put_object(Bucket=bucket, Key=key, Body=(source / "objects" / entry["file"]).read_bytes(), **params)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(restore_one, manifest.items()))
    return len(manifest)
