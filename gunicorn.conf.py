"""gunicorn settings for docs-proxy: ``gunicorn wsgi:app`` from the repository root picks these up.

Every setting can be overridden on the command line or with GUNICORN_CMD_ARGS; the few below that
operators tune most also read an environment variable.
"""

import os
import sys

# The serving engine (docs/architecture.md, "Serving engine"): gevent, a greenlet per connection, unless
# GUNICORN_WORKER_CLASS=gthread asks for the threaded worker of before. gevent must patch the standard
# library before anything imports urllib3 or botocore (they keep references to ssl's classes), and
# this file runs in the master before on_starting imports the app: so here, first.
# Only where gunicorn itself reads this file (`gunicorn ...` or `python -m gunicorn ...`): a test or a
# tool that reads it must not have its own threads turned into greenlets.
ENGINE = os.environ.get("GUNICORN_WORKER_CLASS", "").strip() or "gevent"
PATCHES = ENGINE == "gevent" and "gunicorn" in (
    os.path.basename(sys.argv[0]), os.path.basename(os.path.dirname(sys.argv[0]))
)
if PATCHES:
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import signal  # noqa: E402

# The variables below are declared in app/ops/server.py (GUNICORN_SETTINGS) with their defaults;
# a bad value falls back to the default only until on_starting stops gunicorn with a message naming it.
from app.ops.server import gunicorn_setting  # noqa: E402

bind = gunicorn_setting("DOCS_BIND")


# gevent: a slow download holds a greenlet (a few KiB) and one chunk, so 1,000 of them leave pages fast
# (bench/slow_bench.py). gthread (the engine before issue 20): a slow download holds a thread.
# An unknown name stops gunicorn in on_starting with a message.
worker_class = {"gevent": "app.ops.worker.DocsWorker", "gthread": "gthread"}.get(ENGINE, "gthread")
workers = gunicorn_setting("WEB_CONCURRENCY") or os.cpu_count() or 2
# gthread only (gevent ignores it).
threads = gunicorn_setting("GUNICORN_THREADS")
# gevent: open connections per worker (downloads, pages, idle kept-alive ones); one more is answered
# 503 with Retry-After at once. The server's capacity is WEB_CONCURRENCY x this.
# gthread: connections accepted beyond its busy threads wait in that worker's queue.
worker_connections = gunicorn_setting("GUNICORN_WORKER_CONNECTIONS")

# Both engines' main loops heartbeat independently of the downloads, so long downloads do not trip
# this; it only catches a worker that is stuck as a whole (under gevent: a loop blocked 60 s).
timeout = 60
# SIGTERM: stop accepting, let in-flight downloads finish for this long, then stop.
graceful_timeout = gunicorn_setting("GUNICORN_GRACEFUL_TIMEOUT")
# Also, under gevent, how long a client may take to send a request head, and how long an idle
# connection stays open: slow-header and idle connections are closed after 5 s.
keepalive = 5

# Each worker gets its own listening socket (SO_REUSEPORT), so the kernel spreads new connections
# across workers instead of the first worker to wake taking them all.
reuse_port = True

# The app builds its S3 client in create_app(); without preloading, that happens after the fork.
preload_app = False

# gunicorn 27's control socket is one fixed path per user: a second instance on the same machine
# (a test run, a bench) would unlink the first one's. docs-proxy does not use it.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = "info"
# user=: the reader access control identified (the app puts it in the WSGI environ), or "-".
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)sus pid=%(p)s user=%({docs_proxy.user}e)s request_id=%({docs_proxy.request_id}e)s client_request_id=%({docs_proxy.client_request_id}e)s'
# DOCS_LOG_FORMAT=json: error and access logs as one JSON object per line (app/ops/logging.py).
logger_class = "app.ops.logging.GunicornLogger"

# Limits on what a client may send: a docs path never needs more.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Drop headers with '_' in their names (gunicorn's default, pinned here): X_Forwarded_User would
# otherwise reach the app as X-Forwarded-User, an identity header no auth proxy vetted.
header_map = "drop"


def pre_request(worker, req):
    """Name the headers this request repeats, before gunicorn joins their values with ',' ("carol,bob")."""
    from app.access.sources import mark_repeated_headers

    worker.log.debug("%s %s", req.method, req.path)
    mark_repeated_headers(req)


