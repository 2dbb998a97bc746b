"""Reliability, group 7: slow clients on real sockets never take the pages down (issue 20).

gunicorn serves the app with the shipped gunicorn.conf.py (the gevent engine) in front of a static
nginx that answers like path-style S3 (bench/nginx.py), so hundreds of downloads cost the test
nothing on the S3 side. The clients are tests/slowclients.py: asyncio tasks on one thread.
Every wait is bounded; no test asserts a duration, only deadlines a page must meet to count at all.

``DOCS_RELIABILITY_ENGINE=gthread`` runs the module against the threaded engine of before, where
each of these tests fails (docs/reliability.md, group 7).
"""

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from bench import nginx
from tests.reliability.test_load import measure_worker, worker_pids
from tests.servers import Gunicorn, free_port, wait_for_port
from tests.slowclients import Background, request_head, run_holders, run_readers, summary

pytestmark = pytest.mark.slow

ENGINE = os.environ.get("DOCS_RELIABILITY_ENGINE", "gevent")
BUCKET = "bucket"
PAGE_KEY = "index.html"
BIG_KEY = "big.bin"
PAGE = b"<!doctype html><title>page</title>" + b"<p>slow readers must not take this down</p>" * 90
BIG_SIZE = 64 * 1024 * 1024
# A page that takes longer than this has failed, whatever the machine's load: the threaded engine
# leaves pages unanswered until a download ends (minutes), gevent answers in milliseconds.
PAGE_DEADLINE = 5.0


