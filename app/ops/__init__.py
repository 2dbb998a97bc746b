"""Operations: health and readiness probes, Prometheus metrics, JSON logs and request ids (issue 12).

Nothing here imports ``prometheus_client`` at module level: gunicorn's master imports this package
(for its logger class and hooks) before ``gunicorn.conf.py`` has set ``PROMETHEUS_MULTIPROC_DIR``,
and prometheus_client picks single- or multi-process mode when it is first imported.
"""


def init_app(app):
    """Set up request ids, logs, metrics and the /_/health, /_/ready and /_/metrics endpoints on ``app``."""
    from . import context, health, logging, metrics, views

    logging.init_app(app)
    context.init_app(app)
    health.init_app(app)
    metrics.init_app(app)
    app.register_blueprint(views.bp)
