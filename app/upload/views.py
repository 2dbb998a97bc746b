"""The upload API's routes: PUT an archive as a version or a preview, POST for a presigned direct upload.

Each view reads top to bottom: options, token, names, body, publish, JSON. Refusals are ``DocsError``
subclasses, answered in one place (app/errors.py).
"""


from flask import Blueprint, current_app, jsonify, request

from ..errors import DocsError
from ..portal.versions import BadName, check_alias_name, parse_version
from .auth import authenticate, now, require
from .policy import BadOption, archive_kind, parse_options
from .presign import presigned_post
from .service import delete_published, publish_upload

bp = Blueprint("upload", __name__)
NO_STORE = {"Cache-Control": "no-store"}


class UnsupportedBody(DocsError):
    """A body that is not one of the archive types: 415."""

    status = 415


def read_options(preview):
    """Return the request's ``UploadOptions``, or raise a 400 naming the bad parameter."""
    try:
        options = parse_options(request.args, preview=preview)
    except BadOption as error:
        raise DocsError(str(error)) from None
    return options


def check_aliases(options, version):
    """Refuse aliases that could not be pinned to ``version``, before anything is uploaded."""
    if options.alias and options.hidden:
        raise DocsError("a hidden version is never an alias target: give alias or hidden, not both")
    if options.alias and not parse_version(version).is_alias_target:
        raise DocsError(f"version {version!r} is a development version; aliases point at releases and prereleases only")
    for alias in options.alias:
        try:
            check_alias_name(alias, {})
        except BadName as error:
            raise DocsError(str(error)) from None


def archive_body():
    """Return ``(kind, stream, length)`` of the request's archive body, or raise 415/413."""
    kind = archive_kind(request.mimetype)
    if kind is None:
        raise UnsupportedBody(
            f"Content-Type {request.mimetype or '(none)'!r} is not an archive; send application/x-tar, application/gzip "
            "(a .tar.gz) or application/zip"
        )
    length = request.content_length
    limit = current_app.config["DOCS_UPLOAD_MAX_BYTES"]
    if length is not None and length > limit:
        raise DocsError(f"the body is larger than {limit} bytes (DOCS_UPLOAD_MAX_BYTES)", status=413)
    return kind, request.stream, length


def answer(summary):
    """Return the JSON summary: 201 for a new version or preview, 200 for a replaced one."""
    response = jsonify(summary)
    response.status_code = 201 if summary["created"] else 200
    response.headers.update(NO_STORE)
    return response


@bp.put("/_/api/projects/<project>/versions/<version>")
def put_version(project, version):
    """Publish the archive in the body as ``project``/``version``."""
    token = authenticate(project, ("publish",))
    options = read_options(preview=False)
    require(token, project, options.actions)
    check_aliases(options, version)
    kind, body, length = archive_body()
    return answer(publish_upload(project, version, options, body, kind, length))


@bp.put("/_/api/projects/<project>/previews/<name>")
def put_preview(project, name):
    """Publish the archive in the body as preview ``name`` of ``project``, deleted after ``?expires=`` (14d)."""
    authenticate(project, ("preview",))
    options = read_options(preview=True)
    kind, body, length = archive_body()
    expires_at = (now() + options.expires).isoformat()
    return answer(publish_upload(project, name, options, body, kind, length, preview=True, expires_at=expires_at))


@bp.post("/_/api/projects/<project>/versions/<version>/uploads")
def post_upload(project, version):
    """Return a presigned POST for one file of ``project``/``version``, bound to its key and size."""
    authenticate(project, ("publish",))
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        raise DocsError('send JSON such as {"path": "dist/manual.pdf", "size": 123456}')
    response = jsonify(presigned_post(project, version, document.get("path"), document.get("size")))
    response.status_code = 201
    response.headers.update(NO_STORE)
    return response


@bp.delete("/_/api/projects/<project>/versions/<version>")
def delete_version(project, version):
    """Delete ``project``/``version``: from the portal first, then every object under it."""
    authenticate(project, ("delete",))
    response = jsonify(delete_published(project, version, preview=False))
    response.headers.update(NO_STORE)
    return response


@bp.delete("/_/api/projects/<project>/previews/<name>")
def delete_preview(project, name):
    """Delete preview ``name`` of ``project`` before it expires (a merged or closed pull request)."""
    authenticate(project, ("delete",))
    response = jsonify(delete_published(project, name, preview=True))
    response.headers.update(NO_STORE)
    return response
