"""One origin per project (``DOCS_PROJECT_HOSTS``): each project at its own host, the portal, search and APIs at the main host.

Browsers let a page read only its own origin (scheme, host, port). On one shared origin, a page in
any project a reader can open may ``fetch`` every other project with the reader's credentials; with
a host per project it can reach only its own project (docs/security.md).

The request path (before access control, so a request on the wrong host is sent away before any
identity or S3 call):

- a project host ``P`` serves ``/docs/P/...`` and the probes (health, ready; metrics only on the main host); ``/docs/Q/...`` is redirected to
  ``Q``'s host, ``/docs/`` and every portal, search or API page to the main host;
- every other host is the main host: the portal, search and APIs; ``/docs/P/...`` is redirected to
  ``P``'s host and ``/docs/`` to the landing page at ``/_/``: no object from the bucket is served there.

Cross-host links and redirects are scheme-relative (``//payments.docs.example.internal/docs/...``): the
host comes from the pattern, never from the request, and the scheme stays the one the reader uses.
"""

import re
from urllib.parse import quote

from flask import Response, current_app, g, request

from ..errors import DocsError
from ..serving import keys
from ..settings import checked
from . import settings as hosts_settings
from .policy import main_host, project_host, project_of, split_host

HOSTS = "hosts"
PROJECT_BLUEPRINTS = "hosts.project_blueprints"
NO_CACHE = {"Cache-Control": "no-cache"}
# A bucket-root file served on a host (the favicon) is no project's: as a sandboxed document its
# origin is opaque, so even an HTML file there could read nothing with the reader's credentials.
SANDBOX = ("Content-Security-Policy", "sandbox; default-src 'none'")


class MisdirectedHost(DocsError):
    """The host a trusted proxy forwarded is not the host the request was sent to: 400, nothing decided."""

    status = 400


def get_pattern(app=None):
    """Return the app's ``HostPattern``, or ``None`` when every project shares one origin."""
    return (app or current_app).extensions.get(HOSTS)


def serve_on_project_hosts(app, name, project_arg=None):
    """Let a blueprint's routes, or one endpoint (``blueprint.view``), answer on project hosts too.

    By default only /docs/ and the probes do. With ``project_arg``, the route answers on a
    project host only for the project it names in that view argument (or query parameter); naming
    another project, or none, it is redirected to that project's host (or the main host): a page of
    one project must not read another's.
    """
    app.extensions[PROJECT_BLUEPRINTS][name] = project_arg


def received_host():
    """Return the ``Host`` header the request arrived with, before ``ProxyFix`` applied any ``X-Forwarded-Host``.

    A page can set ``X-Forwarded-Host`` on its own ``fetch`` (it is no forbidden header), never ``Host``:
    the received ``Host`` is the origin the browser is talking to.
    """
    original = request.environ.get("werkzeug.proxy_fix.orig") or request.environ
    return original.get("HTTP_HOST", "")


def site_project():
    """Return the project whose host this request came to, or ``None`` on the main host (or without project hosts)."""
    pattern = get_pattern()
    if pattern is None:
        return None
    if "site_project" not in g:
        g.site_project = project_of(pattern, received_host())
    return g.site_project


def request_port():
    """Return the port of the received ``Host``, or ``None``."""
    parsed = split_host(received_host())
    return parsed[1] if parsed else None


def project_origin(project):
    """Return ``//host[:port]`` serving ``project`` when that is another host than this request's, else ``""``.

    A project whose name cannot be a host label is named on the main host, which refuses it with the reason.
    """
    pattern = get_pattern()
    if pattern is None or project == site_project():
        return ""
    host = project_host(pattern, project or "", request_port())
    if host is None:
        return main_origin()
    return "//" + host


def main_origin():
    """Return ``//host[:port]`` of the main host when this request came to a project host, else ``""``."""
    pattern = get_pattern()
    if pattern is None or site_project() is None:
        return ""
    return "//" + main_host(pattern, request_port())


def main_url(path, query=""):
    """Return the URL of ``path`` (a path-absolute page such as ``/_/search``) on the main host."""
    return main_origin() + request.script_root + path + (f"?{query}" if query else "")


def link_context():
    """Return what the links of a page depend on besides its path: the host and the port (for render caches)."""
    if get_pattern() is None:
        return None
    return site_project(), request_port()


def found(location):
    """Return a 302 to ``location`` that caches revalidate: the hosts follow configuration, not content."""
    return Response(status=302, headers={"Location": location, "Content-Type": "text/plain", **NO_CACHE})


def same_request_at(origin):
    """Return a 302 to this request's path and query at ``origin`` (``//host[:port]``, or ``""`` for this host)."""
    query = request.query_string.decode("latin-1")
    return found(origin + request.script_root + quote(request.path) + (f"?{query}" if query else ""))


