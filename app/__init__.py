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


def config_problem(environ, threads=1):
    """Return why the configuration in ``environ`` cannot serve ``threads`` threads, or ``None``."""
    settings = dict(config.DEFAULTS)
    try:
        settings.update(config.from_environ(environ))
        config.validate(settings)
    except config.ConfigError as error:
        return str(error)
    if settings["S3_MAX_POOL_CONNECTIONS"] < threads:
        return (
            f"S3_MAX_POOL_CONNECTIONS={settings['S3_MAX_POOL_CONNECTIONS']} is below gunicorn's {threads} threads "
            "per worker; use a value >= the thread count so no request waits for an S3 connection"
        )
    return None


def create_app(test_config=None):
    """Create the docs-proxy app: config, S3 client, error handlers, blueprints, CLI."""
    app = Flask(__name__)
    load_config(app, test_config)

    from . import access, errors, portal, publishing, s3, search, serving

    s3.init_app(app)
    errors.init_app(app)
    # Order matters: serving creates the request-path hooks that later packages register into
    # (docs/architecture.md), and each hook list runs in registration order.
    for package in (serving, access, portal, search, publishing):
        package.init_app(app)

    trusted = app.config["DOCS_TRUSTED_PROXIES"]
    if trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_prefix=trusted)
    return app
