"""Publishing: ``flask docs publish`` puts a built docs folder into the bucket.

Other packages extend a publish in two ways, both registered in their ``init_app`` (which runs before
this package's): ``add_indexer`` (search: read every page as it is uploaded) and ``add_step`` (the
portal: options of its own, a target folder, and a step once every file is published).
"""

INDEXERS = "publishing.indexers"
STEPS = "publishing.steps"


def init_app(app):
    """Add ``flask docs publish`` to the ``flask docs`` group, with the options of the registered steps."""
    from . import cli

    cli.init_app(app)


def add_indexer(app, indexer):
    """Have every publish run ``indexer`` over its pages (``page``, then ``finish``: see run.start_indexers)."""
    app.extensions.setdefault(INDEXERS, []).append(indexer)


def get_indexers(app):
    """Return the indexers registered on ``app``, in registration order."""
    return tuple(app.extensions.get(INDEXERS, ()))


def add_step(app, step):
    """Have every ``flask docs publish`` run ``step`` (see ``cli.PublishStep``): its options are added to the
    command, ``step.target(values, prefix)`` may choose the folder before any upload, and
    ``step.finish(values, report)`` runs after every file was published (never on a dry run)."""
    app.extensions.setdefault(STEPS, []).append(step)


def get_steps(app):
    """Return the publish steps registered on ``app``, in registration order."""
    return tuple(app.extensions.get(STEPS, ()))
