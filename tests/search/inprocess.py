"""A host-index builder for apps whose S3 is moto's in-process mock: a thread of the test's own process.

A builder process (app/search/builder.py) cannot reach a mock that lives in the test's memory, and
starting one per test would cost a second of Python each. This one runs ``build_host_index``, the
builder process's own build, in a thread, with the app's client (wrapped as the app wraps it). The
builder process itself is tested over moto's server (tests/search/test_builder.py) and under gunicorn
(tests/search/test_http.py, test_follow.py).
"""

import fcntl
import logging
import os
import threading

from app.search.service import build_host_index, s3_loader

log = logging.getLogger(__name__)


class ThreadBuilder:
    """Build in a thread of this process with ``load(source)``; the ``HostIndex`` builder protocol."""

    def __init__(self, directory, load):
        self.directory = directory
        self.load = load

    def start(self, lock, sources, catalog_id, finished):
        """Build ``sources`` in a new thread holding ``lock``; call ``finished(built)`` at the end."""
        threading.Thread(target=self._run, args=(lock, sources, catalog_id, finished), daemon=True).start()

    def _run(self, lock, sources, catalog_id, finished):
        built = False
        try:
            built = build_host_index(self.directory, sources, catalog_id, self.load)
        except Exception:  # noqa: BLE001 - as the builder process: logged, retried later
            log.exception("search: building the host index failed")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)
            finished(built)


def app_builder(app, directory):
    """Return a ``ThreadBuilder`` loading with ``app``'s S3 client, looked up at each load (a later package may wrap it)."""
    return ThreadBuilder(directory, lambda source: s3_loader(app.extensions["s3"], app.config["S3_BUCKET"])(source))
