"""docs-proxy: serve documentation sites from an S3 bucket."""

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config


def load_config(app, test_config=None):
    """Fill ``app.config``: defaults, then the environment (or ``test_config``), then validate."""
    app.config.update(config.DEFAULTS)
    if test_config is None:
        app.config.update(config.from_environ(os.environ))
    else:
        app.config.update(test_config)
    config.validate(app.config)


def config_problem(environ, threads=None):
    """Return why the configuration in ``environ`` cannot serve ``threads`` threads, or ``None``.

    ``threads`` defaults to what ``GUNICORN_THREADS`` in ``environ`` asks gunicorn for.
    """
    settings = dict(config.DEFAULTS)
    try:
        config.check_server(environ)
        settings.update(config.from_environ(environ))
        config.validate(settings)
    except config.ConfigError as error:
        return str(error)
    if threads is None:
        threads = int(environ.get("GUNICORN_THREADS", "").strip() or config.GUNICORN_DEFAULT_THREADS)
    if settings["S3_MAX_POOL_CONNECTIONS"] < threads:
        return (
            f"S3_MAX_POOL_CONNECTIONS={settings['S3_MAX_POOL_CONNECTIONS']} is below gunicorn's {threads} threads "
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
    app = Flask(__name__)
    try:
        load_config(app, test_config)
    except config.ConfigError as error:
        if not defer_config_error:
            raise
        app.config.update(config.DEFAULTS)
        app.extensions[CONFIG_ERROR] = error

    from . import access, cache, errors, ops, portal, publishing, s3, search, serving, upload, website

    s3.init_app(app)
    errors.init_app(app)
    # Order matters: serving creates the request-path hooks that later packages register into
    # (docs/architecture.md), and each hook list runs in registration order.
    for package in (ops, serving, access, cache, portal, search, website, publishing, upload):
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
