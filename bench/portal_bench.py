"""Portal benchmark: the landing page for 50 projects x 40 versions against a 4 KiB page, in the same run.

Everything runs on 127.0.0.1 and is started and stopped here: a static nginx that answers like a
path-style S3 endpoint (holding a 4 KiB page and a portal index written by the app's own code), and
docs-proxy under gunicorn with the repository's gunicorn.conf.py. wrk measures, one after the other
with the same settings: the 4 KiB page (the peer: one S3 GET, streamed), the landing page (one S3
GET that misses the root index.html, then the cached catalog rendered through Jinja), an alias
redirect and a project page. Results go to bench/results/; see bench/README.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

import nginx
from serve_bench import FAKE_CREDENTIALS, Processes, free_port, run_and_save, run_wrk, wait_for_listeners

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from app.portal.catalog import empty_index, encode_index  # noqa: E402
from app.portal.index import INDEX_NAME, record_version  # noqa: E402

BUCKET = "bucket"
PAGE_KEY = "bench/page.html"
PAGE_SIZE = 4 * 1024
SERVER = """\
    types {{ text/html html; application/json json; }}
    default_type binary/octet-stream;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        root {root};
    }}
"""


def parse_args(argv=None):
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--versions", type=int, default=40)
    parser.add_argument("--duration", type=int, default=3, help="seconds of wrk per URL and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each measures every URL once, interleaved")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (keep-alive)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    return parser.parse_args(argv)


def make_bucket(root, projects, versions):
    """Write the 4 KiB page and a portal index of ``projects`` x ``versions`` under ``root/bucket/``."""
    bucket = root / BUCKET
    (bucket / "bench").mkdir(parents=True)
    head, tail = b"<!doctype html>\n<html><head><title>bench page</title></head><body>\n", b"</body></html>\n"
    filler = b"<p>" + b"docs-proxy portal benchmark. " * 3 + b"</p>\n"
    (bucket / PAGE_KEY).write_bytes(head + (filler * 40)[: PAGE_SIZE - len(head) - len(tail)] + tail)
    document = empty_index()
    names = [f"{major}.{minor}.0" for major in range(1, 9) for minor in range(5)][:versions - 2] + ["9.0.0rc1", "main"]
    for number in range(projects):
        metadata = {"title": f"Service {number:02d}", "description": f"What service {number} does, in one line.",
                    "owner": f"Team {number % 7}", "contact": f"#team-{number % 7}", "tags": ["api", f"area-{number % 5}"],
                    "commit": "0123456789abcdef"}
        for version in names:
            record_version(f"service-{number:02d}", version, metadata, {"size": 123456, "files": 42})(document)
    (bucket / INDEX_NAME).write_bytes(encode_index(document))
    return len(names)


def start_gunicorn(processes, workdir, endpoint):
    """Start docs-proxy under gunicorn against ``endpoint``; return its URL."""
    port = free_port()
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": endpoint,
           "S3_ADDRESSING_STYLE": "path", "DOCS_BIND": f"127.0.0.1:{port}"}
    with open(workdir / "gunicorn.out", "wb") as log:
        process = processes.add("app", subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    wait_for_listeners(port, process, count=int(env.get("WEB_CONCURRENCY", os.cpu_count())))
    return f"http://127.0.0.1:{port}"


def fetch(url):
    """Return (status, body) of one GET that does not follow redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def bench(workdir, args):
    """Set up nginx and the app under ``workdir``, measure the four URLs, and return the results."""
    os.environ.update({name: value for name, value in FAKE_CREDENTIALS.items() if name not in os.environ})
    workdir.chmod(0o755)
    versions = make_bucket(workdir / "site", args.projects, args.versions)
    results = {"args": vars(args), "cpus": os.cpu_count(), "projects": args.projects, "versions": versions}
    with Processes() as processes:
        backend_port = free_port()
        body = SERVER.format(port=backend_port, root=workdir / "site")
        backend = processes.add("backend", nginx.start_nginx(
            workdir / "backend", nginx.COMMON.format(prefix=workdir / "backend", workers=1, body=body),
            workdir / "backend.out"))
        wait_for_listeners(backend_port, backend)
        app = start_gunicorn(processes, workdir, f"http://127.0.0.1:{backend_port}")
        urls = {
            "4 KiB page": f"{app}/docs/{PAGE_KEY}",
            "landing page": f"{app}/docs/",
            "alias redirect": f"{app}/docs/service-07/latest/guide/",
            "project page": f"{app}/_/projects/service-07",
        }
        for name, url in urls.items():
            status, body = fetch(url)
            expected = 302 if name == "alias redirect" else 200
            if status != expected:
                raise SystemExit(f"{name}: {url} answered {status}, expected {expected}")
            results.setdefault("bytes", {})[name] = len(body)
        if results["bytes"]["landing page"] < 10_000 or b"Service 49" not in fetch(urls["landing page"])[1]:
            raise SystemExit("the landing page does not list every project")
        # Interleaved rounds: on a shared machine the load drifts, and each URL should see the same drift.
        rounds = {name: [] for name in urls}
        for number in range(args.rounds):
            for name, url in urls.items():
                rounds[name].append(run_wrk(url, args.duration, args.connections, args.threads, close=False))
                print(f"round {number + 1} {name}: {rounds[name][-1]}", flush=True)
        for name, runs in rounds.items():
            results[name] = {
                "rps": statistics.median(run["rps"] for run in runs),
                "p50_ms": statistics.median(run["p50_ms"] for run in runs),
                "p99_ms": statistics.median(run["p99_ms"] for run in runs),
                "socket_errors": sum(run["socket_errors"] for run in runs),
                "non_2xx": sum(run["non_2xx"] for run in runs),
                "runs": runs,
            }
    return results


def report(results):
    """Return the results as a Markdown table with ratios against the 4 KiB page."""
    page = results["4 KiB page"]
    lines = [
        f"Portal benchmark, {results['projects']} projects x {results['versions']} versions, "
        f"{results['cpus']} CPUs, wrk -c{results['args']['connections']} keep-alive, "
        f"{results['args']['rounds']} interleaved rounds of {results['args']['duration']} s per URL (medians)",
        "",
        "| URL | bytes | requests/s | p50 ms | p99 ms | p50 vs 4 KiB page | requests/s vs 4 KiB page |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("4 KiB page", "landing page", "alias redirect", "project page"):
        row = results[name]
        lines.append(
            f"| {name} | {results['bytes'][name]:,} | {row['rps']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} "
            f"| {row['p50_ms'] / page['p50_ms']:.2f}x | {row['rps'] / page['rps']:.2f}x |"
        )
    errors = sum(results[name]["socket_errors"] + results[name]["non_2xx"] for name in ("4 KiB page", "landing page", "project page"))
    lines.append("")
    lines.append(f"socket errors and non-2xx/3xx answers: {errors}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the portal benchmark, print the table and save it to bench/results/."""
    run_and_save("portal", bench, report, parse_args(argv))


if __name__ == "__main__":
    main()
