"""Operations benchmark: CPU per 4 KiB page with metrics and JSON logs, against the same app without them.

Both servers run at once, each gunicorn with one worker, against the static nginx backend of
serve_bench.py (a path-style S3 endpoint on 127.0.0.1): "plain" has ``DOCS_METRICS=off`` and the text
access log (what docs-proxy did before issue 12), "ops" has metrics (multiprocess files) and JSON
access and application logs. wrk loads one, then the other, alternating for a few rounds; the figure
is the server's user+system CPU time per request (gunicorn master and worker, from /proc), far
steadier on a shared machine than requests/s. The result is the ratio ops / plain in one run.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import nginx  # noqa: E402
import serve_bench as sb  # noqa: E402

TARGET_RATIO = 1.10
TARGETS = {
    "plain": {"DOCS_METRICS": "off", "DOCS_LOG_FORMAT": "text"},
    "ops": {"DOCS_METRICS": "on", "DOCS_LOG_FORMAT": "json"},
}


def parse_args(argv=None):
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds (both targets loaded at once)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per round")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (kept alive)")
    return parser.parse_args(argv)


def measure(servers, urls, args):
    """Load both servers at once for one round; return each one's requests, requests/s and CPU µs per request.

    At once, so that whatever else runs on the machine slows both alike.
    """
    pids = {name: [server.process.pid, *server.worker_pids] for name, server in servers.items()}
    before = {name: sb.cpu_seconds(pids[name]) for name in servers}
    with ThreadPoolExecutor(len(servers)) as pool:
        futures = {
            name: pool.submit(sb.run_wrk, urls[name], args.duration, args.connections, 1, False) for name in servers
        }
        results = {name: future.result() for name, future in futures.items()}
    figures = {}
    for name, result in results.items():
        used = sb.cpu_seconds(pids[name]) - before[name]
        if result["non_2xx"] or result["socket_errors"]:
            raise RuntimeError(f"{name}: errors under load: {result}")
        figures[name] = {"requests": result["requests"], "rps": result["rps"],
                         "cpu_us_per_request": used / result["requests"] * 1e6}
    return figures


def isolated_cost(calls=20000):
    """Return the µs per request of what ops adds, timed in this process: metric updates and a JSON access line.

    A steadier check of the ratio's numerator on a shared machine: the work itself, without a server.
    """
    import io
    import logging
    import os
    from datetime import timedelta
    from types import SimpleNamespace

    from app.ops.logging import access_fields, json_formatter
    from app.ops.metrics import Metrics, s3_outcome

    metrics = Metrics()
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/docs/index.html", "REMOTE_ADDR": "127.0.0.1",
               "SERVER_PROTOCOL": "HTTP/1.1", "docs_proxy.route": "docs", "docs_proxy.request_id": "0" * 32,
               "docs_proxy.s3_key": "index.html", "docs_proxy.s3_request_id": "R" * 20}
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(json_formatter())
    logger = logging.getLogger("ops-bench-access")
    logger.propagate = False
    logger.addHandler(handler)
    response = SimpleNamespace(status="200 OK", sent=4096)
    started = time.process_time()
    for _ in range(calls):
        metrics.observe_s3("GetObject", s3_outcome(status=200), 0.004)
        metrics.observe_request(environ, 200, 4096, 0.01)
        logger.info("request", extra=access_fields(response, None, environ, timedelta(milliseconds=10)))
    return (time.process_time() - started) / calls * 1e6, bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def bench(workdir, args):
    """Start the backend and both servers, run the rounds, and return the results."""
    workdir.chmod(0o755)
    site = sb.make_site(workdir / "site", sb.MIB)
    results = {"args": vars(args), "rounds": {name: [] for name in TARGETS}}
    with sb.Processes() as processes:
        port = sb.free_port()
        backend = processes.add("backend", nginx.start_nginx(
            workdir / "backend",
            nginx.backend_config(workdir / "backend", port, workdir / "site", sb.BUCKET, sb.PAGE_KEY, sb.BIG_KEY,
                                 page_crc32=site["page_crc32"], big_crc32=site["big_crc32"]),
            workdir / "backend.out",
        ))
        sb.wait_for_listeners(port, backend)
        endpoint = f"http://127.0.0.1:{port}"
        servers = {
            name: sb.Gunicorn(processes, workdir, endpoint, {**env, "WEB_CONCURRENCY": "1"}, label=name)
            for name, env in TARGETS.items()
        }
        urls = {name: f"{server.url}/docs/{sb.PAGE_KEY}" for name, server in servers.items()}
        for name, url in urls.items():
            with urllib.request.urlopen(url) as response:
                assert response.read() == site["page"], f"{name} served the wrong page"
            sb.run_wrk(url, 1, args.connections, 1, close=False)  # warm up
        for _ in range(args.rounds):
            for name, figures in measure(servers, urls, args).items():
                results["rounds"][name].append(figures)
        with urllib.request.urlopen(f"{servers['ops'].url}/_/metrics") as response:
            metrics = response.read().decode()
        served = sum(r["requests"] for r in results["rounds"]["ops"])
        results["ops_metrics_docs_requests"] = sum(
            float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
            if line.startswith('docs_proxy_http_requests_total{') and 'route="docs"' in line
        )
        results["ops_requests_sent"] = served
        last = servers["ops"].log_path.read_text().splitlines()[-1]
        results["ops_log_line"] = json.loads(last)
    # The same files-backed values the workers use.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "isolated-metrics")
    (workdir / "isolated-metrics").mkdir()
    results["isolated_us_per_request"], _ = isolated_cost()
    return results


def report(results):
    """Return the table of figures and whether the target holds."""
    median = {
        name: {key: statistics.median(r[key] for r in rounds) for key in ("cpu_us_per_request", "rps")}
        for name, rounds in results["rounds"].items()
    }
    ratio = median["ops"]["cpu_us_per_request"] / median["plain"]["cpu_us_per_request"]
    pair_ratios = [
        ops["cpu_us_per_request"] / plain["cpu_us_per_request"]
        for ops, plain in zip(results["rounds"]["ops"], results["rounds"]["plain"])
    ]
    results["pair_ratios"] = pair_ratios
    results["median"] = median
    results["ratio"] = ratio
    lines = [
        "| | plain (no metrics, text log) | ops (metrics + JSON logs) | ratio |",
        "|---|---:|---:|---:|",
        f"| server CPU per 4 KiB request (median of {len(results['rounds']['ops'])}) | "
        f"{median['plain']['cpu_us_per_request']:.0f} µs | {median['ops']['cpu_us_per_request']:.0f} µs | {ratio:.3f}x |",
        f"| requests/s, 1 worker, keep-alive | {median['plain']['rps']:.0f} | {median['ops']['rps']:.0f} | "
        f"{median['ops']['rps'] / median['plain']['rps']:.3f}x |",
        "",
        f"rounds (µs/request): plain {[round(r['cpu_us_per_request']) for r in results['rounds']['plain']]}, "
        f"ops {[round(r['cpu_us_per_request']) for r in results['rounds']['ops']]}; "
        f"ratio per round {[round(r, 3) for r in pair_ratios]}",
        f"ops /_/metrics counted {results['ops_metrics_docs_requests']:.0f} docs requests; wrk sent "
        f"{results['ops_requests_sent']} plus the check and warm-up",
        f"isolated (metric updates + one JSON access line, files-backed values, no server): "
        f"{results['isolated_us_per_request']:.0f} µs per request = "
        f"{results['isolated_us_per_request'] / median['plain']['cpu_us_per_request']:.1%} of plain's CPU per request",
        f"target: added CPU per request under {TARGET_RATIO - 1:.0%}: "
        + ("PASS" if ratio < TARGET_RATIO else "FAIL") + f" ({ratio - 1:+.1%})",
    ]
    return "\n".join(lines) + "\n", ratio < TARGET_RATIO


def main(argv=None):
    """Run the operations benchmark and print and save its figures."""
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as temp:
        results = bench(Path(temp), args)
    text, passed = report(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    print(text, end="")
    sb.RESULTS.mkdir(parents=True, exist_ok=True)
    path = sb.RESULTS / f"ops-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"saved {path} ({results['seconds']:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
