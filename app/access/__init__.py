"""Access control: who is reading (identity sources), what they may read (rules), decided before any S3 call.

The request path (docs/architecture.md, docs/security.md):

- ``before_request``: the identity is resolved once, from the first configured source whose
  credential is present (``g.user``); a bad credential is a 401, a key URL that is down a 503.
  Portal and search pages (``/_/...``) also refuse anonymous readers here unless the default is public.
- the docs gate (``hooks.add_gate``): the rules decide on the canonical document path, before any
  S3 call (``g.access_decision``): 401 (or a redirect to the login URL), 403, or on.
- ``after_request``: every response for a reader who needed to be signed in, or filtered with
  ``may_read``, is ``Cache-Control: private``.

The ops endpoints (``OPS_PATHS``) are never behind access control: load balancers probe them.
"""

import math
from urllib.parse import quote

from flask import current_app, g, request

from ..errors import DocsError, NotFound
from ..serving import hooks
from ..settings import checked
from .rules import ALLOWED, DENIED, PUBLIC, UNAUTHENTICATED, decide
from . import settings as access_settings
from .sources import BadCredential, SourceUnavailable, TooManyFailures, identify

ACCESS = "access"
OPS_PATHS = ("/_/health", "/_/ready", "/_/metrics")
# Pages that list documents filter them with may_read, but must not be seen at all by anonymous
# readers where the default is not public (their project names would leak).
PAGE_BLUEPRINTS = ("portal", "search")
PAGE_PREFIX = "/_/"
ERROR = "error"
# The key gunicorn's access log reads (gunicorn.conf.py: %({docs_proxy.user}e)s; gunicorn lowercases it).
ENVIRON_USER = "docs_proxy.user"
NO_STORE = ("Cache-Control", "no-store")
EXEMPT_BLUEPRINTS = "access.exempt_blueprints"


class Unauthenticated(DocsError):
    """No valid credential where one is needed: 401 with the challenges, never cached."""

    status = 401


class Forbidden(DocsError):
    """Signed in, but the rules do not let this reader read the path: 403 (or 404 to hide names)."""

    status = 403


class AccessUnavailable(DocsError):
    """The credential cannot be checked now (key URL down): 503, never a 200."""

    status = 503


class Throttled(DocsError):
    """Too many failed passwords for this user or from this client: 429 with Retry-After, no bcrypt check."""

    status = 429


class LoginRedirect(DocsError):
    """A browser without credentials is sent to the login URL with a relative return address."""

    status = 302


def get_access():
    """Return the app's ``AccessControl``."""
    return current_app.extensions[ACCESS]


def may_read(path):
    """Tell whether the current request's reader may read the document ``path`` (below /docs/)."""
    access = get_access()
    if access.is_open:
        return True
    # A page filtered for this reader (a listing, search results) must not be kept by a shared cache.
    g.access_filtered = True
    return decide(access.rules, path, g.get("identity")) in (PUBLIC, ALLOWED)


def current_user():
    """Return the current reader's name, or ``None`` when nobody is signed in."""
    return g.get("user")


def is_exempt(path):
    """Tell whether ``path`` is an ops endpoint, which access control never guards."""
    return any(path == ops or path.startswith(ops + "/") for ops in OPS_PATHS)


def peer_address():
    """Return the socket's peer address, never one a client could forge in ``X-Forwarded-For``."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def exempt_blueprint(app, name):
    """Keep readers' access control off blueprint ``name``, which authenticates its own callers (the upload API)."""
    app.extensions.setdefault(EXEMPT_BLUEPRINTS, set()).add(name)


