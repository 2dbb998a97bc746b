"""The source side of a publish: walk a built docs folder and checksum its files, streaming from disk."""

import hashlib
import os
import stat as stat_mode
from dataclasses import dataclass

HASH_CHUNK = 1024 * 1024
# A link out of the folder publishes whatever it names (a key, /etc/passwd) to every reader of the site.
LEAVES_SOURCE = "symlink leaves the source folder"


@dataclass(frozen=True)
class SourceFile:
    """A file to publish, keyed by its '/'-separated path: on disk (``path``), or staged in the bucket.

    A staged file (an upload's member, app/upload/) is already in the bucket under ``staged_key``,
    with the checksums computed while it streamed in; publishing copies it into place server-side.
    """

    relkey: str
    path: str
    size: int
    staged_key: str = ""
    sha256: str = ""
    md5: str = ""


def is_hidden(relkey):
    """Tell whether any segment of ``relkey`` starts with '.' (``.git/``, ``.buildinfo``, ``.DS_Store``)."""
    return any(segment.startswith(".") for segment in relkey.split("/"))


def scan_source(source_dir, include_hidden=False):
    """Return ``(files, problems)`` for the tree under ``source_dir``, following symlinks.

    ``problems`` lists ``(relkey, reason)`` for entries that cannot be published (a broken symlink,
    a symlink loop, a link whose target is outside ``source_dir`` (``LEAVES_SOURCE``, never
    followed), something that is not a regular file); the caller decides what they mean.
    """
    files, problems = [], []
    root = os.path.abspath(source_dir)
    real_root = os.path.realpath(root)
    ancestors = {}

    def is_inside(path):
        return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root

    def on_error(error):
        relkey = os.path.relpath(error.filename or root, root).replace(os.sep, "/")
        problems.append((relkey, error.strerror or str(error)))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=on_error):
        stat = os.stat(dirpath)
        identity = (stat.st_dev, stat.st_ino)
        parents = ancestors.get(os.path.dirname(dirpath), frozenset()) if dirpath != root else frozenset()
        # Distribution doc packages link to shared folders (fine, even twice); a link to an ancestor loops.
        if identity in parents:
            relkey = os.path.relpath(dirpath, root).replace(os.sep, "/")
            problems.append((relkey, "symlink loop: links back to a folder that contains it"))
            dirnames[:] = []
            continue
        ancestors[dirpath] = parents | {identity}
        reldir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        reldir = "" if reldir == "." else reldir + "/"
        if not include_hidden:
            dirnames[:] = [name for name in dirnames if not is_hidden(name)]
        for name in [name for name in dirnames if not is_inside(os.path.join(dirpath, name))]:
            problems.append((reldir + name, LEAVES_SOURCE))
            dirnames.remove(name)
        dirnames.sort()
        for name in sorted(filenames):
            relkey = reldir + name
            if not include_hidden and is_hidden(name):
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and os.path.exists(path) and not is_inside(path):
                problems.append((relkey, LEAVES_SOURCE))
                continue
            try:
                file_stat = os.stat(path)
            except OSError as error:
                reason = "broken symlink" if os.path.islink(path) else error.strerror
                problems.append((relkey, reason))
                continue
            if not stat_mode.S_ISREG(file_stat.st_mode):
                problems.append((relkey, "not a regular file"))
                continue
            files.append(SourceFile(relkey, path, file_stat.st_size))
    return files, problems


def checksum_file(path):
    """Return the SHA-256 and MD5 hex digests and the size of the file at ``path``, read in 1 MiB chunks."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha256.hexdigest(), md5.hexdigest(), size
