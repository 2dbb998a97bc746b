"""Hub benchmark: a 4 KiB page with the hub's tag block injected against the same page without, in the same run.

Everything runs on 127.0.0.1 and is started and stopped here: a static nginx that answers like a
path-style S3 endpoint (two projects with the same 4 KiB page, and a portal index written by the app's
own code in which only ``hub`` has the hub on), and docs-proxy under gunicorn with the repository's
gunicorn.conf.py, once with the cache on (the default: the injected page is kept) and once with it off
(every request streams from S3 and injects on the way). wrk measures both pages in interleaved rounds.
Results go to bench/results/; see bench/README.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import nginx
from portal_bench import SERVER, fetch
from serve_bench import (FAKE_CREDENTIALS, Processes, child_pids, cpu_seconds, free_port, run_and_save, run_wrk,
                         wait_for_listeners)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from app.portal.catalog import empty_index, encode_index  # noqa: E402
from app.portal.index import INDEX_NAME, record_version  # noqa: E402

BUCKET = "bucket"
PAGE_SIZE = 4 * 1024
PAGES = {"without the hub": "plain/1.0/page.html", "with the hub": "hub/1.0/page.html"}


def parse_args(argv=None):
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds of wrk per URL and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each measures every URL once, interleaved")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (keep-alive)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    return parser.parse_args(argv)


def make_bucket(root):
    """Write the same 4 KiB page under both projects and a portal index in which ``hub`` has the hub on."""
    head, tail = b"<!doctype html>\n<html><head><title>bench page</title></head><body>\n", b"</body></html>\n"
    filler = b"<p>" + b"docs-proxy hub benchmark. " * 3 + b"</p>\n"
    page = head + (filler * 80)[: PAGE_SIZE - len(head) - len(tail)] + tail
    document = empty_index()
    for project, hub in (("plain", False), ("hub", True)):
        path = root / BUCKET / project / "1.0" / "page.html"
        path.parent.mkdir(parents=True)
        path.write_bytes(page)
        record_version(project, "1.0", {"hub": hub}, {"size": len(page), "files": 1})(document)
    (root / BUCKET / INDEX_NAME).write_bytes(encode_index(document))


def start_gunicorn(processes, workdir, endpoint, name, env):
    """Start docs-proxy under gunicorn against ``endpoint`` with ``env``; return its URL."""
    port = free_port()
    full = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": endpoint,
            "S3_ADDRESSING_STYLE": "path", "DOCS_BIND": f"127.0.0.1:{port}", **env}
    with open(workdir / f"gunicorn-{name}.out", "wb") as log:
        process = processes.add(name, subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=full,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    wait_for_listeners(port, process, count=int(full.get("WEB_CONCURRENCY", os.cpu_count())))
    return f"http://127.0.0.1:{port}", process


def bench(workdir, args):
    """Set up nginx and the app under ``workdir``, measure both pages with the cache on and off, return the results."""
    os.environ.update({name: value for name, value in FAKE_CREDENTIALS.items() if name not in os.environ})
    workdir.chmod(0o755)
    make_bucket(workdir / "site")
    results = {"args": vars(args), "cpus": os.cpu_count()}
    with Processes() as processes:
        backend_port = free_port()
        body = SERVER.format(port=backend_port, root=workdir / "site")
        backend = processes.add("backend", nginx.start_nginx(
            workdir / "backend", nginx.COMMON.format(prefix=workdir / "backend", workers=1, body=body),
            workdir / "backend.out"))
        wait_for_listeners(backend_port, backend)
        for cache in ("on", "off"):
            app, process = start_gunicorn(processes, workdir, f"http://127.0.0.1:{backend_port}", f"app-cache-{cache}",
                                          {"DOCS_CACHE": cache})
            urls = {name: f"{app}/docs/{key}" for name, key in PAGES.items()}
            for name, url in urls.items():
                status, page = fetch(url)
                injected = b'name="docs-hub-project"' in page
                if status != 200 or injected != (name == "with the hub"):
                    raise SystemExit(f"{name}: {url} answered {status}, injected={injected}")
                results.setdefault("bytes", {})[name] = len(page)
            # Interleaved rounds: on a shared machine the load drifts, and each URL should see the same drift.
            rounds = {name: [] for name in urls}
            pids = [process.pid, *child_pids(process.pid)]
            for number in range(args.rounds):
                # Alternating which page goes first, so neither always meets the load the other left behind.
                order = list(urls.items()) if number % 2 == 0 else list(urls.items())[::-1]
                for name, url in order:
                    before = cpu_seconds(pids)
                    run = run_wrk(url, args.duration, args.connections, args.threads, close=False)
                    # Server CPU per request: far steadier than requests/s on a shared machine.
                    run["cpu_us"] = (cpu_seconds(pids) - before) / max(run["requests"], 1) * 1e6
                    rounds[name].append(run)
                    print(f"cache {cache} round {number + 1} {name}: {rounds[name][-1]}", flush=True)
            results[f"cache {cache}"] = {
                name: {
                    "rps": statistics.median(run["rps"] for run in runs),
                    "p50_ms": statistics.median(run["p50_ms"] for run in runs),
                    "p99_ms": statistics.median(run["p99_ms"] for run in runs),
                    "cpu_us": statistics.median(run["cpu_us"] for run in runs),
                    "errors": sum(run["socket_errors"] + run["non_2xx"] for run in runs),
                    "runs": runs,
                }
                for name, runs in rounds.items()
            }
            process.terminate()
            process.wait(30)
    return results


def report(results):
    """Return the results as a Markdown table with the cost of the hub as a ratio to the page without it."""
    lines = [
        f"Hub benchmark, 4 KiB page, {results['cpus']} CPUs, wrk -c{results['args']['connections']} keep-alive, "
        f"{results['args']['rounds']} interleaved rounds of {results['args']['duration']} s per URL (medians)",
        "",
        "| cache | page | bytes | requests/s | p50 ms | p99 ms | server CPU µs/request | CPU vs without | requests/s vs without |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cache in ("on", "off"):
        rows = results[f"cache {cache}"]
        base = rows["without the hub"]
        for name in PAGES:
            row = rows[name]
            lines.append(f"| {cache} | {name} | {results['bytes'][name]:,} | {row['rps']:,.0f} | {row['p50_ms']:.2f} "
                         f"| {row['p99_ms']:.2f} | {row['cpu_us']:,.0f} | {row['cpu_us'] / base['cpu_us']:.3f}x "
                         f"| {row['rps'] / base['rps']:.3f}x |")
    errors = sum(row["errors"] for cache in ("on", "off") for row in results[f"cache {cache}"].values())
    lines += ["", f"socket errors and non-2xx answers: {errors}"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the hub benchmark, print the table and save it to bench/results/."""
    run_and_save("hub", bench, report, parse_args(argv))


if __name__ == "__main__":
    main()
