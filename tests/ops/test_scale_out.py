"""Scale-out: three replicas behind a real nginx survive a crash and a rolling restart; Prometheus sums them.

Figures are printed (run with -s) and recorded in docs/operations.md. The load is bounded in time
(DOCS_SCALE_SECONDS, default 15) and in clients (DOCS_SCALE_CLIENTS, default 16).
"""

import hashlib
import json
import os
import random
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.ops.cluster import MotoProcess, Nginx, Prometheus, Replica, port_is_free

pytestmark = pytest.mark.slow

CLIENTS = int(os.environ.get("DOCS_SCALE_CLIENTS", "16"))
DURATION = float(os.environ.get("DOCS_SCALE_SECONDS", "15"))
# Seconds of load after the restarted replica is ready again, so it is seen serving.
AFTER_RESTART = 4.0
# Pages and assets of a docs site: 4 KiB to 64 KiB, random so nothing matches by accident.
RANDOM = random.Random(12)
OBJECTS = {f"site/p{n}.html": RANDOM.randbytes(RANDOM.choice((4096, 8192, 16384, 65536))) for n in range(40)}
SHA256 = {key: hashlib.sha256(body).hexdigest() for key, body in OBJECTS.items()}


@pytest.fixture(scope="module")
def moto(real_server, tmp_path_factory):
    """moto's server in its own process, with the site in a bucket."""
    server = MotoProcess(tmp_path_factory.mktemp("moto") / "moto.log")
    server.client.create_bucket(Bucket="scale")
    for key, body in OBJECTS.items():
        server.client.put_object(Bucket="scale", Key=key, Body=body, ContentType="text/html")
    yield server
    server.stop()


