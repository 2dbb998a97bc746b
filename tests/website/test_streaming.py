"""Redirect objects where the object response is built, whatever fetch produced the S3 response."""

import logging

import pytest

from app.serving.streaming import object_response


def head_response(location):
    """Return a head_object-shaped response whose website redirect location is ``location``."""
    headers = {"content-type": "text/html", "content-length": "0", "x-amz-website-redirect-location": location}
    return {"ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": headers}}


@pytest.mark.parametrize(
    "location",
    ["/x\r\nSet-Cookie: a=b", "/x\nLocation: https://evil.example", "https://ok.example/\r\n", "//evil.example"],
)
def test_header_injection_through_a_redirect_location_is_ignored_and_logged(app, location, caplog):
    with app.test_request_context("/docs/page.html"), caplog.at_level(logging.WARNING):
        response = object_response(head_response(location), 1024)

    assert response.status_code == 200
    assert "Location" not in response.headers and "Set-Cookie" not in response.headers
    assert "ignoring the website redirect location" in caplog.text


def test_redirect_location_is_placed_below_the_script_root(app):
    with app.test_request_context("/docs/page.html", base_url="http://localhost/mounted"):
        response = object_response(head_response("/new.html"), 1024)

    assert (response.status_code, response.headers["Location"]) == (301, "/mounted/docs/new.html")
