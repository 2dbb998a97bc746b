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
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per target")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per round")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (kept alive)")
    return parser.parse_args(argv)


def measure(server, url, args):
    """Load ``url`` for one round; return requests, requests/s and CPU seconds per request of ``server``."""
    pids = [server.process.pid, *server.worker_pids]
    before = sb.cpu_seconds(pids)
    result = sb.run_wrk(url, args.duration, args.connections, 1, close=False)
    used = sb.cpu_seconds(pids) - before
    if result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError(f"errors under load: {result}")
    return {"requests": result["requests"], "rps": result["rps"], "cpu_us_per_request": used / result["requests"] * 1e6}


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
            for name in TARGETS:
                results["rounds"][name].append(measure(servers[name], urls[name], args))
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
    return results


def report(results):
    """Return the table of figures and whether the target holds."""
    median = {
        name: {key: statistics.median(r[key] for r in rounds) for key in ("cpu_us_per_request", "rps")}
        for name, rounds in results["rounds"].items()
    }
    ratio = median["ops"]["cpu_us_per_request"] / median["plain"]["cpu_us_per_request"]
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
        f"ops {[round(r['cpu_us_per_request']) for r in results['rounds']['ops']]}",
        f"ops /_/metrics counted {results['ops_metrics_docs_requests']:.0f} docs requests; wrk sent "
        f"{results['ops_requests_sent']} plus the check and warm-up",
        f"target: added CPU per request under {TARGET_RATIO - 1:.0%}: "
        + ("PASS" if ratio < TARGET_RATIO else "FAIL") + f" (+{ratio - 1:.1%})",
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