@pytest.fixture
def replicas(moto, tmp_path):
    """Three replicas (two workers each) serving the bucket; stopped after the test."""
    env = {
        "S3_BUCKET": "scale", "S3_PREFIX": "site/", "S3_ENDPOINT_URL": moto.url, "S3_ADDRESSING_STYLE": "path",
        "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "8", "GUNICORN_GRACEFUL_TIMEOUT": "20",
        "DOCS_TRUSTED_PROXIES": "1", "DOCS_LOG_FORMAT": "json",
        # The test counts one S3 GET per page request: the cache (tests/cache) would answer repeats.
        "DOCS_CACHE": "off",
    }
    started = [Replica(f"replica{n}", env, tmp_path).start(wait=False) for n in range(3)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.terminate(timeout=30)


class Load:
    """Clients fetching random pages until a deadline, checking every status and body."""

    def __init__(self, url, clients):
        self.url = url
        self.clients = clients
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.failures = []
        # (when, request id, path) of answers cut after their headers came: only a crash may do that.
        self.cut = []
        self.checked = 0
        self.bytes = 0
        self.request_ids = set()

    def client(self, seed):
        rng = random.Random(seed)
        with requests.Session() as session:
            while not self.stopping.is_set():
                key = rng.choice(list(OBJECTS))
                path = "/docs/" + key.removeprefix("site/")
                request_id = None
                try:
                    with session.get(self.url + path, timeout=30, stream=True) as response:
                        status = response.status_code
                        request_id = response.headers.get("X-Request-ID")
                        body = response.content
                except requests.RequestException as error:
                    with self.lock:
                        if request_id is not None:  # the answer began, then was cut
                            self.cut.append((time.monotonic(), request_id, path))
                        self.failures.append(f"{path}: {type(error).__name__}: {error}")
                    continue
                with self.lock:
                    self.statuses[status] += 1
                    self.request_ids.add(request_id)
                    if status != 200:
                        self.failures.append(f"{path}: status {status}: {body[:200]!r}")
                    elif hashlib.sha256(body).hexdigest() != SHA256[key]:
                        self.failures.append(f"{path}: body differs ({len(body)} bytes)")
                    else:
                        self.checked += 1
                        self.bytes += len(body)

    def run_in_background(self):
        self.pool = ThreadPoolExecutor(self.clients)
        self.futures = [self.pool.submit(self.client, n) for n in range(self.clients)]
        return self

    def stop(self):
        self.stopping.set()
        for future in self.futures:
            future.result()
        self.pool.shutdown()


def test_replicas_behind_nginx_lose_no_request_when_one_crashes_and_one_restarts(replicas, tmp_path):
    # A shorter rest than deploy/'s 10 s after failures, so the restarted replica is tried again soon.
    nginx = Nginx(tmp_path / "nginx", [replica.port for replica in replicas], fail_timeout=2)
    crashed, restarted, steady = replicas
    load = Load(nginx.url, CLIENTS)
    try:
        started = time.monotonic()
        load.run_in_background()
        time.sleep(DURATION * 0.2)
        crashed.kill()  # SIGKILL to master and workers: connections reset, nothing drains
        killed_at = time.monotonic() - started
        time.sleep(DURATION * 0.1)
        restart_began = time.monotonic() - started
        restarted.terminate()  # SIGTERM: the rolling restart's stop, in-flight requests finish
        stopped_at = time.monotonic() - started
        assert port_is_free(restarted.port)
        restarted.start()
        restarted_at = time.monotonic() - started
        # Load for DURATION, and at least a few seconds after the restart (bounded: the restart is).
        time.sleep(max(DURATION - restarted_at, AFTER_RESTART))
        load.stop()
        elapsed = time.monotonic() - started
    finally:
        load.stopping.set()  # on any failure above too: the clients must not outlive the test
        nginx.stop()

    lines = nginx.access_lines()
    second_life = (tmp_path / "replica1-2.log").read_text().splitlines()
    served_after_restart = sum('"gunicorn.access"' in line and '"/docs/' in line for line in second_life)
    by_upstream = Counter(line.split()[1].rstrip(",") for line in lines)
    retried = [line for line in lines if "," in line.split(" ", 2)[1] or " : " in line]
    figures = {
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "requests": sum(load.statuses.values()) + sum("status" not in failure for failure in load.failures),
        "statuses": dict(load.statuses),
        "failed": len(load.failures),
        "bodies_checked_byte_exact": load.checked,
        "mib_sent": round(load.bytes / 2**20, 1),
        "requests_per_second": round(sum(load.statuses.values()) / elapsed),
        "killed_replica_at_s": round(killed_at, 1),
        "rolling_restart_s": f"SIGTERM {restart_began:.1f}, stopped {stopped_at:.1f}, ready {restarted_at:.1f}",
        "served_by_restarted_replica_after_restart": served_after_restart,
        "requests_nginx_retried_on_another_replica": len(retried),
        "first_upstream_per_replica": {
            replica.name: by_upstream[f"127.0.0.1:{replica.port}"] for replica in replicas
        },
    }
    # A SIGKILL cuts the answers the crashed replica was sending at that instant: nginx had already
    # passed their headers on, so no proxy can retry them. Those, and only those, may fail: each one
    # began on the crashed replica (nginx's log) and was cut within moments of the kill.
    upstream_of = {line.split()[-1]: line.split()[1].rstrip(",") for line in lines}
    cut_by_crash = [
        (request_id, path) for when, request_id, path in load.cut
        if upstream_of.get(request_id) == f"127.0.0.1:{crashed.port}" and abs(when - started - killed_at) < 2.0
    ]
    figures["cut_mid_answer_by_the_crash"] = len(cut_by_crash)
    print("\nscale-out figures:", json.dumps(figures, indent=2))
    assert len(load.failures) == len(cut_by_crash) <= CLIENTS, (load.failures[:10], load.cut, cut_by_crash)
    assert load.checked > 100
    assert set(load.statuses) == {200}
    # Every answer carries the app's own request id: one per request.
    assert len(load.request_ids) == load.checked and None not in load.request_ids
    # Every replica served, the restarted one also after its restart.
    assert all(by_upstream[f"127.0.0.1:{replica.port}"] > 0 for replica in replicas)
    assert restarted.starts == 2 and served_after_restart > 0
    assert restarted.process.poll() is None and steady.process.poll() is None


def prometheus_query(prometheus, query):
    """Return the value of an instant PromQL query (None when it has no result yet)."""
    url = f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    if not result:
        return None
    if len(result) == 1 and not result[0]["metric"]:
        return float(result[0]["value"][1])
    return {json.dumps(item["metric"], sort_keys=True): float(item["value"][1]) for item in result}


def wait_for_query(prometheus, query, expected, timeout=30):
    """Wait until a query returns ``expected`` (scrapes come every second); return what it returned last."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = prometheus_query(prometheus, query)
        if value == expected:
            return value
        time.sleep(0.5)
    return value


def test_prometheus_scraping_the_replicas_counts_exactly_what_the_load_sent(replicas, tmp_path):
    prometheus = Prometheus(tmp_path / "prometheus", [replica.port for replica in replicas])
    try:
        assert wait_for_query(prometheus, 'count(up{job="docs-proxy"} == 1)', 3.0) == 3.0
        keys = list(OBJECTS)
        plan = [(replicas[n % 3], keys[n % len(keys)]) for n in range(300)]
        missing = 30  # some 404s, counted in their own status class

        def fetch(item):
            replica, key = item
            url = f"http://127.0.0.1:{replica.port}/docs/{key.removeprefix('site/')}"
            # A fresh connection each time, so the kernel spreads them over each replica's two workers.
            with requests.get(url, headers={"Connection": "close"}, timeout=30) as response:
                return response.status_code, hashlib.sha256(response.content).hexdigest() == SHA256[key]

        def fetch_missing(n):
            url = f"http://127.0.0.1:{replicas[n % 3].port}/docs/missing-{uuid.uuid4().hex}.html"
            with requests.get(url, headers={"Connection": "close"}, timeout=30) as response:
                return response.status_code

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(fetch, plan))
            missing_statuses = list(pool.map(fetch_missing, range(missing)))
        assert results == [(200, True)] * len(plan)
        assert missing_statuses == [404] * missing

        # Wait for a scrape of every worker after the last request, then read what it recorded.
        histogram = wait_for_query(prometheus, 'sum(docs_proxy_http_request_duration_seconds_count{route="docs"})', float(len(plan) + missing))
        ok = prometheus_query(prometheus, 'sum(docs_proxy_http_requests_total{route="docs",method="GET",status="2xx"})')
        not_found = prometheus_query(prometheus, 'sum(docs_proxy_http_requests_total{route="docs",method="GET",status="4xx"})')
        per_instance = prometheus_query(prometheus, 'sum by (instance) (docs_proxy_http_requests_total{route="docs"})')
        s3_ok = prometheus_query(prometheus, 'sum(docs_proxy_s3_requests_total{operation="GetObject",outcome="ok"})')
        s3_missing = prometheus_query(prometheus, 'sum(docs_proxy_s3_requests_total{operation="GetObject",outcome="not_found"})')
        bytes_sent = prometheus_query(prometheus, 'sum(docs_proxy_http_response_bytes_total{route="docs"})')
        in_flight = prometheus_query(prometheus, "sum(docs_proxy_downloads_in_flight)")
        p99 = prometheus_query(prometheus, 'histogram_quantile(0.99, sum by (le) (docs_proxy_http_request_duration_seconds_bucket{route="docs"}))')
        workers = {
            replica.name: len({line for line in replica.log().splitlines() if "Booting worker" in line})
            for replica in replicas
        }
    finally:
        prometheus.stop()
    figures = {
        "sent_ok": len(plan), "sent_404": missing, "prometheus_2xx": ok, "prometheus_4xx": not_found,
        "per_instance": per_instance, "histogram_count": histogram, "s3_get_ok": s3_ok,
        "s3_get_not_found": s3_missing, "bytes_sent": bytes_sent, "p99_seconds": p99, "workers": workers,
    }
    print("\nprometheus figures:", json.dumps(figures, indent=2))
    assert ok == len(plan)
    assert not_found == missing
    assert histogram == len(plan) + missing
    assert s3_ok == len(plan)
    # Each 404 is one GetObject of the missing key, and each worker that answered one also read the
    # bucket's (absent) portal index once in the portal's TTL, to see whether the path names a project.
    assert missing <= s3_missing <= missing + sum(workers.values())
    assert bytes_sent >= sum(len(OBJECTS[key]) for _, key in plan)
    assert in_flight == 0
    assert sorted(per_instance.values()) == [(len(plan) + missing) / 3] * 3
    assert all(count == 2 for count in workers.values())
