"""docs-proxy configuration: defaults, and the one function that reads the environment.

Configuration flows one way: ``DEFAULTS``, then the environment (``from_environ``),
then a test's ``test_config``. Nothing here runs at import time but constant definitions.
"""

import errno
import ipaddress
import re
import socket
from urllib.parse import urlsplit

DEFAULTS = {
    "S3_BUCKET": None,
    "S3_PREFIX": "",
    "S3_ENDPOINT_URL": None,
    "S3_REGION": None,
    "S3_ADDRESSING_STYLE": "auto",
    # Four times gunicorn's default 16 threads (gunicorn.conf.py): no thread ever waits for a connection.
    "S3_MAX_POOL_CONNECTIONS": 64,
    "S3_CONNECT_TIMEOUT": 5.0,
    "S3_READ_TIMEOUT": 30.0,
    "S3_MAX_ATTEMPTS": 3,
    "DOCS_INDEX_DOCUMENT": "index.html",
    # 1 MiB: ~25% less CPU per GB than 256 KiB in bench/ at a few MiB of RSS per download;
    # 4 MiB added RSS and time to first byte without more throughput.
    "DOCS_CHUNK_SIZE": 1024 * 1024,
    "DOCS_TRUSTED_PROXIES": 0,
    "DOCS_CACHE_CONTROL_PAGES": "no-cache",
    "DOCS_CACHE_CONTROL_HASHED": "public, max-age=31536000, immutable",
    "DOCS_PUBLISH_JOBS": 8,
    "DOCS_MULTIPART_THRESHOLD": 16 * 1024 * 1024,
    "DOCS_MULTIPART_CONCURRENCY": 4,
    # access control (issue 10): unset = open, as before; app/access/settings.py checks them together
    "DOCS_AUTH": "",
    "DOCS_AUTH_USER_HEADER": "X-Forwarded-User",
    "DOCS_AUTH_EMAIL_HEADER": "X-Forwarded-Email",
    "DOCS_AUTH_GROUPS_HEADER": "X-Forwarded-Groups",
    "DOCS_AUTH_TRUSTED_NETWORKS": "",
    "DOCS_AUTH_SECRET_FILE": None,
    "DOCS_AUTH_JWT_PRESET": "generic",
    "DOCS_AUTH_JWT_HEADER": None,
    "DOCS_AUTH_JWKS_URL": None,
    "DOCS_AUTH_JWT_ISSUER": None,
    "DOCS_AUTH_JWT_AUDIENCE": None,
    "DOCS_AUTH_JWT_ALGORITHMS": None,
    "DOCS_AUTH_JWT_USER_CLAIM": None,
    "DOCS_AUTH_JWT_GROUPS_CLAIM": None,
    "DOCS_AUTH_ALB_ARN": None,
    "DOCS_AUTH_HTPASSWD": None,
    "DOCS_ACCESS_RULES": None,
    "DOCS_AUTH_LOGIN_URL": None,
    # website features (issue 14)
    "DOCS_ERROR_DOCUMENT": None,
    "DOCS_ERROR_DOCUMENT_TTL": 60.0,
    "DOCS_LISTING_PREFIXES": "",
    "DOCS_LISTING_PAGE_SIZE": 5000,
    "DOCS_PRESIGN_ABOVE": None,
    "DOCS_PRESIGN_EXPIRES": 300,
    "S3_PUBLIC_ENDPOINT_URL": None,
    # operations (issue 12)
    # text by default: someone starting it by hand reads a terminal; deploy/ sets json for log pipelines.
    "DOCS_LOG_FORMAT": "text",
    "DOCS_METRICS": True,
    # Empty: /_/metrics answers everyone who can reach the port; else comma-separated networks (CIDR).
    "DOCS_METRICS_ALLOW": "",
    # Seconds a readiness answer is reused: probes from many load balancers cost S3 one call per worker.
    "DOCS_READY_CACHE_SECONDS": 5.0,
    # Seconds the readiness call may take: below a Kubernetes probe's default 1 s timeout plus margin.
    "DOCS_READY_TIMEOUT": 2.0,
    # defects found on trial (issue 9)
    # Well inside nginx's default 60 s proxy_read_timeout, so a stalled S3 gets our 504, not the proxy's.
    "S3_FIRST_BYTE_DEADLINE": 20.0,
    # portal (issue 11)
    # How long each worker trusts its copy of the portal index before a conditional GET (at most 10 s).
    "DOCS_PORTAL_TTL": 10.0,
    # cache and compression (issue 13)
    "DOCS_CACHE": "on",
    "DOCS_CACHE_SIZE": 64 * 1024 * 1024,
    "DOCS_CACHE_OBJECT_SIZE": 1024 * 1024,
    # A publish shows within this many seconds; objects marked immutable stay DOCS_CACHE_IMMUTABLE_TTL.
    "DOCS_CACHE_TTL": 5.0,
    "DOCS_CACHE_IMMUTABLE_TTL": 86400.0,
    "DOCS_CACHE_MAX_STALE": 86400.0,
    "DOCS_CACHE_WAIT": 10.0,
    "DOCS_COMPRESSION": "on",
    "DOCS_COMPRESSION_MIN_SIZE": 1024,
    # search (issue 15)
    "DOCS_SEARCH_QUERY_MAX_CHARS": 200,
    "DOCS_SEARCH_QUERY_MAX_TERMS": 12,
    "DOCS_SEARCH_TIMEOUT": 0.5,
    "DOCS_SEARCH_BUILD_WAIT": 10.0,
    "DOCS_SEARCH_PER_PAGE": 10,
    "DOCS_SEARCH_PROJECT_INDEXES": 2,
    "DOCS_SEARCH_PUBLISH": "on",
    # issue 24: upload API (app/upload/): limits on one archive, once expanded
    "DOCS_UPLOAD_MAX_BYTES": 4 * 1024**3,
    "DOCS_UPLOAD_MAX_FILES": 100_000,
}

