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
    # issue 20: slow readers under the gevent engine (docs/architecture.md, "Serving engine")
    # 64 KiB x 1,000 slow readers = 64 MiB; a fast reader moves to DOCS_CHUNK_SIZE (app/serving/chunks.py).
    Setting("DOCS_SLOW_CHUNK_SIZE", 64 * 1024, number(int, 4096, 64 * 1024 * 1024),
            "the chunk every download starts with and keeps while its reader is slow (what each slow "
            "download holds in memory); `DOCS_CHUNK_SIZE` once the reader is fast", "131072"),
    # nginx's send_timeout default, so a proxy in front and docs-proxy give up on the same clients.
    Setting("DOCS_STALLED_READER_TIMEOUT", 60.0, number(float, 1, 3600),
            "seconds a client may take no bytes at all before it is dropped and its S3 connection released", "30"),
    # Linux grows a socket's send buffer to 4 MiB for any reader; fixed, 1,000 readers arriving at once
    # do not make a worker push gigabytes before it accepts a page. Ample behind a proxy (sub-ms away).
    Setting("DOCS_SEND_BUFFER", 256 * 1024, number(int, 0, 64 * 1024 * 1024),
            "kernel send buffer of each client socket until its reader is fast (Linux doubles it); `0` lets "
            "the kernel grow it to 4 MiB for every reader", "131072"),
)
