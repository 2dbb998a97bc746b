"""Extension points of the /docs request path, filled in by other packages' ``init_app``.

The path reads top to bottom (docs/architecture.md): route -> path checks -> gates -> responders ->
fetch (S3, wrapped by the cache) -> on a missing key, fallbacks -> response. Each list runs in the
order packages registered, which is the order ``create_app`` initialises them; ``request_path(app)``
lists the whole chain (``flask docs hooks`` prints it).
"""

from flask import current_app

HOOKS = "docs.hooks"


def init_app(app):
    """Give ``app`` empty hook lists and the plain S3 fetch; packages add to them afterwards."""
    from .views import fetch_object

    app.extensions[HOOKS] = {
        "gates": [], "responders": [], "fallbacks": [], "claims": [],
        "fetch": fetch_object, "fetch_layers": [fetch_object],
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
    stages += [("fetch", layer) for layer in hooks["fetch_layers"]]
    stages += [("fallback", fallback) for fallback in hooks["fallbacks"]]
    return [(stage, function_name(function)) for stage, function in stages]


def function_name(function):
    """Return ``module.name`` of a hook function, for listings and logs."""
    name = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{function.__module__}.{name}"


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
