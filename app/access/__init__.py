"""Access control: who may read which docs (issue 10 fills this in; until then everything is readable)."""

from flask import g


def may_read(path):
    """Tell whether the current request's reader may read the document ``path`` (below /docs/)."""
    return True


def current_user():
    """Return the current reader's name, or ``None`` when nobody is signed in."""
    return g.get("user")


def init_app(app):
    """Set up access control on ``app``."""
