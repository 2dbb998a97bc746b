"""Direct uploads of large files: a presigned POST bound to one key of a version, a content type and a maximum size.

S3 itself enforces the policy (``content-length-range``, the exact key, the headers), so a token holder's
CI sends a multi-gigabyte artifact straight to the bucket and never through a worker.
"""

from flask import current_app

from ..errors import DocsError
from ..portal import get_index_cache
from ..portal.catalog import granted_artifacts
from ..portal.index import add_artifact, read_index, record_published
from ..publishing.policy import cache_control_for, content_type_for
from ..s3 import get_s3
from ..website.presign import get_presigner
from .policy import BadMember, member_relkey

POST_EXPIRES = 3600  # seconds to start the upload; S3 checks the policy's expiry when the POST arrives
MAX_POST_BYTES = 5 * 1024**3  # S3's limit on one POST upload
MAX_GRANTS = 256  # files one version may have sent straight to S3


def presigned_post(project, version, path, size):
    """Return ``{"url", "fields", "key", "max_size", "expires_in"}`` for a POST of ``path`` into ``project``/``version``."""
    if not isinstance(path, str) or not path:
        raise DocsError('"path" must be the file\'s path below the version, such as "dist/manual.pdf"')
    if not isinstance(size, int) or isinstance(size, bool) or size < 1 or size > MAX_POST_BYTES:
        raise DocsError(f'"size" must be the file\'s size in bytes, from 1 to {MAX_POST_BYTES} (S3\'s limit for one POST)')
    try:
        relkey = member_relkey(path)
    except BadMember as error:
        raise DocsError(f'"path": {error}') from None
    if not relkey or relkey.endswith("/"):
        raise DocsError('"path" must name a file, not a folder')
    config = current_app.config
    document, _ = read_index(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"])
    versions = ((document or {}).get("projects", {}).get(project) or {}).get("versions", {})
    if version not in versions:
        raise DocsError(f"{project} has no published version {version!r}; publish it first, then add its large files", status=404)
    grants = granted_artifacts(versions[version].get("artifacts"))
    if len(grants) >= MAX_GRANTS and relkey not in {grant.path for grant in grants}:
        # Each grant costs a HEAD when the version is listed: a bound keeps a listing's S3 calls bounded.
        raise DocsError(f"{project} {version} already has {MAX_GRANTS} files sent straight to S3; "
                        "put the rest in the version's archive", status=409)
    key = f"{config['S3_PREFIX']}{project}/{version}/{relkey}"
    fields = {
        "Content-Type": content_type_for(relkey),
        "Cache-Control": cache_control_for(relkey, config["DOCS_CACHE_CONTROL_PAGES"], config["DOCS_CACHE_CONTROL_HASHED"]),
    }
    conditions = [{name: value} for name, value in fields.items()] + [["content-length-range", 1, size]]
    post = get_presigner(current_app).generate_presigned_post(
        config["S3_BUCKET"], key, Fields=fields, Conditions=conditions, ExpiresIn=POST_EXPIRES
    )
    # The grant, not the file: the version lists it once S3 holds it (portal/artifacts.py), and a publish
    # of the version keeps it from then on, uploaded or not yet.
    record_published(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"], add_artifact(project, version, relkey, size),
                     project)
    get_index_cache().invalidate()
    return {"url": post["url"], "fields": post["fields"], "key": relkey, "max_size": size, "expires_in": POST_EXPIRES}