ADDRESSING_STYLES = ("auto", "path", "virtual")


class ConfigError(ValueError):
    """A configuration value is missing or not one of the allowed values."""


def _text(name, raw):
    return raw


def _prefix(name, raw):
    if raw.startswith("/"):
        raise ConfigError(f"{name}={raw!r} must not start with '/': S3 keys have no leading slash")
    if raw and not raw.endswith("/"):
        raise ConfigError(f"{name}={raw!r} must end with '/' (or be empty)")
    return raw


def _choice(*allowed):
    def parse(name, raw):
        if raw not in allowed:
            raise ConfigError(f"{name}={raw!r} is not allowed; use one of: {', '.join(allowed)}")
        return raw

    return parse


KIND_NAMES = {int: "an integer", float: "a number"}


def _number(kind, minimum, maximum=None):
    def parse(name, raw):
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={raw!r} is not {KIND_NAMES[kind]}; use a number >= {minimum}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise ConfigError(f"{name}={raw!r} is out of range; use a number >= {minimum}{upper}")
        return value

    return parse


def _index_document(name, raw):
    if not raw or "/" in raw:
        raise ConfigError(f"{name}={raw!r} must be a file name without '/', such as index.html")
    return raw


SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
              "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "t": 1000**4, "tb": 1000**4, "tib": 1024**4}


def _size(name, raw):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", raw)
    unit = match and match.group(2).lower()
    if not match or unit not in SIZE_UNITS:
        raise ConfigError(f"{name}={raw!r} is not a size; use bytes or a number with a unit, such as 100MiB or 2GB")
    value = int(float(match.group(1)) * SIZE_UNITS[unit])
    if value < 1:
        raise ConfigError(f"{name}={raw!r} is out of range; use a size of at least 1 byte")
    return value


def _listing_prefixes(name, raw):
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
    return ",".join(dict.fromkeys(prefixes))


def _http_url(name, raw):
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r} must be an http:// or https:// URL such as https://s3.example.internal")
LOG_FORMATS = ("text", "json")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _boolean(name, raw):
    word = raw.strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name}={raw!r} is not a boolean; use one of: {', '.join(TRUE_WORDS + FALSE_WORDS)}")
    return word in TRUE_WORDS


def _networks(name, raw):
    for part in raw.split(","):
        if not part.strip():
            continue
        try:
            ipaddress.ip_network(part.strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"{name}={raw!r}: {part.strip()!r} is not a network; use addresses or CIDRs such as 10.0.0.0/8, ::1"
            ) from None
    return raw


