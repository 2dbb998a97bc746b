"""Listing answers that moto cannot produce: S3 refusing a page token it did not issue."""

from botocore.stub import Stubber

from app.s3 import get_s3


def test_a_page_token_s3_refuses_is_a_400_with_a_reason(s3, app_config):
    from app import create_app

    app = create_app({**app_config, "DOCS_LISTING_PREFIXES": "artifacts/"})
    with app.app_context():
        stubber = Stubber(get_s3())
    stubber.add_client_error("get_object", "NoSuchKey", http_status_code=404)
    stubber.add_client_error("list_objects_v2", "InvalidArgument", "The continuation token provided is incorrect",
                             http_status_code=400)
    with stubber:
        response = app.test_client().get("/docs/artifacts/?page=forged", headers={"Accept": "text/html"})

    assert response.status_code == 400
    assert b"the page parameter is not a page of this folder" in response.data
