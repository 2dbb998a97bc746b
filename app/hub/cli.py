"""``flask docs hub PROJECT on|off``: turn the hub on or off for one project, in its portal entry."""

import click
from flask import current_app
from flask.cli import with_appcontext

from ..cli import add_command


@click.command("hub")
@with_appcontext
@click.argument("project")
@click.argument("state", type=click.Choice(["on", "off"]))
def hub_command(project, state):
    """Turn the hub (version menu, banner, search in every page) on or off for PROJECT."""
    from ..portal.cli import _update
    from ..portal.index import set_hub

    _update(set_hub(project, state == "on"), "updating the portal index", [project])
    mode = current_app.config["DOCS_HUB"]
    click.echo(f"{project}: hub {state} (DOCS_HUB={mode}; pages show it within DOCS_PORTAL_TTL seconds)")


def init_app(app):
    """Add ``hub`` to the ``flask docs`` group."""
    add_command(app, hub_command)
