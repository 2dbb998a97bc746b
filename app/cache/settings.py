"""The cache's and compression's settings, and their check together (config.py describes a ``Setting``)."""

from config import ConfigError, Setting, choice, number, size

SETTINGS = (
    Setting("DOCS_CACHE", "on", choice("on", "off"),
            "per-worker cache of small objects, `on` or `off` ([docs/cache.md](cache.md))", "off"),
    Setting("DOCS_CACHE_SIZE", 64 * 1024 * 1024, number(int, 64 * 1024), "bytes of cache per worker (64 MiB)", "1048576"),
    Setting("DOCS_CACHE_OBJECT_SIZE", 1024 * 1024, number(int, 1), "largest object cached, in bytes (1 MiB)", "65536"),
    # A publish shows within this many seconds; objects marked immutable stay DOCS_CACHE_IMMUTABLE_TTL.
    Setting("DOCS_CACHE_TTL", 5.0, number(float, 0.0, 10.0),
            "seconds a cached object stays fresh (a publish shows within it), 0 to 10", "1.5"),
    Setting("DOCS_CACHE_IMMUTABLE_TTL", 86400.0, number(float, 0.0),
            "seconds an `immutable` (content-hashed) object stays fresh", "3600"),
    Setting("DOCS_CACHE_MAX_STALE", 86400.0, number(float, 0.0),
            "seconds a cached object may stand in while S3 fails (`X-Cache: STALE`, `Age`)", "600"),
    Setting("DOCS_CACHE_WAIT", 10.0, number(float, 0.01),
            "seconds a request waits for another request's S3 fetch of the same key", "2.5"),
    Setting("DOCS_COMPRESSION", "on", choice("on", "off"),
            "zstd/br/gzip for text, negotiated from `Accept-Encoding`, `on` or `off`", "off"),
    Setting("DOCS_COMPRESSION_MIN_SIZE", 1024, number(int, 0), "smallest body compressed, in bytes", "256"),
    # issue 19: gzip of a 64 MiB page cost 3.3 s of CPU
    Setting("DOCS_COMPRESSION_MAX_SIZE", 4 * 1024 * 1024, size,
            "largest body compressed on the fly (`4MiB`, bytes); from 1 MiB the cheapest accepted coding at level 1",
            "1MiB"),
)


def check(settings):
    """Refuse an object size limit above the whole cache: such an object could never be kept."""
    if settings["DOCS_CACHE_OBJECT_SIZE"] > settings["DOCS_CACHE_SIZE"]:
        raise ConfigError(
            f"DOCS_CACHE_OBJECT_SIZE={settings['DOCS_CACHE_OBJECT_SIZE']} is above DOCS_CACHE_SIZE="
            f"{settings['DOCS_CACHE_SIZE']}; an object larger than the whole cache could never be kept"
        )
