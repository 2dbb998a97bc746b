"""The portal's settings (config.py describes a ``Setting``)."""

from config import Setting, number

SETTINGS = (
    # At most 10 s: a publish must show on the landing page within that.
    Setting("DOCS_PORTAL_TTL", 10.0, number(float, 0, 10),
            "seconds each worker trusts its copy of the portal index before revalidating it (0-10)", "2.5"),
    # A granted presigned POST is listed once S3 holds its file; until then each worker asks S3 again this often.
    Setting("DOCS_ARTIFACT_RECHECK", 30.0, number(float, 0, 3600),
            "seconds a worker trusts that a file granted a presigned POST has not reached S3 yet, before asking "
            "S3 again (a file there stays listed)", "5"),
)
