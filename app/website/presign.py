"""Large objects straight from S3: a GET for an object of at least ``DOCS_PRESIGN_ABOVE`` bytes answers
302 to a presigned URL, so a 2 GB artifact does not hold a proxy thread for minutes.

The responder runs after the access gates (hooks.add_responder), so only readers who may read the
object get a URL. The size comes from one HEAD. HEAD and Range requests stream as before (a resumed
download keeps working against the proxy), and so does every object below the threshold.
A key the hot-object cache holds is small enough to keep, so it is served from memory without the
HEAD (and stale from there while S3 is down); when the HEAD itself fails, the fetch decides.
"""

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, current_app, request

from ..cache import get_store
from ..exceptions import error_status, is_missing
from ..s3 import client_config, get_s3, new_session
from ..serving.hooks import add_responder

PRESIGNER = "website.presigner"


def wants_presign(method, headers, size, threshold):
    """Tell whether a request for an object of ``size`` bytes gets a presigned redirect."""
    return method == "GET" and "Range" not in headers and size is not None and size >= threshold


def presign_params(bucket, key, head):
    """Return the ``get_object`` parameters to presign, keeping the object's ``Content-Disposition``.

    The override parameter makes S3 send the same disposition (download name) the proxy would have,
    also through endpoints or CDNs that drop stored metadata.
    """
    params = {"Bucket": bucket, "Key": key}
    if head.get("ContentDisposition"):
        params["ResponseContentDisposition"] = head["ContentDisposition"]
    return params


def presigned_download(path, key):
    """Redirect a GET for a large object to a presigned S3 URL (a responder); ``None`` streams as usual."""
    config = current_app.config
    if request.method != "GET" or "Range" in request.headers:
        return None
    store = get_store()
    if store is not None and store.get(key) is not None:
        return None
    try:
        head = get_s3().head_object(Bucket=config["S3_BUCKET"], Key=key)
    except ClientError as error:
        if is_missing(error) or error_status(error) >= 500:
            return None  # The fetch finds it missing too (the fallbacks answer), or serves a stale copy.
        raise
    except BotoCoreError:
        return None  # S3 unreachable or slow: the cache's stale copy, or the fetch's own 502/504
    if head.get("WebsiteRedirectLocation") is not None:
        return None  # A redirect object answers with its own 301 in the fetch.
    if not wants_presign(request.method, request.headers, head.get("ContentLength"), config["DOCS_PRESIGN_ABOVE"]):
        return None
    url = get_presigner(current_app).generate_presigned_url(
        "get_object", Params=presign_params(config["S3_BUCKET"], key, head), ExpiresIn=config["DOCS_PRESIGN_EXPIRES"]
    )
    return Response(status=302, headers={"Location": url, "Cache-Control": "no-store", "Content-Type": "text/plain"})


def create_presigner(config):
    """Return the client that signs URLs: for ``S3_PUBLIC_ENDPOINT_URL`` when set, always Signature V4.

    Presigning makes no request; a client of its own lets the URL name the endpoint browsers reach,
    and SigV4 (not the legacy signer botocore picks for some regions) is what every S3 accepts.
    """
    return new_session().client(
        "s3",
        region_name=config["S3_REGION"],
        endpoint_url=config.get("S3_PUBLIC_ENDPOINT_URL") or config["S3_ENDPOINT_URL"],
        config=client_config(config).merge(Config(signature_version="s3v4")),
    )


def get_presigner(app):
    """Return ``app``'s presigning client (``create_presigner``), made when first needed.

    A client takes 0.05 s to build, which every ``flask docs`` command would pay at start-up; two
    threads that both build one keep either, as they are the same.
    """
    presigner = app.extensions.get(PRESIGNER)
    if presigner is None:
        presigner = app.extensions[PRESIGNER] = create_presigner(app.config)
    return presigner


def init_app(app):
    """Register the presigned-download responder when ``DOCS_PRESIGN_ABOVE`` is set."""
    if not app.config.get("DOCS_PRESIGN_ABOVE"):
        return
    add_responder(app, presigned_download)
