"""docs-proxy configuration: defaults, and the one function that reads the environment.

Configuration flows one way: ``DEFAULTS``, then the environment (``from_environ``),
then a test's ``test_config``. Nothing here runs at import time but constant definitions.
"""

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
    # portal (issue 11)
    # How long each worker trusts its copy of the portal index before a conditional GET (at most 10 s).
    "DOCS_PORTAL_TTL": 10.0,
    # search (issue 15)
    "DOCS_SEARCH_QUERY_MAX_CHARS": 200,
    "DOCS_SEARCH_QUERY_MAX_TERMS": 12,
    "DOCS_SEARCH_TIMEOUT": 0.5,
    "DOCS_SEARCH_BUILD_WAIT": 10.0,
    "DOCS_SEARCH_PER_PAGE": 10,
    "DOCS_SEARCH_PROJECT_INDEXES": 2,
    "DOCS_SEARCH_PUBLISH": "on",
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


def _number(kind, minimum, maximum=None):
    def parse(name, raw):
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}; use a number >= {minimum}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise ConfigError(f"{name}={raw!r} is out of range; use a number >= {minimum}{upper}")
        return value

    return parse


def _index_document(name, raw):
    if not raw or "/" in raw:
        raise ConfigError(f"{name}={raw!r} must be a file name without '/', such as index.html")
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
    # portal (issue 11)
    "DOCS_PORTAL_TTL": _number(float, 0, 10),
    # search (issue 15)
    "DOCS_SEARCH_QUERY_MAX_CHARS": _number(int, 10, 10_000),
    "DOCS_SEARCH_QUERY_MAX_TERMS": _number(int, 1, 64),
    "DOCS_SEARCH_TIMEOUT": _number(float, 0.01, 60),
    "DOCS_SEARCH_BUILD_WAIT": _number(float, 0, 600),
    "DOCS_SEARCH_PER_PAGE": _number(int, 1, 100),
    "DOCS_SEARCH_PROJECT_INDEXES": _number(int, 0, 100),
    "DOCS_SEARCH_PUBLISH": _choice("on", "off"),
}


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
    if not settings.get("S3_BUCKET"):
        raise ConfigError(
            "S3_BUCKET is not set; set it to the bucket to serve "
            "(or run `make run` without it for the embedded sample site)"
        )
