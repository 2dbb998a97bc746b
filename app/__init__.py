"""docs-proxy: serve documentation sites from an S3 bucket.

Importing this package is cheap: Flask and the packages are imported by ``create_app``, so a process
that only extracts pages for search (``app.search.entries``) loads lxml, not a web app.
"""

import os

import config

from . import settings


def load_config(app, test_config=None):
    """Fill ``app.config`` from the packages' tables: defaults, then the environment (or ``test_config``), then checks.

    Each package's cross-field check runs here, once; what it returns waits in ``app.extensions``
    for the package's ``init_app`` (``settings.checked``).
    """
    app.config.update(settings.read_settings(os.environ, test_config))
    app.extensions[settings.CHECKED] = settings.run_checks(app.config)


def config_problem(environ, threads=None):
    """Return why the configuration in ``environ`` cannot serve ``threads`` threads, or ``None``.

    ``threads`` defaults to what ``GUNICORN_THREADS`` in ``environ`` asks gunicorn for; it matters
    only for the gthread engine.
    """
    from .ops.server import check_gunicorn, gunicorn_setting

    try:
        check_gunicorn(environ)
        values = settings.read_settings(environ)
        settings.run_checks(values)
    except config.ConfigError as error:
        return str(error)
    if gunicorn_setting("GUNICORN_WORKER_CLASS", environ) != "gthread":
        # gevent: a download beyond the pool opens its own S3 connection; the pool keeps the most recent ones.
        return None
    if threads is None:
        threads = gunicorn_setting("GUNICORN_THREADS", environ)
    if values["S3_MAX_POOL_CONNECTIONS"] < threads:
        return (
            f"S3_MAX_POOL_CONNECTIONS={values['S3_MAX_POOL_CONNECTIONS']} is below gunicorn's {threads} threads "
            "per worker; use a value >= the thread count so no request waits for an S3 connection"
        )
    return None


CONFIG_ERROR = "docs.config_error"


def create_app(test_config=None, defer_config_error=False):
    """Create the docs-proxy app: config, S3 client, error handlers, blueprints, CLI.

    With ``defer_config_error`` (the ``flask`` command line), a bad configuration does not stop the
    app from being built on the defaults, so ``--help`` works; ``require_configuration`` raises it
    when a command runs.
    """
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    app = Flask(__name__)
    try:
        load_config(app, test_config)
    except config.ConfigError as error:
        if not defer_config_error:
            raise
        app.config.update(settings.default_settings())
        app.extensions[settings.CHECKED] = settings.run_checks(app.config, lenient=True)
        app.extensions[CONFIG_ERROR] = error

    from . import access, cache, cli, errors, hosts, hub, ops, portal, publishing, s3, search, serving, upload, website

    s3.init_app(app)
    errors.init_app(app)
    cli.init_app(app)
    # Order matters: serving creates the request-path hooks that later packages register into
    # (docs/architecture.md), and each hook list runs in registration order; hosts sends a request
    # on the wrong host away before access control looks at it.
    for package in (ops, hosts, serving, access, cache, portal, hub, search, website, publishing, upload):
        package.init_app(app)

    trusted = app.config["DOCS_TRUSTED_PROXIES"]
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_prefix=trusted)
    return app


def require_configuration(app):
    """Raise the configuration error that ``create_app`` deferred, if any (commands call this first)."""
    error = app.extensions.get(CONFIG_ERROR)
    if error is not None:
        raise error
