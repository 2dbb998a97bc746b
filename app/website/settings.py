"""The website features' settings: error documents, listings, presigned downloads (config.py describes a ``Setting``)."""

from config import Setting, file_name, folders, http_url, number, size

SETTINGS = (
    Setting("DOCS_ERROR_DOCUMENT", None, file_name,
            "error document shown for missing pages, nearest up the path, e.g. `404.html` "
            "([docs/website.md](website.md)); unset: only portal versions published with a `404.html` use theirs", "404.html"),
    Setting("DOCS_ERROR_DOCUMENT_TTL", 60.0, number(float, 0), "seconds an error-document lookup is cached per worker", "15"),
    # issue 19: a 480-level path cost 486 S3 GETs
    Setting("DOCS_ERROR_DOCUMENT_DEPTH", 8, number(int, 0, 64),
            "folder levels, from the docs root down, the error-document lookup looks in", "4"),
    Setting("DOCS_LISTING_PREFIXES", (), folders,
            "folders without an index listed at or below these paths (`artifacts/,nightly/`, or `*`); unset: off",
            "artifacts/, nightly"),
    Setting("DOCS_LISTING_PAGE_SIZE", 5000, number(int, 1, 100_000), "entries per listing page", "1000"),
    Setting("DOCS_PRESIGN_ABOVE", None, size,
            "GETs of objects at least this large (`100MiB`, `2GB`, bytes) redirect to a presigned S3 URL; unset: off",
            "100MiB"),
    Setting("DOCS_PRESIGN_EXPIRES", 300, number(int, 1, 7 * 24 * 3600), "seconds a presigned URL is valid", "60"),
    Setting("S3_PUBLIC_ENDPOINT_URL", None, http_url,
            "endpoint named in presigned URLs, when browsers cannot reach `S3_ENDPOINT_URL`; unset: `S3_ENDPOINT_URL`",
            "https://s3.example.com"),
)
