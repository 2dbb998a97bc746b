"""The upload API over real HTTP: gunicorn serving the app against moto's server, and helpers to build archives."""

import io
import tarfile
import uuid
import zipfile
from datetime import timedelta

import pytest
import requests

from app import create_app
from app.upload.tokens import create_token, utc_now
from tests.servers import FAKE_CREDENTIALS, Gunicorn


SERVER_SETTINGS = ("WEB_CONCURRENCY", "GUNICORN_THREADS")


class Site:
    """One bucket on moto's server, gunicorn serving it, and the app's CLI pointed at it."""

    def __init__(self, moto_server, s3, log_path, env=None):
        self.bucket = f"upload-{uuid.uuid4().hex[:12]}"
        self.s3 = s3
        s3.create_bucket(Bucket=self.bucket)
        settings = {"S3_BUCKET": self.bucket, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
                    "S3_REGION": "us-east-1",
                    # Each worker would otherwise trust its copy of the index and its cached pages a few seconds.
                    "DOCS_PORTAL_TTL": 0, "DOCS_CACHE": "off", **(env or {})}
        self.app = create_app({key: value for key, value in settings.items() if key not in SERVER_SETTINGS})
        self.server = Gunicorn({"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8",
                                **{key: str(value) for key, value in settings.items()}}, log_path=log_path)
        self.url = self.server.url
        self.prefix = settings.get("S3_PREFIX", "")

    def cli(self, *args):
        """Run ``flask docs ARGS`` against the bucket; return click's result."""
        return self.app.test_cli_runner().invoke(args=["docs", *args], catch_exceptions=False)

    def token(self, projects=("*",), actions=("publish",), expires=timedelta(days=1), now=None):
        """Make a token straight in the bucket (``now`` in the past makes an expired one); return it."""
        _, token = create_token(self.s3, self.bucket, self.prefix, projects, actions, expires, now=now or utc_now())
        return token

    def put(self, project, version, body, token, content_type="application/x-tar", params=None, kind="versions"):
        """PUT an archive to the upload API."""
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.put(f"{self.url}/_/api/projects/{project}/{kind}/{version}", data=body, headers=headers,
                            params=params, timeout=120)

    def keys(self, prefix=""):
        """Return ``{key: etag}`` of every object under ``prefix``."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.update({item["Key"]: item["ETag"] for item in page.get("Contents", ())})
        return found

    def pending_multipart(self):
        """Return the multipart uploads started and neither completed nor aborted."""
        return self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])

    def read(self, key):
        """Return an object's bytes."""
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def stop(self):
        """Stop gunicorn."""
        self.server.stop()


@pytest.fixture(scope="module")
def credentials():
    """Fake AWS credentials for the in-process app (its CLI) for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def site(moto_server, server_s3, credentials, tmp_path_factory):
    """One gunicorn and bucket for a whole module (tests use their own project names)."""
    started = Site(moto_server, server_s3, tmp_path_factory.mktemp("upload") / "gunicorn.log")
    yield started
    started.stop()


@pytest.fixture
def site_factory(moto_server, server_s3, credentials, tmp_path):
    """Start a site of its own for a test (settings in ``env``); stopped after it."""
    started = []

    def start(env=None):
        started.append(Site(moto_server, server_s3, tmp_path / f"gunicorn-{len(started)}.log", env))
        return started[-1]

    yield start
    for one in started:
        one.stop()


def page(title, text="", links=()):
    """Return a small HTML page."""
    anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return f"<!doctype html><html><head><title>{title}</title></head><body><main><h1>{title}</h1><p>{text}</p>{anchors}</main></body></html>".encode()


def make_tar(files, compression=""):
    """Return a tar (``compression`` ``gz`` for .tar.gz) of ``{name: bytes}``, or of ``TarInfo`` with bytes for odd members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}" if compression else "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            if isinstance(data, tarfile.TarInfo):
                archive.addfile(data)
                continue
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def make_zip(files):
    """Return a zip of ``{name: bytes}``; a ``ZipInfo`` key adds a member with that info."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
