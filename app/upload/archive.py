"""Read an uploaded archive member by member: a tar (plain or gzip) straight from the request body, a zip from a spool.

Every member is checked before its bytes are read (``policy.member_relkey``, its type, duplicates,
the file-count and expanded-size limits) and ``BadArchive`` says why one is refused. A tar body is
never held: ``tarfile``'s stream mode hands out each member's bytes as they arrive. A zip's
directory is at its end, so the body is first spooled to a temporary file, bounded by the size limit.
"""

import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass

from ..errors import DocsError
from .policy import BadMember, is_hidden, member_relkey

COPY_CHUNK = 1024 * 1024
TAR_NUL_BLOCK = tarfile.NUL * tarfile.BLOCKSIZE


class BadArchive(DocsError):
    """An archive that cannot be published: 400, or 413 past a limit; nothing is changed in the bucket."""

    status = 400


@dataclass
class Member:
    """One regular file of an archive: its key below the version, its size, and a file to read it from, once."""

    relkey: str
    size: int
    file: object


class Limits:
    """The file-count and expanded-size limits of one archive, and the names seen so far."""

    def __init__(self, max_bytes, max_files):
        self.max_bytes, self.max_files = max_bytes, max_files
        self.files = self.bytes = 0
        self.seen = set()

    def admit(self, relkey, size):
        """Count a member, or raise ``BadArchive`` for a duplicate or a limit passed."""
        if relkey in self.seen:
            raise BadArchive(f"{relkey!r} is in the archive twice")
        self.seen.add(relkey)
        self.files += 1
        self.bytes += size
        if self.files > self.max_files:
            raise BadArchive(f"the archive holds more than {self.max_files} files (DOCS_UPLOAD_MAX_FILES)", 413)
        if self.bytes > self.max_bytes:
            raise BadArchive(f"the archive expands to more than {self.max_bytes} bytes (DOCS_UPLOAD_MAX_BYTES)", 413)


def checked_relkey(name, is_dir=False):
    """Return ``member_relkey(name)``, raising ``BadArchive`` instead of ``BadMember``."""
    try:
        return member_relkey(name, is_dir)
    except BadMember as error:
        raise BadArchive(str(error)) from None


def tar_members(stream, compressed, limits, include_hidden=False):
    """Yield the ``Member`` of each regular file of a tar read from ``stream``; each must be read before the next.

    Links (symbolic or hard), devices and FIFOs are refused; so is an archive that ends without
    tar's end-of-archive blocks (a cut body that happens to stop between two members).
    """
    class Marker(tarfile.TarInfo):
        # The only way to tell a complete tar from one cut between members: tarfile stops quietly at both.
        ended = False

        @classmethod
        def frombuf(cls, buf, encoding, errors):
            if buf == TAR_NUL_BLOCK:
                Marker.ended = True
            return super().frombuf(buf, encoding, errors)

    mode = "r|gz" if compressed else "r|"
    try:
        with tarfile.open(fileobj=stream, mode=mode, tarinfo=Marker, encoding="utf-8", errors="surrogateescape") as archive:
            for info in archive:
                if info.isdir():
                    checked_relkey(info.name, is_dir=True)
                    continue
                relkey = checked_relkey(info.name)
                if info.issym() or info.islnk():
                    raise BadArchive(f"{info.name!r} is a link; archives may hold regular files only")
                if not info.isreg():
                    raise BadArchive(f"{info.name!r} is a device, FIFO or other special file; archives may hold regular files only")
                if not relkey:
                    raise BadArchive(f"{info.name!r} is not a file name")
                limits.admit(relkey, info.size)
                if not include_hidden and is_hidden(relkey):
                    continue
                yield Member(relkey, info.size, archive.extractfile(info))
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        kind = "gzip-compressed tar" if compressed else "tar"
        raise BadArchive(f"the body is not a complete {kind} archive ({error})") from None
    if not Marker.ended:
        raise BadArchive("the archive ends without tar's end-of-archive blocks: the body was cut short")


def spool(stream, max_bytes, length=None):
    """Copy ``stream`` into an anonymous temporary file of at most ``max_bytes``; return it, rewound."""
    if length is not None and length > max_bytes:
        raise BadArchive(f"the body is larger than {max_bytes} bytes (DOCS_UPLOAD_MAX_BYTES)", 413)
    spooled = tempfile.TemporaryFile(prefix="docs-upload-")
    try:
        total = 0
        while chunk := stream.read(COPY_CHUNK):
            total += len(chunk)
            if total > max_bytes:
                raise BadArchive(f"the body is larger than {max_bytes} bytes (DOCS_UPLOAD_MAX_BYTES)", 413)
            spooled.write(chunk)
        spooled.seek(0)
        return spooled
    except BaseException:
        spooled.close()
        raise


def zip_name(info):
    """Return a zip member's name as UTF-8 text: flagged UTF-8, plain ASCII, or unflagged bytes that decode as UTF-8."""
    if info.flag_bits & 0x800 or info.filename.isascii():
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        raise BadArchive(f"{info.filename!r} is not a UTF-8 name") from None


def zip_members(spooled, limits, include_hidden=False):
    """Yield the ``Member`` of each regular file of the zip in ``spooled``; every member is checked before the first is read."""
    try:
        archive = zipfile.ZipFile(spooled)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise BadArchive(f"the body is not a complete zip archive ({error})") from None
    with archive:
        members = []
        for info in archive.infolist():
            name = zip_name(info)
            mode = info.external_attr >> 16
            if info.is_dir():
                checked_relkey(name, is_dir=True)
                continue
            relkey = checked_relkey(name)
            if stat.S_ISLNK(mode):
                raise BadArchive(f"{name!r} is a link; archives may hold regular files only")
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise BadArchive(f"{name!r} is a device, FIFO or other special file; archives may hold regular files only")
            if info.flag_bits & 0x1:
                raise BadArchive(f"{name!r} is encrypted")
            limits.admit(relkey, info.file_size)
            if include_hidden or not is_hidden(relkey):
                members.append((relkey, info))
        for relkey, info in members:
            try:
                with archive.open(info) as file:
                    yield Member(relkey, info.file_size, file)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
                raise BadArchive(f"{relkey!r} cannot be read from the zip archive ({error})") from None