PARSERS = {
    "S3_BUCKET": _text,
    "S3_PREFIX": _prefix,
    "S3_ENDPOINT_URL": _text,
    "S3_REGION": _text,
    "S3_ADDRESSING_STYLE": _choice(*ADDRESSING_STYLES),
    "S3_MAX_POOL_CONNECTIONS": _number(int, 1, 10_000),
    "S3_CONNECT_TIMEOUT": _number(float, 0.01),
    "S3_READ_TIMEOUT": _number(float, 0.01),
    "S3_MAX_ATTEMPTS": _number(int, 1, 20),
    "DOCS_INDEX_DOCUMENT": _index_document,
    "DOCS_CHUNK_SIZE": _number(int, 1024, 64 * 1024 * 1024),
    "DOCS_TRUSTED_PROXIES": _number(int, 0, 10),
    "DOCS_CACHE_CONTROL_PAGES": _text,
    "DOCS_CACHE_CONTROL_HASHED": _text,
    "DOCS_PUBLISH_JOBS": _number(int, 1, 256),
    "DOCS_MULTIPART_THRESHOLD": _number(int, 5 * 1024 * 1024),
    "DOCS_MULTIPART_CONCURRENCY": _number(int, 1, 64),
    # access control (issue 10): each value is checked with the others in validate()
    "DOCS_AUTH": _text,
    "DOCS_AUTH_USER_HEADER": _text,
    "DOCS_AUTH_EMAIL_HEADER": _text,
    "DOCS_AUTH_GROUPS_HEADER": _text,
    "DOCS_AUTH_TRUSTED_NETWORKS": _text,
    "DOCS_AUTH_SECRET_FILE": _text,
    "DOCS_AUTH_JWT_PRESET": _choice("generic", "alb", "iap", "cloudflare", "pomerium"),
    "DOCS_AUTH_JWT_HEADER": _text,
    "DOCS_AUTH_JWKS_URL": _text,
    "DOCS_AUTH_JWT_ISSUER": _text,
    "DOCS_AUTH_JWT_AUDIENCE": _text,
    "DOCS_AUTH_JWT_ALGORITHMS": _text,
    "DOCS_AUTH_JWT_USER_CLAIM": _text,
    "DOCS_AUTH_JWT_GROUPS_CLAIM": _text,
    "DOCS_AUTH_ALB_ARN": _text,
    "DOCS_AUTH_HTPASSWD": _text,
    "DOCS_ACCESS_RULES": _text,
    "DOCS_AUTH_LOGIN_URL": _text,
    # website features (issue 14)
    "DOCS_ERROR_DOCUMENT": _index_document,
    "DOCS_ERROR_DOCUMENT_TTL": _number(float, 0),
    "DOCS_LISTING_PREFIXES": _listing_prefixes,
    "DOCS_LISTING_PAGE_SIZE": _number(int, 1, 100_000),
    "DOCS_PRESIGN_ABOVE": _size,
    "DOCS_PRESIGN_EXPIRES": _number(int, 1, 7 * 24 * 3600),
    "S3_PUBLIC_ENDPOINT_URL": _http_url,
    # operations (issue 12)
    "DOCS_LOG_FORMAT": _choice(*LOG_FORMATS),
    "DOCS_METRICS": _boolean,
    "DOCS_METRICS_ALLOW": _networks,
    "DOCS_READY_CACHE_SECONDS": _number(float, 0, 3600),
    "DOCS_READY_TIMEOUT": _number(float, 0.1, 60),
    # defects found on trial (issue 9)
    "S3_FIRST_BYTE_DEADLINE": _number(float, 0.01, 3600),
    # portal (issue 11)
    "DOCS_PORTAL_TTL": _number(float, 0, 10),
    # cache and compression (issue 13)
    "DOCS_CACHE": _choice("on", "off"),
    "DOCS_CACHE_SIZE": _number(int, 64 * 1024),
    "DOCS_CACHE_OBJECT_SIZE": _number(int, 1),
    "DOCS_CACHE_TTL": _number(float, 0.0, 10.0),
    "DOCS_CACHE_IMMUTABLE_TTL": _number(float, 0.0),
    "DOCS_CACHE_MAX_STALE": _number(float, 0.0),
    "DOCS_CACHE_WAIT": _number(float, 0.01),
    "DOCS_COMPRESSION": _choice("on", "off"),
    "DOCS_COMPRESSION_MIN_SIZE": _number(int, 0),
    # search (issue 15)
    "DOCS_SEARCH_QUERY_MAX_CHARS": _number(int, 10, 10_000),
    "DOCS_SEARCH_QUERY_MAX_TERMS": _number(int, 1, 64),
    "DOCS_SEARCH_TIMEOUT": _number(float, 0.01, 60),
    "DOCS_SEARCH_BUILD_WAIT": _number(float, 0, 600),
    "DOCS_SEARCH_PER_PAGE": _number(int, 1, 100),
    "DOCS_SEARCH_PROJECT_INDEXES": _number(int, 0, 100),
    "DOCS_SEARCH_PUBLISH": _choice("on", "off"),
    # issue 24: upload API (app/upload/)
    "DOCS_UPLOAD_MAX_BYTES": _size,
    "DOCS_UPLOAD_MAX_FILES": _number(int, 1, 10_000_000),
}


