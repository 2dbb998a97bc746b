"""Serving: ``/docs/<path>`` answered from S3 with S3 website semantics, streamed."""


def init_app(app):
    """Register the /docs blueprint and its path converter on ``app``."""
    from . import views

    views.init_app(app)
