"""Website features: error documents, the missing page for people, redirect objects, folder listings and presigned downloads.

Redirect objects (``x-amz-website-redirect-location``) are answered where the object response is
built (serving/streaming.py, with the pure policy in serving/redirects.py); publish writes them from a
``_redirects`` file (publishing/redirects.py).
"""

from flask import Blueprint

# No routes: the blueprint only carries the listing template.
bp = Blueprint("website", __name__, template_folder="templates")


def init_app(app):
    """Register the listing, error-document and missing-page fallbacks (in that order) and the presign responder."""
    from . import errordocs, listing, notfound, presign

    app.register_blueprint(bp)
    listing.init_app(app)
    errordocs.init_app(app)
    notfound.init_app(app)
    presign.init_app(app)
