"""Extension points of the /docs request path, filled in by other packages' ``init_app``.

The path reads top to bottom (docs/architecture.md): route -> path checks -> gates -> responders ->
fetch (S3, wrapped by the cache) -> on a missing key, fallbacks -> response. Each list runs in the
order packages registered, which is the order ``create_app`` initialises them; ``request_path(app)``
lists the whole chain (``flask docs hooks`` prints it).

A rewrite (``set_rewrite``) may change a page's body on the way out (the hub's tag block): it is
decided once per request from the path and key, before any S3 call, and every fetch honours it
(``page_rewrite``): the plain S3 fetch streams it, the cache stores and compresses its result.
"""

from flask import current_app, g

HOOKS = "docs.hooks"


def init_app(app):
    """Give ``app`` empty hook lists and the plain S3 fetch; packages add to them afterwards."""
    from .views import fetch_object

    app.extensions[HOOKS] = {
        "gates": [], "responders": [], "fallbacks": [], "claims": [],
        "fetch": fetch_object, "fetch_layers": [fetch_object], "rewrite": None,
    }


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


def wrap_fetch(app, wrapper):
    """Put ``wrapper`` around the fetch: ``wrapper(inner)`` returns the new ``fetch(key, params=None) -> Response``,
    which calls ``inner`` (the fetch it wraps, handed over here) for what it does not answer itself."""
    hooks = _hooks(app)
    hooks["fetch"] = wrapper(hooks["fetch"])
    hooks["fetch_layers"].insert(0, wrapper)


def set_fetch(app, fetch):
    """Replace the whole fetch (``fetch(key, params=None) -> Response``); ``wrap_fetch`` keeps what it wraps."""
    hooks = _hooks(app)
    hooks["fetch"] = fetch
    hooks["fetch_layers"][:] = [fetch]


def claim_folders(app, claims):
    """Declare that ``claims(path) -> bool`` folders belong to a later fallback, so earlier ones pass them on
    (the listings claim their folders from the portal, which runs first)."""
    _hooks(app)["claims"].append(claims)


def is_claimed(path):
    """Tell whether a registered fallback claimed the folder ``path`` (``''`` or ending in '/') for itself."""
    return any(claims(path) for claims in _hooks()["claims"])


def request_path(app):
    """Return the request path of ``app`` as ``(stage, function name)`` pairs, in the order they run."""
    hooks = _hooks(app)
    stages = [("gate", gate) for gate in hooks["gates"]]
    stages += [("responder", responder) for responder in hooks["responders"]]
    stages += [("rewrite", hooks["rewrite"])] if hooks["rewrite"] is not None else []
    stages += [("fetch", layer) for layer in hooks["fetch_layers"]]
    stages += [("fallback", fallback) for fallback in hooks["fallbacks"]]
    return [(stage, function_name(function)) for stage, function in stages]


def function_name(function):
    """Return ``module.name`` of a hook function, for listings and logs."""
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{function.__module__}.{name}"


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
    """Return the response for ``key`` through the registered fetch (its outermost wrapper first)."""
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
