"""Publishing's settings: what ``flask docs publish`` uploads and how (config.py describes a ``Setting``)."""

from config import Setting, number, text

SETTINGS = (
    Setting("DOCS_CACHE_CONTROL_PAGES", "no-cache", text,
            "`Cache-Control` that `publish` gives pages and unversioned files", "max-age=60"),
    Setting("DOCS_CACHE_CONTROL_HASHED", "public, max-age=31536000, immutable", text,
            "`Cache-Control` that `publish` gives content-hashed files", "public, max-age=86400"),
    Setting("DOCS_PUBLISH_JOBS", 8, number(int, 1, 256), "files `publish` uploads in parallel (`--jobs`)", "16"),
    Setting("DOCS_MULTIPART_THRESHOLD", 16 * 1024 * 1024, number(int, 5 * 1024 * 1024),
            "file size in bytes from which `publish` uses multipart uploads (16 MiB)", "8388608"),
    Setting("DOCS_MULTIPART_CONCURRENCY", 4, number(int, 1, 64), "parts of one large file uploaded in parallel", "2"),
)
