"""The ``flask docs`` command group."""

import click
from flask.cli import AppGroup

docs_cli = AppGroup("docs", help="Manage the docs in the bucket.")


def init_app(app):
    """Register the ``docs`` command group on ``app``."""
    app.cli.add_command(docs_cli)
