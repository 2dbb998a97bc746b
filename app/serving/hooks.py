"""Extension points of the /docs request path, filled in by other packages' ``init_app``.

The path reads top to bottom (docs/architecture.md): route -> path checks -> gates -> responders ->
fetch (S3, or the cache in front of it) -> on a missing key, fallbacks -> response. Each list runs in
the order packages registered, which is the order ``create_app`` initialises them.

A rewrite (``set_rewrite``) may change a page's body on the way out (the hub's tag block): it is
decided once per request from the path and key, before any S3 call, and every fetch honours it
(``page_rewrite``): the plain S3 fetch streams it, the cache stores and compresses its result.
"""

from flask import current_app, g

HOOKS = "docs.hooks"


def init_app(app):
    """Give ``app`` empty hook lists and the plain S3 fetch; packages add to them afterwards."""
    from .views import fetch_object

    app.extensions[HOOKS] = {"gates": [], "responders": [], "fallbacks": [], "fetch": fetch_object,
                              "rewrite": None}


def _hooks(app=None):
    return (app or current_app).extensions[HOOKS]


def add_gate(app, gate):
    """Run ``gate(path)`` before any S3 call for a document path; it raises to refuse the request."""
    _hooks(app)["gates"].append(gate)


def add_responder(app, responder):
    """Let ``responder(path, key)`` answer a document request before the fetch (``None`` passes it on)."""
    _hooks(app)["responders"].append(responder)


def add_fallback(app, fallback):
    """Let ``fallback(path, error)`` answer when the key is missing (``None`` passes it on)."""
    _hooks(app)["fallbacks"].append(fallback)


def set_fetch(app, fetch):
    """Replace how a key becomes a response (``fetch(key) -> Response``), e.g. by a cache in front of S3."""
    _hooks(app)["fetch"] = fetch


def set_rewrite(app, rewrite):
    """Let ``rewrite(path, key)`` return a ``Rewrite`` for a page (``None`` leaves it as S3 has it).

    A ``Rewrite`` (app/hub/inject.py) has ``suffix`` (what it adds to the object's ETag),
    ``applies(status, headers)``, ``etag(value)``, ``length(size)``, ``body(data)`` and
    ``stream(chunks)``; it must need no S3 call to decide.
    """
    _hooks(app)["rewrite"] = rewrite


def page_rewrite():
    """Return the current document request's ``Rewrite``, decided once per request, or ``None``."""
    if "doc_rewrite" not in g:
        rewrite = _hooks()["rewrite"]
        path, key = g.get("doc_path"), g.get("s3_key")
        g.doc_rewrite = rewrite(path, key) if rewrite is not None and path is not None and key is not None else None
    return g.doc_rewrite


def run_gates(path):
    """Run every gate for ``path``; the first to refuse raises."""
    for gate in _hooks()["gates"]:
        gate(path)


def first_answer(functions, *args):
    """Return the first non-``None`` answer of ``functions`` called with ``args``, else ``None``."""
    for function in functions:
        response = function(*args)
        if response is not None:
            return response
    return None


def responders():
    """Return the registered responders."""
    return _hooks()["responders"]


def fallbacks():
    """Return the registered fallbacks."""
    return _hooks()["fallbacks"]


def fetch(key):
    """Return the response for ``key`` through the registered fetch."""
    return _hooks()["fetch"](key)


def spend_s3_call():
    """Take one S3 call from the request's budget for lookups of missing keys; ``False`` once it is spent.

    Fallbacks that probe S3 for what a missing key might mean (an index document, a folder's
    contents, an error document up the path) call this first: however many levels a path has, one
    request costs at most ``DOCS_FALLBACK_S3_CALLS`` such calls.
    """
    left = g.get("fallback_s3_calls", current_app.config["DOCS_FALLBACK_S3_CALLS"])
    if left <= 0:
        return False
    g.fallback_s3_calls = left - 1
    return True
