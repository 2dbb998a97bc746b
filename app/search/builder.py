"""The host index's builder: a process of its own, spawned by the worker that took the host's build lock.

    python -m app.search.builder    (a JSON job on stdin, the lock's descriptor inherited)

Why a process: a build in a thread of a worker held that worker's GIL (under gevent, a search on it
waited 6.5 s while a million sections were indexed) and left the build's memory in it (+58 MiB: the
allocator keeps what was freed). A process runs on a core of its own and gives every byte back when
it exits; the workers only read the file it swaps in (docs/search.md, "One index per host").

The worker (``ProcessBuilder.start``) never waits on it: a thread of the worker (a greenlet under
gevent) starts the builder, hands it the lock's open file (``pass_fds``) and closes its own
descriptor, so the ``flock`` is the builder's alone for the whole build and is freed when it exits,
however it exits; the thread then writes the job, waits for the exit and reaps it. A builder is
bounded by ``DOCS_SEARCH_BUILD_TIMEOUT``: its own ``alarm`` ends it, and the worker kills it
``KILL_GRACE_SECONDS`` later should that fail; it also dies with the worker that started it
(``PR_SET_PDEATHSIG``). A builder that crashed or was stopped is logged, its ``.building`` file
removed, and the build tried again ``service.RETRY_SECONDS`` later, the old index answering meanwhile.

The job: ``directory``, ``sources`` (``[project, version, key, stamp]`` each), ``catalog`` (the
catalog's id), ``lock_fd``, ``parent`` (the worker's pid), ``timeout``, ``s3`` (the app's S3 client
settings, ``app.s3.SETTINGS``: credentials come from the environment, as for the app) and
``log_format``. The builder prints ``{"built": true|false}`` (false: the index already held the
sources) and exits 0, or exits 1 after logging why it failed.
"""

import json
import logging
import math
import contextlib
import os
import signal
import subprocess
import sys
import threading

# Named, not __name__: run with -m, this module is __main__.
log = logging.getLogger("app.search.builder")

# How long past DOCS_SEARCH_BUILD_TIMEOUT the worker waits for the builder's own alarm before killing it.
KILL_GRACE_SECONDS = 10.0
# The folder that holds the ``app`` package and ``config.py``: the builder's working directory.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMAND = (sys.executable, "-m", "app.search.builder")
PR_SET_PDEATHSIG = 1  # from linux/prctl.h


def builder_settings(config):
    """Return the part of a builder's job that comes from the app's ``config``: its S3 client's settings, its logs."""
    from .. import s3

    return {"s3": {setting.name: config[setting.name] for setting in s3.SETTINGS},
            "log_format": config["DOCS_LOG_FORMAT"]}


class ProcessBuilder:
    """Start host builds as processes of their own (``python -m app.search.builder``), and reap them.

    ``settings`` is ``builder_settings(config)``; ``command`` runs something else in place of the
    builder (the tests' builders that hang or crash).
    """

    def __init__(self, directory, settings, timeout, command=COMMAND):
        self.directory = directory
        self.settings = settings
        self.timeout = timeout
        self.command = list(command)

    def start(self, lock, sources, catalog_id, finished):
        """Start a builder for ``sources`` holding the lock file ``lock``; return at once, call ``finished(built)`` later."""
        job = {
            **self.settings, "directory": self.directory, "catalog": catalog_id, "lock_fd": lock,
            "parent": os.getpid(), "timeout": self.timeout,
            "sources": [[source.project, source.version, source.key, source.stamp] for source in sources],
        }
        # A thread (a greenlet under gevent) per build: it starts the process, so that the process dies
        # with it (PR_SET_PDEATHSIG follows the thread that forked), and waits for it off any request.
        threading.Thread(target=self._run, args=(lock, job, finished), name="search-builder", daemon=True).start()

    def _run(self, lock, job, finished):
        built = False
        try:
            try:
                process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           pass_fds=(lock,), cwd=ROOT)
            finally:
                os.close(lock)  # the builder's copy holds the lock from here on, or none does
            built = self._wait(process, json.dumps(job).encode())
        except Exception:  # noqa: BLE001 - whatever happens, the worker must hear the build is over
            log.exception("search: could not run the index builder")
        finally:
            finished(built)

    def _wait(self, process, job):
        """Send ``job``, wait for the builder to exit (killing it past the timeout) and return its outcome."""
        try:
            output, _ = process.communicate(job, timeout=self.timeout + KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            self._failed(process, f"ran past DOCS_SEARCH_BUILD_TIMEOUT ({self.timeout:g} s) and was killed")
            return False
        if process.returncode == 0:
            try:
                return json.loads(output)["built"] or None
            except (ValueError, KeyError, TypeError):
                self._failed(process, f"answered {output[:200]!r}")
                return False
        if process.returncode == -signal.SIGALRM:
            reason = f"ran past DOCS_SEARCH_BUILD_TIMEOUT ({self.timeout:g} s) and stopped"
        elif process.returncode < 0:
            reason = f"was killed by {signal.Signals(-process.returncode).name}"
        else:
            reason = f"exited with status {process.returncode}"
        self._failed(process, reason)
        return False

    def _failed(self, process, reason):
        from .service import INDEX_FILE, RETRY_SECONDS

        log.error("search: the index builder (pid %d) %s; the previous index keeps answering, another build in %g s",
                  process.pid, reason, RETRY_SECONDS)
        leftover = os.path.join(self.directory, f"{INDEX_FILE}.{process.pid}.building")
        # Its name is its pid's: never another builder's file (which may have removed it already).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)


def die_with_parent(parent):
    """Have the kernel kill this process when the thread that started it ends; exit if it has already."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the alarm still bounds the build
    if os.getppid() != parent:
        sys.exit("search: the worker that started this builder is gone")


def run(job):
    """Build the host's index as ``job`` says, holding the lock on ``job['lock_fd']``; return whether a file was swapped in."""
    import fcntl

    from ..s3 import create_client
    from .engine import Source
    from .service import build_host_index, s3_loader

    # The lock's open file came from the worker: taking it again on the same open file cannot block,
    # and fails loudly if the descriptor is not the lock.
    fcntl.flock(job["lock_fd"], fcntl.LOCK_EX | fcntl.LOCK_NB)
    client = create_client(job["s3"])
    sources = tuple(Source(*source) for source in job["sources"])
    return build_host_index(job["directory"], sources, job["catalog"], s3_loader(client, job["s3"]["S3_BUCKET"]))


def main():
    """Read the job on stdin, build, print the outcome; exit 1 if the build failed."""
    job = json.load(sys.stdin)
    die_with_parent(job["parent"])
    # SIGALRM's default action ends the process: the bound holds whatever the build is stuck in.
    signal.alarm(max(1, math.ceil(job["timeout"])))
    from ..ops.logging import install_handler

    install_handler(job["log_format"])
    logging.getLogger("app").setLevel(logging.INFO)
    try:
        built = run(job)
    except Exception:  # noqa: BLE001 - logged where the worker's logs go; the worker retries later
        log.exception("search: building the host index failed")
        return 1
    json.dump({"built": bool(built)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
