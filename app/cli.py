"""The ``flask docs`` command group, neutral ground: each package adds its commands with ``add_command``.

``create_app`` calls ``init_app`` before any package's; publishing adds ``publish`` (with the publish
steps other packages registered through ``app.publishing.add_step``), the portal its index commands,
and this module ``hooks``, which prints the /docs request path.
"""

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .serving import hooks

# One group for the process, as Flask's own ``app.cli`` commands are declared at import time.
docs_cli = AppGroup("docs", help="Manage the docs in the bucket.")


def init_app(app):
    """Register the ``flask docs`` group on ``app``, with the ``hooks`` command."""
    app.cli.add_command(docs_cli)
    add_command(app, hooks_command)


def add_command(app, command):
    """Add ``command`` to ``flask docs`` (a later command of the same name replaces the earlier)."""
    docs_cli.add_command(command)


@click.command("hooks")
@with_appcontext
def hooks_command():
    """Print the /docs request path: gates, responders, fetch layers (outermost first) and fallbacks, in order."""
    click.echo("route -> path checks (app.serving.keys)")
    for stage, name in hooks.request_path(current_app):
        click.echo(f"{stage:9} {name}")
    click.echo("exceptions -> app.errors")
