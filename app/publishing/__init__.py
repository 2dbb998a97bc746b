"""Publishing: ``flask docs publish`` puts a built docs folder into the bucket."""

INDEXERS = "publishing.indexers"


def init_app(app):
    """Register the ``flask docs`` command group on ``app``."""
    from . import cli

    cli.init_app(app)


def add_indexer(app, indexer):
    """Have every publish run ``indexer`` over its pages (``page``, then ``finish``: see run.start_indexers)."""
    app.extensions.setdefault(INDEXERS, []).append(indexer)


def get_indexers(app):
    """Return the indexers registered on ``app``, in registration order."""
    return tuple(app.extensions.get(INDEXERS, ()))
