"""Starting gunicorn (``gunicorn wsgi:app`` with gunicorn.conf.py): bad settings and a taken address stop it."""

import os
import subprocess
import sys
import uuid

import pytest
import requests

from tests.servers import FAKE_CREDENTIALS, ROOT, free_port


@pytest.fixture(scope="module")
def page_bucket(server_s3):
    """A bucket on the moto server with one page."""
    name = f"startup-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=name)
    server_s3.put_object(Bucket=name, Key="index.html", Body=b"<h1>up</h1>", ContentType="text/html")
    return name


def start_gunicorn(environ, timeout=30):
    """Run gunicorn in the foreground until it exits (or ``timeout``); return the completed process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "DOCS_", "GUNICORN_", "WEB_"))}
    env.update(FAKE_CREDENTIALS)
    env.update(environ)
    return subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_a_second_instance_on_a_taken_address_refuses_to_start_and_the_first_keeps_answering(
    gunicorn_factory, page_bucket, moto_server
):
    first = gunicorn_factory(page_bucket)
    second = start_gunicorn({"S3_BUCKET": page_bucket, "S3_ENDPOINT_URL": moto_server,
                             "DOCS_BIND": f"127.0.0.1:{first.port}", "WEB_CONCURRENCY": "2"})
    assert second.returncode == 1
    assert (f"docs-proxy: configuration error: DOCS_BIND='127.0.0.1:{first.port}' is already in use"
            in second.stderr)
    # Had the second bound with SO_REUSEPORT, fresh connections would have been split between the two.
    statuses = [requests.get(f"{first.url}/docs/", timeout=10).status_code for _ in range(20)]
    assert statuses == [200] * 20


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"DOCS_BIND": "999.1.1.1:80"}, "DOCS_BIND='999.1.1.1:80' is not an address of this machine"),
        ({"DOCS_BIND": "localhost"}, "DOCS_BIND='localhost' is not an address to listen on; use HOST:PORT"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0' is out of range; use a number >= 1"),
        ({"GUNICORN_THREADS": "abc"}, "GUNICORN_THREADS='abc' is not an integer; use a number >= 1"),
        ({"GUNICORN_GRACEFUL_TIMEOUT": "soon"}, "GUNICORN_GRACEFUL_TIMEOUT='soon' is not an integer"),
        ({"S3_BUCKET": ""}, "S3_BUCKET is not set"),
    ],
)
def test_bad_server_settings_stop_gunicorn_with_one_line_naming_the_variable(environ, message):
    result = start_gunicorn({"S3_BUCKET": "b", "DOCS_BIND": f"127.0.0.1:{free_port()}", **environ})
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "docs-proxy:" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert "Booting worker" not in result.stderr
