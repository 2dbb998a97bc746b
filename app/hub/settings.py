"""The hub's settings (config.py describes a ``Setting``)."""

from config import Setting, choice

SETTINGS = (
    Setting("DOCS_HUB", "off", choice("off", "on"),
            "the hub inside every page (docs/hub.md): `off`, only projects that turned it on (`flask docs hub P on`, "
            "`publish --hub`); `on`, every project except those turned off", "on"),
)
