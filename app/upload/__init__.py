"""The upload API: CI publishes over HTTP with a project-scoped token instead of S3 credentials (docs/upload.md).

``PUT /_/api/projects/P/versions/V`` and ``.../previews/NAME`` take an archive and run publish's own
pipeline; ``POST .../versions/V/uploads`` hands out a presigned POST for one large file; the ``flask docs
token`` commands make and revoke tokens, and ``flask docs gc`` removes expired previews.
"""


def init_app(app):
    """Register the upload routes (outside readers' access control) and the commands."""
    from ..access import exempt_blueprint
    from . import cli, views

    app.register_blueprint(views.bp)
    exempt_blueprint(app, views.bp.name)
    cli.init_app(app)