def resolve_identity():
    """Set ``g.user`` from the request's credentials, once, before any view runs."""
    g.user = None
    g.identity = None
    access = get_access()
    if access.is_open:
        return  # first: every request of a site without access control asks
    if is_exempt(request.path) or request.blueprint in current_app.extensions.get(EXEMPT_BLUEPRINTS, ()):
        return
    try:
        # Trust is decided on the socket's peer; failed passwords are counted against the client
        # (the forwarded one only when DOCS_TRUSTED_PROXIES says the proxy in front may say so).
        identity = identify(access.sources, request.headers, peer_address(), request.remote_addr)
    except TooManyFailures as error:
        g.access_decision = UNAUTHENTICATED
        retry_after = str(max(1, math.ceil(error.retry_after)))
        raise Throttled(str(error), headers=[NO_STORE, ("Retry-After", retry_after)]) from None
    except BadCredential as error:
        g.access_decision = UNAUTHENTICATED
        raise unauthenticated(access, str(error), allow_login=False) from None
    except SourceUnavailable as error:
        g.access_decision = ERROR
        raise AccessUnavailable(f"{error}; try again shortly", headers=[NO_STORE, ("Retry-After", "5")]) from None
    if identity is not None:
        g.identity = identity
        g.user = identity.user
        # Quoted: a name from a header must not be able to forge fields of the access log line.
        request.environ[ENVIRON_USER] = quote(identity.user, safe="@.+-_~!$&'()*,;=:")
    if request.blueprint in PAGE_BLUEPRINTS or request.path.startswith(PAGE_PREFIX):
        guard_page(access, identity)


def guard_page(access, identity):
    """Refuse portal and search pages to anonymous readers unless the default is public."""
    if identity is not None:
        g.access_decision = ALLOWED
    elif access.rules.default == PUBLIC:
        g.access_decision = PUBLIC
    else:
        g.access_decision = UNAUTHENTICATED
        raise unauthenticated(access, "sign in to see this page")


def require_read(path):
    """Decide whether the current reader may read ``path``, before any S3 call; raise to refuse.

    The docs gate. Code that serves another path than the one requested (an alias resolved to a
    version, a presigned download) calls it with the path it is about to serve.
    """
    access = get_access()
    if access.is_open:
        g.access_decision = PUBLIC
        return
    decision = decide(access.rules, path, g.get("identity"))
    g.access_decision = decision
    if decision == UNAUTHENTICATED:
        raise unauthenticated(access, "sign in to read this document")
    if decision == DENIED:
        # The same answer whether or not the object exists: no S3 call has been made.
        if access.rules.hide_denied:
            # The bytes a missing key gets (serving answers it as one); private, as the reader's own.
            g.access_filtered = True
            raise NotFound("there is no such document")
        raise Forbidden("you may not read this document", headers=[NO_STORE])


def unauthenticated(access, reason, allow_login=True):
    """Return the refusal for a reader without credentials: a login redirect for a browser's GET, else 401."""
    wants_page = request.method == "GET" and "text/html" in request.headers.get("Accept", "")
    if allow_login and access.login_url and wants_page:
        return LoginRedirect("sign in first", headers=[("Location", login_location(access.login_url)), NO_STORE])
    return Unauthenticated(reason, headers=[*(("WWW-Authenticate", value) for value in access.challenges), NO_STORE])


def login_location(login_url):
    """Return the login URL with the current path as a path-absolute return address (``rd``)."""
    # One leading '/', so the return address can never read as '//host' (a scheme-relative URL).
    path = "/" + (request.script_root + request.path).lstrip("/")
    return_to = quote(path, safe="/")
    if request.query_string:
        return_to += "?" + request.query_string.decode("latin-1")
    separator = "&" if "?" in login_url else "?"
    return f"{login_url}{separator}rd={quote(return_to, safe='')}"


def make_private(response):
    """Mark a response for a signed-in reader, or filtered by ``may_read``, ``Cache-Control: private``."""
    personal = g.get("access_decision") == ALLOWED or g.get("access_filtered", False)
    # A signed-in reader's 404 is private wherever it is, so a refusal hidden as one looks the same.
    personal = personal or (response.status_code == 404 and g.get("user") is not None)
    # Error pages too (the portal's 404 lists the reader's versions; an error document may come from a
    # restricted folder); a refusal already says no-store, which no cache keeps anyway.
    if not personal or "no-store" in response.headers.get("Cache-Control", ""):
        return response
    directives = [
        item.strip()
        for item in response.headers.get("Cache-Control", "").split(",")
        if item.strip() and item.strip().lower().split("=")[0] not in ("public", "private", "s-maxage", "proxy-revalidate")
    ]
    response.headers["Cache-Control"] = ", ".join(["private", *directives])
    return response


def init_app(app):
    """Build access control from the settings and put it on the request path of ``app``."""
    app.extensions[ACCESS] = checked(app, access_settings)  # built once, by create_app's checks (build_access)
    app.before_request(resolve_identity)
    app.after_request(make_private)
    hooks.add_gate(app, require_read)
