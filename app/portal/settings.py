"""The portal's settings (config.py describes a ``Setting``)."""

from config import Setting, number

SETTINGS = (
    # At most 10 s: a publish must show on the landing page within that.
    Setting("DOCS_PORTAL_TTL", 10.0, number(float, 0, 10),
            "seconds each worker trusts its copy of the portal index before revalidating it (0-10)", "2.5"),
)
