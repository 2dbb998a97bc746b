"""docs-proxy configuration: the shape of a setting, the parsers, and the one reader of the environment.

Each package declares its own settings in a ``SETTINGS`` table of ``Setting`` rows
(``app/<package>/settings.py``; docs/architecture.md says where a new one goes); ``create_app``
gathers the tables and hands them to the functions below. Configuration flows one way: the
defaults, then the environment (``from_environ``) or a test's ``test_config``, then ``validate``.
Nothing here imports ``app`` or runs at import time but constant definitions.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A configuration value is missing or not one of the allowed values."""


@dataclass(frozen=True)
class Setting:
    """One setting: its variable, its default (a final value), the parser from text, one line of help.

    ``example`` is a value other than the default, shown in docs/configuration.md and used by the
    test that reads every setting from the environment.
    """

    name: str
    default: Any
    parse: Callable[[str, str], Any]
    help: str
    example: str


# --- parsers: ``parse(name, raw)`` returns the final value or raises ConfigError naming ``name`` ---

def text(name, raw):
    """Return ``raw`` as it is."""
    return raw


def prefix(name, raw):
    """Return a key prefix: empty, or ending in '/' and not starting with one."""
    if raw.startswith("/"):
        raise ConfigError(f"{name}={raw!r} must not start with '/': S3 keys have no leading slash")
    if raw and not raw.endswith("/"):
        raise ConfigError(f"{name}={raw!r} must end with '/' (or be empty)")
    return raw


def choice(*allowed):
    """Return a parser accepting exactly one of ``allowed``."""

    def parse(name, raw):
        if raw not in allowed:
            raise ConfigError(f"{name}={raw!r} is not allowed; use one of: {', '.join(allowed)}")
        return raw

    parse.allowed = allowed
    return parse


KIND_NAMES = {int: "an integer", float: "a number"}


def number(kind, minimum, maximum=None):
    """Return a parser of ``kind`` (int or float) between ``minimum`` and ``maximum`` (inclusive)."""

    def parse(name, raw):
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={raw!r} is not {KIND_NAMES[kind]}; use a number >= {minimum}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise ConfigError(f"{name}={raw!r} is out of range; use a number >= {minimum}{upper}")
        return value

    parse.kind, parse.minimum, parse.maximum = kind, minimum, maximum
    return parse


def file_name(name, raw):
    """Return a file name without '/', such as index.html."""
    if not raw or "/" in raw:
        raise ConfigError(f"{name}={raw!r} must be a file name without '/', such as index.html")
    return raw


SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
              "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def size(name, raw):
    """Return a size in bytes from bytes or a number with a unit (100MiB, 2GB)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", raw)
    unit = match and match.group(2).lower()
    if not match or unit not in SIZE_UNITS:
        raise ConfigError(f"{name}={raw!r} is not a size; use bytes or a number with a unit, such as 100MiB or 2GB")
    value = int(float(match.group(1)) * SIZE_UNITS[unit])
    if value < 1:
        raise ConfigError(f"{name}={raw!r} is out of range; use a size of at least 1 byte")
    return value


def folders(name, raw):
    """Return the document folders of a comma-separated list, normalised ('a/b/'), or ``("*",)`` for everywhere."""
    prefixes = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        if item != "*":
            segments = [segment for segment in item.strip("/").split("/") if segment]
            if any(segment in (".", "..") for segment in segments) or any(char in item for char in "\\*\0\r\n"):
                raise ConfigError(
                    f"{name} entry {item!r} is not a document path; use folders such as artifacts/, or * for everywhere"
                )
            item = "/".join(segments) + "/" if segments else "*"
        prefixes.append(item)
    return tuple(dict.fromkeys(prefixes))


def http_url(name, raw):
    """Return an http:// or https:// URL without query or fragment."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r} must be an http:// or https:// URL such as https://s3.example.internal")
    return raw


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def boolean(name, raw):
    """Return True or False from a word such as on/off, true/false, 1/0."""
    word = raw.strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name}={raw!r} is not a boolean; use one of: {', '.join(TRUE_WORDS + FALSE_WORDS)}")
    return word in TRUE_WORDS


def networks(name, raw):
    """Return the IP networks of a comma- or space-separated list of addresses and CIDRs (empty: none)."""
    found = []
    for item in re.split(r"[,\s]+", raw):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                f"{name}: {item!r} is not an IP network such as 10.0.0.0/8, 127.0.0.1/32 or ::1"
            ) from None
    return tuple(found)


def bind(name, raw):
    """Return an address to listen on: HOST:PORT, unix:PATH or fd://N."""
    if raw.startswith(("unix:", "fd://")):
        return raw
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{name}={raw!r} is not an address to listen on; use HOST:PORT such as 127.0.0.1:8000")
    return raw


# --- reading and checking ---

# An empty variable means "unset" (the default applies), except where empty is a value of its own.
EMPTY_IS_A_VALUE = ("S3_PREFIX",)


def defaults(settings):
    """Return the default of every setting in ``settings`` (``Setting`` rows)."""
    return {setting.name: setting.default for setting in settings}


def from_environ(environ, settings):
    """Return the ``settings`` present in ``environ``, parsed: the one place the environment is read."""
    found = {}
    for setting in settings:
        raw = environ.get(setting.name)
        if raw is None or raw == "" and setting.name not in EMPTY_IS_A_VALUE:
            continue
        found[setting.name] = setting.parse(setting.name, raw.strip())
    if "S3_REGION" in defaults(settings) and "S3_REGION" not in found:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region:
            found["S3_REGION"] = region
    return found


def validate(values, settings):
    """Parse the text values in ``values`` (a test's ``test_config``) in place and check the others.

    Strings become their final values as from the environment; numbers and booleans are checked
    through their text; values already in their final shape (tuples) are kept.
    """
    for setting in settings:
        value = values.get(setting.name)
        if isinstance(value, str):
            values[setting.name] = setting.parse(setting.name, value)
        elif isinstance(value, (bool, int, float)):
            setting.parse(setting.name, str(value))