def check_forwarded_host():
    """Refuse a request whose trusted ``X-Forwarded-Host`` names another host than its ``Host``.

    The deploy/ nginx sets both to the same ``$host``; when they differ, a proxy passed a client's
    ``X-Forwarded-Host`` through (a page could pose as another project's host) or rewrote ``Host``.
    """
    original = request.environ.get("werkzeug.proxy_fix.orig")
    if not original or original.get("HTTP_HOST") == request.environ.get("HTTP_HOST"):
        return
    received, forwarded = split_host(original.get("HTTP_HOST", "")), split_host(request.environ.get("HTTP_HOST", ""))
    if received is None or forwarded is None or received[0] != forwarded[0]:
        raise MisdirectedHost("X-Forwarded-Host names another host than Host; the proxy in front must pass the "
                              "reader's Host and set X-Forwarded-Host to the same host")


# What a forwarded prefix may be: '/' and segments of URL path characters, no empty segment, no backslash.
PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


def check_forwarded_prefix():
    """Refuse a request whose script root (a trusted proxy's ``X-Forwarded-Prefix``) is not a plain path.

    Every path-absolute link and ``Location`` starts with it: ``//evil.example`` would make them name
    another host. deploy/ and the README clear the header; a proxy that passes a client's on is caught here.
    """
    if request.script_root and not PREFIX.fullmatch(request.script_root):
        raise MisdirectedHost("X-Forwarded-Prefix must be a path such as /docs-proxy (no '//', no backslash); "
                              "the proxy in front must set or clear it, never pass a client's on")


def route_host():
    """Send a request to the host that serves it, or let it through (``before_request``, before access control)."""
    if request.blueprint == "ops":
        # Probes answer on every host; metrics only on the main host: a page on a project's host could
        # read them, and after making its reader's browser request another project's page, see which
        # access decision and S3 outcome that counted (whether the reader may read it, whether it exists).
        if request.endpoint == "ops.metrics" and site_project() is not None:
            return same_request_at(main_origin())
        return None
    check_forwarded_host()
    project = site_project()
    if request.blueprint == "docs":
        return route_docs(project)
    if project is None or request.url_rule is None:
        return None
    served = current_app.extensions[PROJECT_BLUEPRINTS]
    name = request.endpoint if request.endpoint in served else request.blueprint
    if name in served:
        argument = served[name]
        if argument is None:
            return None
        named = (request.view_args or {}).get(argument) or request.args.get(argument)
        if named == project:
            return None
        return same_request_at(project_origin(named) if named else main_origin())
    # The portal, search and APIs answer only on the main host: a page of this project must not read them.
    return same_request_at(main_origin())


def route_docs(project):
    """Route the docs blueprint's requests: a project host serves its own project, the main host no object."""
    endpoint = request.endpoint
    if endpoint == "docs.favicon":
        return None
    if endpoint in ("docs.site_root", "docs.docs_root"):
        if project is not None:
            return found(f"{request.script_root}/docs/{project}/")
        return None if endpoint == "docs.site_root" else found(main_url("/_/"))
    path = keys.collapse_slashes(request.view_args.get("path", ""))
    keys.check_path(path)
    first = path.partition("/")[0]
    if project is not None and first == project:
        return None
    if first == "":
        return found(main_url("/_/"))
    host = project_host(get_pattern(), first, request_port())
    if host is None:
        raise DocsError(
            f"{first!r} has no host of its own: with DOCS_PROJECT_HOSTS each project is served at its own host, "
            "so a project's name must be a lowercase DNS label (a-z, 0-9, '-'; no '--' in 3rd and 4th place, as in IDN xn--), and files at the bucket's root are not served",
            404,
        )
    return same_request_at("//" + host)


def sandbox_root_files(response):
    """Serve the bucket-root favicon as a sandboxed document: it belongs to no project's origin."""
    if request.endpoint == "docs.favicon":
        response.headers.setdefault(*SANDBOX)
    return response


def startup_warnings(settings):
    """Return the warnings start-up prints for ``settings``: rules that trust origins the hosts do not separate."""
    from ..access.rules import load_rules
    from .policy import origin_warnings

    path = settings.get("DOCS_ACCESS_RULES")
    if not path:
        return []
    return origin_warnings(load_rules(path), bool(settings.get("DOCS_PROJECT_HOSTS")))


def warn_at_startup(environ):
    """Print ``startup_warnings`` for the configuration in ``environ`` (gunicorn's ``on_starting``, once)."""
    from ..ops.logging import print_warning
    from ..settings import read_settings

    for warning in startup_warnings(read_settings(environ)):
        print_warning(warning)


def init_app(app):
    """Read ``DOCS_PROJECT_HOSTS`` and, when set, route every request to its host before access control runs."""
    pattern = checked(app, hosts_settings)  # parsed once, by create_app's checks
    app.extensions[HOSTS] = pattern
    app.extensions[PROJECT_BLUEPRINTS] = {}
    app.add_template_global(main_url, "main_url")
    app.add_template_global(main_origin, "main_origin")
    app.before_request(check_forwarded_prefix)
    if pattern is not None:
        app.before_request(route_host)
        app.after_request(sandbox_root_files)
