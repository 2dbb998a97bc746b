"""Operations' settings: logs, metrics, readiness (config.py describes a ``Setting``).

gunicorn's own settings are in ``app/ops/server.py`` (``GUNICORN_SETTINGS``), beside its hooks.
"""

from config import Setting, boolean, choice, networks, number

LOG_FORMATS = ("text", "json")

SETTINGS = (
    # text by default: someone starting it by hand reads a terminal; deploy/ sets json for log pipelines.
    Setting("DOCS_LOG_FORMAT", "text", choice(*LOG_FORMATS),
            "`text` (for a terminal) or `json` (one object per line, for a log pipeline; `deploy/` sets it)", "json"),
    Setting("DOCS_METRICS", True, boolean, "serve Prometheus metrics at `/_/metrics` (`on`/`off`)", "off"),
    Setting("DOCS_METRICS_ALLOW", (), networks,
            "comma-separated networks allowed to read `/_/metrics`; unset: everyone who can reach the port",
            "10.0.0.0/8, ::1"),
    # Probes from many load balancers cost S3 one call per worker per this many seconds.
    Setting("DOCS_READY_CACHE_SECONDS", 5.0, number(float, 0, 3600), "seconds a worker reuses its `/_/ready` answer", "1"),
    # Below a Kubernetes probe's default 1 s timeout plus margin.
    Setting("DOCS_READY_TIMEOUT", 2.0, number(float, 0.1, 60), "seconds the readiness call to S3 may take", "0.5"),
)
