"""Who may use the upload API: a bearer token from ``flask docs token create``, checked against its scope.

Separate from readers' access control (``DOCS_AUTH``), which never sees these routes. The token comes
only from the ``Authorization`` header (never a query string, which access logs keep), and neither is
ever logged: the access log's ``user`` field names the token's id instead.
"""

from urllib.parse import quote

from flask import current_app, g, request

from ..errors import DocsError
from ..s3 import get_s3
from .tokens import any_tokens, load_token, parse_token, secret_matches, utc_now

NO_STORE = ("Cache-Control", "no-store")
CHALLENGE = ("WWW-Authenticate", 'Bearer realm="docs-proxy upload"')
ENVIRON_USER = "docs_proxy.user"  # gunicorn's access log reads it (gunicorn.conf.py)
CLOCK = "upload.clock"


class ApiOff(DocsError):
    """No token exists, so the upload API is off: 404, as if it were not there."""

    status = 404


class BadToken(DocsError):
    """No token, or one that is unknown, revoked or expired: 401."""

    status = 401


class OutOfScope(DocsError):
    """A valid token that may not do this to this project: 403."""

    status = 403


def now():
    """Return the current time (aware, UTC); tests set ``app.extensions[CLOCK]`` to move it."""
    clock = current_app.extensions.get(CLOCK)
    return clock() if clock else utc_now()


def refuse(reason):
    """Return the refusal for a missing or bad token: 404 while no token exists at all, else 401."""
    config = current_app.config
    if not any_tokens(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"]):
        return ApiOff("the upload API is off: no upload token exists (flask docs token create)", headers=[NO_STORE])
    return BadToken(reason, headers=[CHALLENGE, NO_STORE])


def authenticate(project, actions):
    """Return the token record allowing every one of ``actions`` on ``project``, or raise 401/403/404."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise refuse("send an upload token as 'Authorization: Bearer TOKEN'")
    parsed = parse_token(credential)
    config = current_app.config
    record = parsed and load_token(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"], parsed[0])
    if not record or not secret_matches(record, parsed[1]):
        raise refuse("the upload token is not valid (unknown or revoked)")
    g.user = f"token:{record.id}"
    request.environ[ENVIRON_USER] = quote(g.user, safe=":")
    if record.is_expired(now()):
        raise BadToken(f"the upload token {record.id} expired at {record.expires}", headers=[CHALLENGE, NO_STORE])
    return require(record, project, actions)


def require(record, project, actions):
    """Return ``record`` if it allows every one of ``actions`` on ``project``, else raise 403."""
    for action in actions:
        if not record.allows(project, action):
            raise OutOfScope(
                f"token {record.id} may not {action} {project!r} (projects: {', '.join(record.projects)}; "
                f"actions: {', '.join(record.actions)})", headers=[NO_STORE],
            )
    return record
