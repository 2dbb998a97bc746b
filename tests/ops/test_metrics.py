"""Metrics: what /_/metrics reports after requests, the pure labelling policy, and who may read it."""

import ipaddress

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from flask import g

import config
from app import create_app
from app.ops.metrics import ACCESS_DECISIONS, CACHE_RESULTS, is_allowed, known, s3_outcome, status_class
from tests.conftest import BUCKET
from tests.ops.conftest import parse_metrics, sample

PAGE = b"<html>" + b"x" * 4090 + b"</html>"


@pytest.mark.parametrize("status, label", [(200, "2xx"), (206, "2xx"), (301, "3xx"), (304, "3xx"), (404, "4xx"), (503, "5xx")])
def test_status_class_groups_statuses_by_hundred(status, label):
    assert status_class(status) == label


@pytest.mark.parametrize(
    "status, error, outcome",
    [
        (200, None, "ok"),
        (206, None, "ok"),
        (416, None, "ok"),
        (304, None, "not_modified"),
        (403, None, "denied"),
        (404, None, "not_found"),
        (412, None, "precondition_failed"),
        (400, None, "client_error"),
        (500, None, "server_error"),
        (503, None, "server_error"),
        (None, ConnectTimeoutError(endpoint_url="http://s3"), "timeout"),
        (None, ReadTimeoutError(endpoint_url="http://s3"), "timeout"),
        (None, NoCredentialsError(), "no_credentials"),
        (None, EndpointConnectionError(endpoint_url="http://s3"), "unreachable"),
    ],
)
def test_s3_outcome_is_one_of_a_fixed_set(status, error, outcome):
    assert s3_outcome(status=status, error=error) == outcome


@pytest.mark.parametrize("value, allowed, label", [("HIT", CACHE_RESULTS, "HIT"), ("weird", CACHE_RESULTS, "other"), ("denied", ACCESS_DECISIONS, "denied"), ("DENIED", ACCESS_DECISIONS, "other")])
def test_unknown_label_values_are_counted_as_other(value, allowed, label):
    assert known(value, allowed) == label


@pytest.mark.parametrize(
    "address, networks, allowed",
    [
        ("203.0.113.9", "", True),
        ("127.0.0.1", "127.0.0.0/8", True),
        ("10.1.2.3", "127.0.0.1, 10.0.0.0/8", True),
        ("192.168.1.1", "127.0.0.1, 10.0.0.0/8", False),
        ("::ffff:10.1.2.3", "10.0.0.0/8", True),
        ("::1", "::1", True),
        ("::1", "127.0.0.1", False),
        ("not-an-ip", "10.0.0.0/8", False),
        (None, "10.0.0.0/8", False),
    ],
)
def test_metrics_network_allow_list(address, networks, allowed):
    assert is_allowed(address, config.networks("DOCS_METRICS_ALLOW", networks)) is allowed


def test_parse_networks_accepts_single_addresses_and_cidrs():
    assert config.networks("DOCS_METRICS_ALLOW", " 10.0.0.1 ,fd00::/8,") == (ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("fd00::/8"))


def test_requests_are_counted_by_route_method_and_status_class(client, put, read_metrics):
    put("index.html", PAGE)
    for _ in range(3):
        with client.get("/docs/") as response:
            assert response.data == PAGE
    with client.head("/docs/"):
        pass
    client.get("/docs/missing.html").close()
    client.get("/_/health").close()
    client.get("/nowhere").close()
    metrics = read_metrics()
    assert sample(metrics, "docs_proxy_http_requests_total", route="docs", method="GET", status="2xx") == 3
    assert sample(metrics, "docs_proxy_http_requests_total", route="docs", method="HEAD", status="2xx") == 1
    assert sample(metrics, "docs_proxy_http_requests_total", route="docs", method="GET", status="4xx") == 1
    assert sample(metrics, "docs_proxy_http_requests_total", route="health", method="GET", status="2xx") == 1
    assert sample(metrics, "docs_proxy_http_requests_total", route="unmatched", method="GET", status="4xx") == 1
    assert sample(metrics, "docs_proxy_http_request_duration_seconds_count", route="docs") == 5
    # Bytes are what was sent: three pages plus S3's 404 body, nothing for the HEAD.
    sent = sample(metrics, "docs_proxy_http_response_bytes_total", route="docs")
    assert 3 * len(PAGE) < sent < 3 * len(PAGE) + 1000
    assert not any("/docs/" in value for (_, labels) in metrics for _, value in labels)


