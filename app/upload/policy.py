"""Pure upload policy: durations, member names, archive kinds, token scopes and the API's options.

Nothing here touches S3 or Flask, so every rule is tested from tables (tests/upload/test_policy.py).
"""

import fnmatch
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from ..portal.catalog import is_web_link

MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes.
RESERVED_PREFIX = ".docs-"  # docs-proxy's own records (app/serving/keys.py): never uploaded, never served.

DURATION = re.compile(r"\s*(\d{1,7})\s*([dhms])\s*")
DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_DURATION = timedelta(days=3650)

# The three bodies the API takes; the aliases are what common clients send for the same thing.
ARCHIVE_KINDS = {
    "application/x-tar": "tar",
    "application/tar": "tar",
    "application/gzip": "tar.gz",
    "application/x-gzip": "tar.gz",
    "application/x-compressed-tar": "tar.gz",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
}

ACTIONS = ("publish", "alias", "hide", "delete", "preview")
METADATA_OPTIONS = ("title", "description", "owner", "contact", "repo", "commit")
FLAG_VALUES = {"": True, "1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


class BadDuration(ValueError):
    """A duration that is not ``<number><d|h|m|s>``."""


class BadMember(ValueError):
    """An archive member that cannot be published; the message says why."""


class BadOption(ValueError):
    """A query parameter the API does not understand or cannot use."""


def parse_duration(text):
    """Return the ``timedelta`` a duration such as ``90d``, ``12h``, ``30m`` or ``60s`` names (at least 1 s)."""
    match = DURATION.fullmatch(text or "")
    if not match:
        raise BadDuration(f"{text!r} is not a duration; write a number and a unit: 90d, 12h, 30m or 60s")
    value = timedelta(seconds=int(match.group(1)) * DURATION_UNITS[match.group(2)])
    if value <= timedelta(0):
        raise BadDuration(f"{text!r} is not a duration; it must be at least 1s")
    if value > MAX_DURATION:
        raise BadDuration(f"{text!r} is longer than ten years")
    return value


def archive_kind(media_type):
    """Return ``tar``, ``tar.gz`` or ``zip`` for a request's media type (without parameters), or ``None``."""
    return ARCHIVE_KINDS.get((media_type or "").strip().lower())


def member_relkey(name, is_dir=False):
    """Return the key below the version for an archive member's ``name``, or raise ``BadMember``.

    Accepts what ``tar -C build -cf - .`` writes (``./a/b``) and refuses what could land outside the
    version or be read two ways: absolute paths, '..', backslashes, empty segments, control
    characters, names that are not UTF-8 (surrogate escapes from the archive reader) and
    docs-proxy's own record names. A directory entry returns its key with a trailing '/'.
    """
    if any(0xD800 <= ord(char) <= 0xDFFF for char in name):
        raise BadMember(f"{name.encode('utf-8', 'surrogateescape')!r} is not a UTF-8 name")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise BadMember(f"{name!r} contains a control character")
    if "\\" in name:
        raise BadMember(f"{name!r} contains a backslash")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        raise BadMember(f"{name!r} is an absolute path")
    relkey = name
    while relkey.startswith("./"):
        relkey = relkey[2:]
    if is_dir or relkey.endswith("/"):
        relkey = relkey.rstrip("/")
        is_dir = True
    if relkey in ("", "."):
        return ""
    segments = relkey.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise BadMember(f"{name!r} has an empty, '.' or '..' segment")
    if any(segment.startswith(RESERVED_PREFIX) for segment in segments):
        raise BadMember(f"{name!r}: names starting with {RESERVED_PREFIX!r} are docs-proxy's own records")
    if len(relkey.encode()) > MAX_KEY_BYTES - 256:
        raise BadMember(f"{relkey[:60]!r}... is too long for an S3 key below a project and version")
    return relkey + "/" if is_dir else relkey


def is_hidden(relkey):
    """Tell whether any segment of ``relkey`` starts with '.', which ``publish`` skips unless asked (source.is_hidden)."""
    return any(segment.startswith(".") for segment in relkey.split("/"))


def matches_project(globs, project):
    """Tell whether ``project`` matches one of a token's project ``globs`` (``payments*``; case-sensitive)."""
    return any(fnmatch.fnmatchcase(project, glob) for glob in globs)


def parse_actions(text):
    """Return the actions of a comma-separated list, refusing unknown ones."""
    actions = tuple(dict.fromkeys(item.strip() for item in (text or "").split(",") if item.strip()))
    unknown = [action for action in actions if action not in ACTIONS]
    if unknown or not actions:
        raise BadOption(f"actions must be a comma-separated list of {', '.join(ACTIONS)} (got {text!r})")
    return actions


def parse_flag(name, value):
    """Return a query parameter's boolean value (``?hidden``, ``?hidden=1``, ``?hidden=false``)."""
    try:
        return FLAG_VALUES[value.strip().lower()]
    except KeyError:
        raise BadOption(f"{name}={value!r} is not a yes/no value; use 1 or 0") from None


@dataclass(frozen=True)
class UploadOptions:
    """What a PUT asks for besides the files: named like ``flask docs publish``'s options."""

    alias: tuple = ()
    hidden: bool = False
    include_hidden: bool = False
    hub: bool = False
    metadata: dict = None
    tags: tuple = ()
    expires: timedelta = None

    @property
    def actions(self):
        """Return the token actions beyond publish (or preview) that these options need."""
        return (("alias",) if self.alias else ()) + (("hide",) if self.hidden else ())


def parse_options(args, preview=False, default_expires="14d"):
    """Return the ``UploadOptions`` of a request's query parameters (a multi-dict), refusing unknown ones."""
    known = {"alias", "hidden", "include-hidden", "hub", "tag", *METADATA_OPTIONS} | ({"expires"} if preview else set())
    unknown = sorted(set(args.keys()) - known)
    if unknown:
        raise BadOption(f"unknown option {unknown[0]!r}; options are {', '.join(sorted(known))}")
    single = {name: args.getlist(name) for name in args.keys()}
    for name, values in single.items():
        if name not in ("tag", "alias") and len(values) > 1:
            raise BadOption(f"{name} is given {len(values)} times")
    if preview and (args.get("alias") or "hidden" in args):
        raise BadOption("a preview is never an alias target and always unlisted: alias and hidden do not apply")
    if "repo" in args and not is_web_link(args["repo"]):
        # The portal and the hub link to it: a javascript: or data: URL would run in readers' browsers.
        raise BadOption(f"repo={args['repo']!r} must be an http:// or https:// URL")
    expires = None
    if preview:
        try:
            expires = parse_duration(args.get("expires", default_expires))
        except BadDuration as error:
            raise BadOption(f"expires: {error}") from None
    return UploadOptions(
        alias=tuple(args.getlist("alias")),
        hidden=parse_flag("hidden", args["hidden"]) if "hidden" in args else False,
        include_hidden=parse_flag("include-hidden", args["include-hidden"]) if "include-hidden" in args else False,
        hub=parse_flag("hub", args["hub"]) if "hub" in args else False,
        metadata={name: args[name] for name in METADATA_OPTIONS if name in args},
        tags=tuple(args.getlist("tag")),
        expires=expires,
    )