def on_starting(server):
    """Check the configuration and the address once, before any worker starts; stop with one line if bad.

    Checked here, a bad address stops gunicorn: in a worker it would exit and be replaced forever.
    """
    from app import config_problem
    from app.ops.server import bind_problem

    problem = config_problem(os.environ, threads)
    if problem is None and server.cfg.header_map == "dangerous" and "header" in os.environ.get("DOCS_AUTH", "").lower():
        problem = (
            "DOCS_AUTH includes header but gunicorn's header_map is 'dangerous': X_Forwarded_User would pass "
            "as X-Forwarded-User; use header_map = drop (the default here) or refuse"
        )
    for address in server.cfg.bind:
        problem = problem or bind_problem(address, "DOCS_BIND" if address == bind else "bind")
    if problem:
        print(f"docs-proxy: configuration error: {problem}", file=sys.stderr)
        sys.exit(1)
    from app.ops import server as ops

    ops.prepare_metrics_dir()
    ops.check_s3_at_startup()
    from app import hosts

    hosts.warn_at_startup(os.environ)


def child_exit(server, worker):
    """Stop counting a dead worker's live gauges in /_/metrics."""
    from app.ops import server as ops

    ops.mark_worker_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory gunicorn made at start."""
    from app.ops import server as ops

    ops.remove_metrics_dir()


M_ARENA_MAX = -8  # glibc's mallopt() parameter number, from malloc.h


def post_fork(server, worker):
    """Cap glibc's malloc arenas in each worker before its threads start, unless MALLOC_ARENA_MAX is set.

    glibc gives threads their own arenas (up to 8 per core) and keeps freed chunks in them, so
    with many threads each streaming 1 MiB chunks a worker's RSS grew ~50 MB under the load test
    and stayed there; with two arenas it grew ~10 MB. Python threads take turns on the GIL anyway.
    """
    raise_open_files_limit(4 * worker_connections + 256)
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to tune


def raise_open_files_limit(wanted):
    """Raise this process's soft limit on open files towards ``wanted`` (never above the hard limit).

    Under gevent each connection is a client socket and, while it downloads, an S3 socket: 1,000
    connections need ~2,000 descriptors, past the 1,024 that systemd and many shells give by default.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def quit_without_deadlock(worker):
    """Make a worker's quick stop (SIGQUIT, sent by the master on Ctrl-C) safe, and leave SIGINT to the master.

    gthread's SIGQUIT handler calls ``ThreadPoolExecutor.shutdown``, which takes the lock that
    ``submit`` holds: when the signal lands while the main loop is handing a connection to the pool
    (a client just closed a kept-alive connection, say), the handler waits on its own thread forever,
    until the master's SIGKILL after the graceful timeout ("Worker was sent SIGKILL! Perhaps out of
    memory?": 1 in 8 stops of ``make run`` took 60 s). Raising SystemExit takes no lock: the ``with``
    blocks release theirs and the interpreter's exit shuts the pool down. A terminal's Ctrl-C also
    reaches every worker as SIGINT, and a second quit inside the first one's exit is what the master's
    single SIGQUIT per worker avoids.
    """

    def quit_now(signum, frame):
        worker.alive = False
        sys.exit(0)

    signal.signal(signal.SIGQUIT, quit_now)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def post_worker_init(worker):
    """Make a stopping worker close its listening sockets, so new connections are refused at once.

    gthread stops accepting on SIGTERM but keeps its listeners open until the graceful timeout
    ends: the kernel still completes handshakes, and those clients wait for nothing, then get reset.
    With ``reuse_port`` the master holds no listener, so once every worker has closed its own, new
    connections are refused while in-flight downloads finish.
    """
    from app.ops import server as ops

    ops.watch_for_drain(worker)  # /_/ready answers 503 from SIGTERM on
    # The app's logger otherwise inherits the root logger's WARNING and drops its INFO lines
    # (a missing page, for one); it follows gunicorn's --log-level instead.
    logging.getLogger("app").setLevel(worker.log.error_log.level)
    if ENGINE != "gevent":
        quit_without_deadlock(worker)
        # gevent's worker handles SIGQUIT in a greenlet (no lock to deadlock on) and closes its
        # listeners itself when it stops accepting; only SIGINT is left to the master, below.
    else:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_accept_enabled = getattr(worker, "set_accept_enabled", None)
    if set_accept_enabled is None:
        return

    def set_accept(enabled):
        set_accept_enabled(enabled)
        if not enabled and not worker.alive:
            # Called from the worker's own loop once it leaves serving mode, never from the handler.
            for listener in worker.sockets:
                listener.close()

    worker.set_accept_enabled = set_accept
