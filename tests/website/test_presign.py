"""Presigned downloads configured from the environment, as gunicorn's workers get them."""

import os
from urllib.parse import urlsplit

from app import create_app
from tests.conftest import BUCKET


def test_public_endpoint_from_the_environment_is_named_in_the_presigned_url(s3, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key="downloads/big.bin", Body=b"x" * 2048)
    for name in [name for name in os.environ if name.startswith(("S3_", "DOCS_"))]:
        monkeypatch.delenv(name)
    for name, value in {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PRESIGN_ABOVE": "1KiB",
                        "S3_PUBLIC_ENDPOINT_URL": "https://downloads.example.com"}.items():
        monkeypatch.setenv(name, value)

    response = create_app().test_client().get("/docs/downloads/big.bin")

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc) == ("https", "downloads.example.com")
    assert location.path.endswith("/downloads/big.bin")
