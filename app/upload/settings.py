"""The upload API's settings (config.py describes a ``Setting``)."""

from config import Setting, number, size

SETTINGS = (
    Setting("DOCS_UPLOAD_MAX_BYTES", 4 * 1024**3, size,
            "upload API: largest archive once expanded (and largest zip body), bytes or a size such as `4GiB`", "500MB"),
    Setting("DOCS_UPLOAD_MAX_FILES", 100_000, number(int, 1, 10_000_000), "upload API: most files in one archive", "5000"),
)
