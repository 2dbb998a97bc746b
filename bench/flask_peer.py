"""The cache benchmark's peer: a bare Flask view returning the same 4 KiB page from memory (the framework's ceiling)."""

import os
from pathlib import Path

from flask import Flask, Response


def create_peer(page_path):
    """Return a Flask app answering every /docs/ path with the bytes of ``page_path``."""
    page = Path(page_path).read_bytes()
    peer = Flask(__name__)

    @peer.route("/docs/<path:path>")
    def page_view(path):
        return Response(page, mimetype="text/html")

    return peer


# gunicorn imports this module in each worker; the page comes from the benchmark's environment.
app = create_peer(os.environ["BENCH_PAGE"])
