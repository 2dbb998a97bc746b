"""Request ids and route labels: taken or generated, returned, in every log line; labels from a fixed set."""

import logging

import pytest

from app.ops.context import ROUTES, accepted_request_id, new_request_id, route_label


@pytest.mark.parametrize(
    "value, accepted",
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("abc123", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1", False),  # ';' is not in the alphabet
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (None, False),
        ("has space", False),
        ('quote"inside', False),
        ("line\nbreak", False),
        ("ünïcode", False),
    ],
)
def test_request_id_is_accepted_only_when_well_formed(value, accepted):
    assert accepted_request_id(value) == (value if accepted else None)


def test_generated_request_ids_are_unique_and_well_formed():
    ids = {new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(accepted_request_id(value) for value in ids)


@pytest.mark.parametrize(
    "blueprint, endpoint, label",
    [
        ("docs", "docs.serve_doc", "docs"),
        ("docs", "docs.site_root", "docs"),
        ("portal", "portal.index", "portal"),
        ("search", "search.results", "search"),
        ("ops", "ops.health", "health"),
        ("ops", "ops.ready", "ready"),
        ("ops", "ops.metrics", "metrics"),
        ("website", "website.listing", "other"),
        (None, "static", "other"),
        (None, None, "unmatched"),
    ],
)
def test_route_label_comes_from_the_blueprint_never_the_path(blueprint, endpoint, label):
    assert route_label(blueprint, endpoint) == label
    assert label in ROUTES


def test_a_senders_request_id_is_kept_apart_and_ours_is_always_generated(client, put):
    put("index.html", b"<p>hi</p>")
    with client.get("/docs/", headers={"X-Request-ID": "reader-complaint-42"}) as response:
        assert response.status_code == 200
        returned = response.headers["X-Request-ID"]
    assert returned != "reader-complaint-42" and len(returned) == 32 and int(returned, 16) >= 0


@pytest.mark.parametrize("sent", [None, "bad id with spaces", "x" * 300])
def test_missing_or_malformed_request_id_is_replaced_by_a_generated_one(client, sent):
    headers = {"X-Request-ID": sent} if sent is not None else {}
    with client.get("/_/health", headers=headers) as response:
        returned = response.headers["X-Request-ID"]
    assert returned != sent
    assert len(returned) == 32 and int(returned, 16) >= 0


def test_error_responses_carry_the_request_id_too(client):
    for path in ("/docs/missing.html", "/no/such/route", "/docs/a/../b"):
        with client.get(path, headers={"X-Request-ID": "err-1"}) as response:
            assert response.status_code >= 400
            assert len(response.headers["X-Request-ID"]) == 32


def test_every_log_line_of_a_request_carries_its_request_id_and_s3_request_id(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/docs/missing.html", headers={"X-Request-ID": "trace-me"})
        response.close()
    records = [record for record in caplog.records if "missing.html" in record.getMessage()]
    assert records, caplog.text
    assert all(record.request_id == response.headers["X-Request-ID"] for record in records)
    assert all(record.client_request_id == "trace-me" for record in records)
    assert all(record.s3_key == "missing.html" for record in records)
    assert all(record.s3_request_id for record in records)
