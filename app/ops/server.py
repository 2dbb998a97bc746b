"""What gunicorn.conf.py's hooks call for operations: the metrics directory, dead workers, draining, the start-up check.

Kept here, in small functions, so gunicorn.conf.py only names them. Nothing here imports
``prometheus_client`` before ``prepare_metrics_dir`` has set its directory.
"""

import errno
import os
import shutil
import signal
import socket
import tempfile

from config import ConfigError, Setting, bind, choice, number

# gunicorn.conf.py's engines (issue 20): gevent, the default, or the threaded worker of before.
ENGINES = ("gevent", "gthread")

# gunicorn's own settings: gunicorn.conf.py reads them (``gunicorn_setting``), on_starting checks them
# (``check_gunicorn``) before any worker starts. They never reach app.config.
GUNICORN_SETTINGS = (
    Setting("DOCS_BIND", "127.0.0.1:8000", bind, "address gunicorn listens on (`gunicorn.conf.py`)", "0.0.0.0:8080"),
    Setting("WEB_CONCURRENCY", None, number(int, 1, 1024), "gunicorn worker processes; unset: the number of CPUs", "3"),
    # issue 20: gevent holds 1,000 slow downloads with pages still answered; gthread is the engine of before.
    Setting("GUNICORN_WORKER_CLASS", "gevent", choice(*ENGINES),
            "serving engine: `gevent` (a greenlet per connection) or `gthread` (a thread per connection, "
            "the engine before issue 20)", "gthread"),
    Setting("GUNICORN_WORKER_CONNECTIONS", 1000, number(int, 1, 100_000),
            "open connections per worker (gevent); the next one is answered 503 with `Retry-After: 1`; "
            "the server holds `WEB_CONCURRENCY` x this", "2000"),
    # 16: in bench/, 32 threads per worker lost 10-25% of small-page throughput to GIL contention,
    # and 2 workers x 16 threads still stream 32 downloads at once on 2 cores.
    Setting("GUNICORN_THREADS", 16, number(int, 1, 1024),
            "threads per worker, `gthread` only (one per concurrent download)", "32"),
    Setting("GUNICORN_GRACEFUL_TIMEOUT", 60, number(int, 0, 86400),
            "seconds in-flight downloads get to finish after SIGTERM", "30"),
)


def check_gunicorn(environ):
    """Raise ``ConfigError`` naming the first of gunicorn's variables in ``environ`` that is bad."""
    for setting in GUNICORN_SETTINGS:
        raw = environ.get(setting.name)
        if raw is not None and raw.strip() != "":
            setting.parse(setting.name, raw.strip())


def gunicorn_setting(name, environ=os.environ):
    """Return gunicorn's setting ``name`` from ``environ``, or its default when unset or bad (on_starting reports bad ones)."""
    setting = next(setting for setting in GUNICORN_SETTINGS if setting.name == name)
    raw = (environ.get(name) or "").strip()
    try:
        return setting.parse(name, raw) if raw else setting.default
    except ConfigError:
        return setting.default


def bind_problem(address, name="DOCS_BIND"):
    """Return why nothing could listen on ``address`` (HOST:PORT) right now, or ``None``.

    gunicorn's workers bind with SO_REUSEPORT, which lets a second instance share a port that one
    already serves, the two then answering in turn; a probe without it fails where the address is taken.
    """
    if address.startswith(("unix:", "fd://")):
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, ValueError) as error:
        return f"{name}={address!r} is not an address of this machine ({getattr(error, 'strerror', error)})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn: TIME_WAIT is no conflict
        try:
            probe.bind(sockaddr)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (f"{name}={address!r} is already in use by another process (another docs-proxy, "
                        "or make run still running?); stop it or choose another address")
            return f"{name}={address!r} cannot be listened on ({error.strerror})"
    return None


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
    from . import health
    from .logging import print_warning
    from ..settings import read_settings
    from ..s3 import create_client

    settings = read_settings(environ)
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
