"""CPU-heavy work off the event loop: on gevent's pool of native threads under the gevent engine, in place otherwise.

Under gevent every connection of a worker shares one thread: a 60 ms brotli pass over a 1 MiB
page, or a bcrypt check, would hold every other reader for that long. On a native
thread the loop keeps serving while the work runs: fully where the work releases the GIL (zlib,
brotli, zstd, SQLite, bcrypt), every 5 ms (the interpreter's switch interval) where it does not.
"""

import sys

# Below this many bytes compressing takes well under a millisecond: cheaper than the hand-off (~0.1 ms).
MIN_BYTES = 64 * 1024


def is_cooperative():
    """Tell whether this process runs gevent's patched standard library (the gevent engine's workers)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def run(function, *args):
    """Return ``function(*args)``, computed on a native thread when greenlets share this one.

    ``function`` must not need the request's context (Flask's ``g``, ``current_app``) or wait on a
    greenlet's lock: it runs on another thread.
    """
    if not is_cooperative():
        return function(*args)
    from gevent import get_hub

    return get_hub().threadpool.apply(function, args)