# Each request's S3 call is what is counted: the cache (tests/cache) would answer the HEAD itself.
@pytest.mark.parametrize("app_config", [{"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_CACHE": "off"}])
def test_s3_calls_are_counted_by_operation_and_outcome_with_durations(client, put, read_metrics):
    put("index.html", PAGE)
    client.get("/docs/").close()
    client.head("/docs/").close()
    client.get("/docs/missing.html").close()
    metrics = read_metrics()
    assert sample(metrics, "docs_proxy_s3_requests_total", operation="GetObject", outcome="ok") == 1
    assert sample(metrics, "docs_proxy_s3_requests_total", operation="HeadObject", outcome="ok") == 1
    # The missing page, and the portal's read of its index object on that 404 (this bucket has none).
    assert sample(metrics, "docs_proxy_s3_requests_total", operation="GetObject", outcome="not_found") == 2
    assert sample(metrics, "docs_proxy_s3_request_duration_seconds_count", operation="GetObject") == 3
    assert sample(metrics, "docs_proxy_s3_request_duration_seconds_sum", operation="GetObject") > 0


def test_unreachable_s3_is_counted_as_unreachable(aws_credentials):
    from tests.servers import free_port

    app = create_app({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "S3_MAX_ATTEMPTS": 1})
    client = app.test_client()
    client.get("/docs/index.html").close()
    metrics = parse_metrics(client.get("/_/metrics").get_data(as_text=True))
    assert sample(metrics, "docs_proxy_s3_requests_total", operation="GetObject", outcome="unreachable") == 1
    assert sample(metrics, "docs_proxy_http_requests_total", route="docs", method="GET", status="5xx") == 1


def test_downloads_in_flight_rise_while_a_body_is_sent_and_fall_after(client, put, read_metrics):
    put("big.bin", b"z" * (3 * 1024 * 1024))
    response = client.get("/docs/big.bin", buffered=False)
    next(iter(response.response))
    assert sample(read_metrics(), "docs_proxy_downloads_in_flight") == 1
    response.close()
    assert sample(read_metrics(), "docs_proxy_downloads_in_flight") == 0


def test_cache_results_and_access_decisions_are_counted_from_g(app, client, read_metrics):
    # Until the cache and access control land, a test-only view sets what they will set.
    @app.route("/_test/set-g/<result>/<decision>")
    def set_g(result, decision):
        g.cache_result = result
        g.access_decision = decision
        return "ok"

    for result, decision in [("HIT", "public"), ("HIT", "allowed"), ("MISS", "denied"), ("bogus", "unauthenticated")]:
        client.get(f"/_test/set-g/{result}/{decision}").close()
    metrics = read_metrics()
    assert sample(metrics, "docs_proxy_cache_results_total", result="HIT") == 2
    assert sample(metrics, "docs_proxy_cache_results_total", result="MISS") == 1
    assert sample(metrics, "docs_proxy_cache_results_total", result="other") == 1
    assert sample(metrics, "docs_proxy_access_decisions_total", decision="public") == 1
    assert sample(metrics, "docs_proxy_access_decisions_total", decision="denied") == 1
    assert sample(metrics, "docs_proxy_access_decisions_total", decision="unauthenticated") == 1


def test_metrics_are_refused_outside_the_allowed_networks(s3):
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_METRICS_ALLOW": "10.0.0.0/8"})
    with app.test_client().get("/_/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}) as response:
        assert response.status_code == 403
        assert b"DOCS_METRICS_ALLOW" in response.data
    with app.test_client().get("/_/metrics", environ_base={"REMOTE_ADDR": "10.9.8.7"}) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")


def test_metrics_can_be_turned_off(s3, put):
    put("index.html", PAGE)
    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_METRICS": False})
    client = app.test_client()
    with client.get("/docs/") as response:
        assert response.data == PAGE
    with client.get("/_/metrics") as response:
        assert response.status_code == 404
        assert b"DOCS_METRICS=off" in response.data
