"""Serving's settings: how ``/docs/<path>`` maps to S3 and streams (config.py describes a ``Setting``)."""

from config import Setting, file_name, number

SETTINGS = (
    Setting("DOCS_INDEX_DOCUMENT", "index.html", file_name, "index document of a directory", "default.htm"),
    # 1 MiB: ~25% less CPU per GB than 256 KiB in bench/ at a few MiB of RSS per download;
    # 4 MiB added RSS and time to first byte without more throughput.
    Setting("DOCS_CHUNK_SIZE", 1024 * 1024, number(int, 1024, 64 * 1024 * 1024),
            "bytes read from S3 and written to the client at a time (1 MiB, chosen by the benchmark)", "262144"),
    Setting("DOCS_TRUSTED_PROXIES", 0, number(int, 0, 10),
            "number of reverse proxies in front whose `X-Forwarded-*` headers are trusted", "1"),
    # issue 19: the error-document lookup made one S3 call per folder level
    Setting("DOCS_FALLBACK_S3_CALLS", 12, number(int, 0, 1000),
            "S3 calls one request may spend on what a missing key means (directory probe, listing, error "
            "documents); then S3's own 404 answers", "6"),
)