@pytest.fixture(scope="module")
def backend(real_server):
    """A static nginx answering like path-style S3 for ``bucket/index.html`` and a 64 MiB ``bucket/big.bin``."""
    # nginx's workers run as nobody when the tests run as root: the site must be readable to them,
    # which pytest's own temporary directories (mode 0700) are not.
    workdir = Path(tempfile.mkdtemp(prefix="docs-proxy-slow-"))
    workdir.chmod(0o755)
    site = workdir / "site" / BUCKET
    site.mkdir(parents=True)
    (site / PAGE_KEY).write_bytes(PAGE)
    block = os.urandom(1024 * 1024)
    with open(site / BIG_KEY, "wb") as big:
        for _ in range(BIG_SIZE // len(block)):
            big.write(block)
    for path in (workdir / "site", site):
        path.chmod(0o755)
    port = free_port()
    config = nginx.backend_config(workdir / "nginx", port, workdir / "site", BUCKET, PAGE_KEY, BIG_KEY)
    process = nginx.start_nginx(workdir / "nginx", config, workdir / "nginx.out")
    try:
        wait_for_port(port, process=process)
        yield {"port": port, "url": f"http://127.0.0.1:{port}"}
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def serve(backend, tmp_path):
    """Start gunicorn (the shipped configuration, ``ENGINE``) against the backend; stopped after the test."""
    started = []

    def start(**env):
        full_env = {
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": backend["url"],
            "S3_ADDRESSING_STYLE": "path",
            "GUNICORN_WORKER_CLASS": ENGINE,
            "WEB_CONCURRENCY": "2",
            "DOCS_CACHE": "off",
            **{name: str(value) for name, value in env.items()},
        }
        server = Gunicorn(full_env, log_path=tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        # SIGQUIT: the quick stop; a graceful one would wait for the slow readers this module leaves.
        server.stop(sig=signal.SIGQUIT)


def fetch_pages(server, count, pause=0.05):
    """Fetch the page ``count`` times on fresh connections; return (answers that were 200 and exact, problems)."""
    exact, problems = 0, []
    for _ in range(count):
        try:
            with requests.get(f"{server.url}/docs/{PAGE_KEY}", headers={"Connection": "close"},
                              timeout=PAGE_DEADLINE) as response:
                if response.status_code == 200 and response.content == PAGE:
                    exact += 1
                else:
                    problems.append(f"{response.status_code}, {len(response.content)} bytes")
        except requests.RequestException as error:
            problems.append(type(error).__name__)
        time.sleep(pause)
    return exact, problems


def test_pages_stay_fast_while_hundreds_of_slow_readers_download(serve):
    server = serve()
    port = int(server.url.rsplit(":", 1)[1])
    everyone_started = threading.Event()
    readers = Background(run_readers, port, f"/docs/{BIG_KEY}", 300, 16 * 1024, 0.25, 20.0,
                         on_started=everyone_started.set)
    readers.start()
    assert everyone_started.wait(30), "the 300 downloads did not all start within 30 s"
    exact, problems = fetch_pages(server, 40)
    readers.join(60)
    figures = summary(readers.results)
    print(figures)
    assert (exact, problems) == (40, [])
    assert figures["status_200"] == 300 and figures["received_data"] == 300, figures
    assert figures["endings"] == {"deadline": 300}, figures  # none cut off, none finished (64 MiB at 64 KiB/s)
    # Every reader kept receiving: none waited for data much longer than its own 0.25 s pause.
    assert figures["longest_gap_s"] < PAGE_DEADLINE, figures


def test_slow_request_heads_and_idle_connections_do_not_delay_pages_and_are_closed(serve):
    server = serve()
    port = int(server.url.rsplit(":", 1)[1])
    head = request_head(f"/docs/{PAGE_KEY}")
    # 200 clients send their request head one byte every 0.5 s (they would need ~30 s); 200 send nothing.
    trickling = Background(run_holders, port, 200, head, 0.5, 30.0)
    idle = Background(run_holders, port, 200, b"", 0.5, 30.0)
    trickling.start()
    idle.start()
    time.sleep(2.0)
    exact, problems = fetch_pages(server, 30)
    trickling.join(45)
    idle.join(45)
    assert (exact, problems) == (30, [])
    # gunicorn's keepalive (5 s) bounds a request head and an idle connection: every one was closed
    # by the server long before its 30 s were up, and none got an answer it did not finish asking for.
    for results in (trickling.results, idle.results):
        assert all(0 <= result.closed_after < 20 for result in results), sorted(r.closed_after for r in results)[-5:]
        assert all(result.answer == b"" for result in results)
    assert max(result.sent for result in trickling.results) < len(head)


def s3_connections(server, s3_port):
    """Return the TCP states of every worker's connections to the S3 backend, and the workers' descriptor counts."""
    port = int(server.url.rsplit(":", 1)[1])
    figures = [measure_worker(pid, s3_port, port) for pid in worker_pids(server.process.pid)]
    return sorted(state for figure in figures for state in figure["s3_states"]), sum(f["fds"] for f in figures)


def test_a_reader_that_stops_reading_is_dropped_and_its_s3_connection_released(serve, backend):
    server = serve(DOCS_STALLED_READER_TIMEOUT=2, WEB_CONCURRENCY=1)
    port = int(server.url.rsplit(":", 1)[1])
    # The worker's first requests open what it keeps (metric files, the S3 pool, gevent's thread pool).
    assert fetch_pages(server, 3) == (3, [])
    with requests.get(f"{server.url}/docs/{BIG_KEY}", headers={"Range": "bytes=0-1048575"}, timeout=10) as response:
        assert response.status_code == 206 and len(response.content) == 1048576
    _, fds_before = s3_connections(server, backend["port"])
    readers = []
    for _ in range(5):
        reader = socket.create_connection(("127.0.0.1", port))
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        reader.sendall(request_head(f"/docs/{BIG_KEY}"))
        readers.append(reader)
    # While they download (reading nothing), each holds one connection to S3.
    deadline = time.monotonic() + 10
    while s3_connections(server, backend["port"])[0].count("ESTABLISHED") < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s3_connections(server, backend["port"])[0].count("ESTABLISHED") == 5
    # Stalled past the timeout (2 s) plus the time to fill the socket buffers: dropped, S3 released.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "ESTABLISHED" in s3_connections(server, backend["port"])[0]:
        time.sleep(0.2)
    states, fds_after = s3_connections(server, backend["port"])
    assert "ESTABLISHED" not in states and "CLOSE_WAIT" not in states, (states, server.log()[-3000:])
    assert server.log().count("dropped a reader of GET /docs/big.bin") == 5
    # Each reader then sees its download end short of the 64 MiB it was promised, never a complete-looking body.
    for reader in readers:
        reader.settimeout(10)
        received = 0
        try:
            while chunk := reader.recv(1024 * 1024):
                received += len(chunk)
        except ConnectionResetError:
            pass
        reader.close()
        assert 0 < received < BIG_SIZE
    # Nothing leaks: the workers hold the descriptors they held before the readers came.
    time.sleep(0.5)
    assert s3_connections(server, backend["port"])[1] <= fds_before


def test_connections_beyond_capacity_get_503_with_retry_after_at_once(serve):
    server = serve(GUNICORN_WORKER_CONNECTIONS=20, WEB_CONCURRENCY=1)
    port = int(server.url.rsplit(":", 1)[1])
    everyone_started = threading.Event()
    # 20 slow downloads fill the worker's 20 connections.
    readers = Background(run_readers, port, f"/docs/{BIG_KEY}", 20, 16 * 1024, 0.25, 8.0,
                         on_started=everyone_started.set)
    readers.start()
    assert everyone_started.wait(20)
    with requests.get(f"{server.url}/docs/{PAGE_KEY}", timeout=PAGE_DEADLINE) as response:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert b"capacity" in response.content
    readers.join(30)
    assert summary(readers.results)["status_200"] == 20
    # Once the downloads have gone, the same worker serves again.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with requests.get(f"{server.url}/docs/{PAGE_KEY}", timeout=PAGE_DEADLINE) as response:
            if response.status_code == 200:
                break
        time.sleep(0.2)
    assert response.status_code == 200 and response.content == PAGE
    assert "at capacity (20 connections): answered 503" in server.log()


def test_a_client_that_keeps_its_connection_busy_does_not_starve_another(serve):
    # Cache hits never wait on S3, so a kept-alive connection whose next request is always there
    # already would be served again and again: gevent switches only when a socket would block.
    server = serve(DOCS_CACHE="on", WEB_CONCURRENCY=1)
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    requests.get(f"{server.url}/docs/{PAGE_KEY}", timeout=PAGE_DEADLINE).raise_for_status()  # now cached
    busy_request = f"GET /docs/{PAGE_KEY}?busy HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    with socket.create_connection((host, port), timeout=PAGE_DEADLINE) as busy, \
            socket.create_connection((host, port), timeout=PAGE_DEADLINE) as other:
        drained = threading.Event()

        def drain():
            # Read the busy connection's answers as fast as they come, so its socket always has room.
            with busy.makefile("rb") as answers:
                while answers.read(64 * 1024):
                    pass
            drained.set()

        reader = threading.Thread(target=drain, daemon=True)
        busy.sendall(busy_request * 400)  # pipelined: every next request is already waiting
        reader.start()
        other.sendall(f"GET /docs/{PAGE_KEY}?other HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := other.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(PAGE)
        busy.shutdown(socket.SHUT_WR)
        reader.join(30)
    served = [line for line in server.log().splitlines() if f"/docs/{PAGE_KEY}?" in line]
    order = [("other" if "?other" in line else "busy") for line in served]
    assert order.count("busy") == 400, order.count("busy")
    # The other connection had its turn within the first few of the busy one's 400 requests.
    assert order.index("other") < 20, order.index("other")
