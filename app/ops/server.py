"""What gunicorn.conf.py's hooks call for operations: the metrics directory, dead workers, draining, the start-up check.

Kept here, in small functions, so gunicorn.conf.py only names them. Nothing here imports
``prometheus_client`` before ``prepare_metrics_dir`` has set its directory.
"""

import os
import shutil
import signal
import tempfile

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Set by prepare_metrics_dir when it made the directory itself (so on_exit may remove it).
OWNED_DIR = "DOCS_PROXY_OWNED_METRICS_DIR"


def prepare_metrics_dir(environ=os.environ):
    """Create an empty directory for the workers' metric files and point prometheus_client at it.

    The operator's ``PROMETHEUS_MULTIPROC_DIR`` is used when set (emptied: files from a previous
    run would be summed in); otherwise a fresh temporary directory, removed again at exit.
    """
    path = environ.get(MULTIPROC_DIR)
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.unlink(os.path.join(path, name))
    else:
        path = tempfile.mkdtemp(prefix="docs-proxy-metrics-")
        environ[MULTIPROC_DIR] = path
        environ[OWNED_DIR] = path
    return path


def remove_metrics_dir(environ=os.environ):
    """Remove the metrics directory if ``prepare_metrics_dir`` created it."""
    path = environ.get(OWNED_DIR)
    if path:
        shutil.rmtree(path, ignore_errors=True)


def mark_worker_dead(pid, environ=os.environ):
    """Tell prometheus_client a worker is gone: its live gauges (downloads in flight) stop counting."""
    if environ.get(MULTIPROC_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def watch_for_drain(worker):
    """Make the worker's app answer /_/ready with 503 from the moment gunicorn asks it to stop (SIGTERM)."""
    from . import health

    original = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        health.mark_draining(worker.wsgi)
        if callable(original):
            original(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn set it: no EINTR in request threads


def check_s3_at_startup(environ=os.environ):
    """Make the readiness call once, before workers start; warn naming the cause when S3 is not usable."""
    import config

    from . import health
    from .logging import print_warning
    from ..s3 import create_client

    settings = dict(config.DEFAULTS)
    settings.update(config.from_environ(environ))
    settings = health.probe_config(settings)
    try:
        reason = health.check_s3(create_client(settings), settings)
    except Exception as error:  # a start-up check never stops the server; the probe will report it
        reason = f"unreachable: {type(error).__name__}: {error}"
    if reason:
        print_warning(
            f"S3 is not usable for bucket {settings['S3_BUCKET']!r}: {reason}; the server starts anyway, "
            "every page answers 502 and /_/ready 503 until this is fixed"
        )
    return reason