def _bind(name, raw):
    if raw.startswith(("unix:", "fd://")):
        return raw
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{name}={raw!r} is not an address to listen on; use HOST:PORT such as 127.0.0.1:8000")
    return raw


# gunicorn.conf.py's default; the pool check compares S3_MAX_POOL_CONNECTIONS with it.
GUNICORN_DEFAULT_THREADS = 16

# gunicorn's settings (gunicorn.conf.py reads them); checked before it starts, like the app's.
SERVER_PARSERS = {
    "DOCS_BIND": _bind,
    "WEB_CONCURRENCY": _number(int, 1, 1024),
    "GUNICORN_THREADS": _number(int, 1, 1024),
    "GUNICORN_GRACEFUL_TIMEOUT": _number(int, 0, 86400),
}


def check_server(environ):
    """Raise ``ConfigError`` naming the first of gunicorn's variables in ``environ`` that is bad."""
    for name, parse in SERVER_PARSERS.items():
        raw = environ.get(name)
        if raw is not None and raw.strip() != "":
            parse(name, raw.strip())


def bind_problem(address, name="DOCS_BIND"):
    """Return why nothing could listen on ``address`` (HOST:PORT) right now, or ``None``.

    gunicorn's workers bind with SO_REUSEPORT, which lets a second instance share a port that one
    already serves, the two then answering in turn; a probe without it fails where the address is taken.
    """
    if address.startswith(("unix:", "fd://")):
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, ValueError) as error:
        return f"{name}={address!r} is not an address of this machine ({getattr(error, 'strerror', error)})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn: TIME_WAIT is no conflict
        try:
            probe.bind(sockaddr)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (f"{name}={address!r} is already in use by another process (another docs-proxy, "
                        "or make run still running?); stop it or choose another address")
            return f"{name}={address!r} cannot be listened on ({error.strerror})"
    return None


def from_environ(environ):
    """Return the settings present in ``environ``, parsed and validated."""
    settings = {}
    for name, parse in PARSERS.items():
        raw = environ.get(name)
        if raw is None or raw == "" and name != "S3_PREFIX":
            continue
        settings[name] = parse(name, raw.strip())
    if "S3_REGION" not in settings:
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region:
            settings["S3_REGION"] = region
    return settings


def validate(settings):
    """Check the merged settings as a whole; raise ``ConfigError`` naming the variable at fault."""
    for name, parse in PARSERS.items():
        value = settings.get(name)
        if value is not None:
            parse(name, str(value))
    if settings.get("DOCS_CACHE_OBJECT_SIZE", 0) > settings.get("DOCS_CACHE_SIZE", 0):
        raise ConfigError(
            f"DOCS_CACHE_OBJECT_SIZE={settings['DOCS_CACHE_OBJECT_SIZE']} is above DOCS_CACHE_SIZE="
            f"{settings['DOCS_CACHE_SIZE']}; an object larger than the whole cache could never be kept"
        )
    if not settings.get("S3_BUCKET"):
        raise ConfigError(
            "S3_BUCKET is not set; set it to the bucket to serve "
            "(or run `make run` without it for the embedded sample site)"
        )
    # Access control reads its files (rules, htpasswd, secret) here too, so gunicorn's start-up
    # check refuses a configuration that would not fail closed before any worker starts.
    from app.access.settings import build_access

    build_access(settings)
