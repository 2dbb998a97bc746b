"""Publishing: ``flask docs publish`` puts a built docs folder into the bucket."""


def init_app(app):
    """Register the ``flask docs`` command group on ``app``."""
    from . import cli

    cli.init_app(app)
