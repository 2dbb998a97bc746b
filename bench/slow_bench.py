"""Slow-reader benchmark: 1,000 slow downloads while other readers fetch pages, app against the nginx peer.

Same servers as serve_bench.py (a static nginx answering like path-style S3, an nginx reverse proxy
"peer", gunicorn with the repository's gunicorn.conf.py), and, with ``--engines gevent,gthread``, the
app under each engine in the same run. For each target: 1,000 readers (``tests/slowclients.py``, in a
child process) download the big object reading 16 KiB every 0.25 s; once they have all started, page
requests on fresh connections measure p50/p99 and check every body byte for byte; worker RSS is sampled
idle, during, and after the readers leave. Results go to bench/results/; see bench/README.md.
"""

import argparse
import datetime
import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nginx
from serve_bench import (BIG_KEY, BUCKET, FAKE_CREDENTIALS, MIB, PAGE_KEY, Gunicorn, Processes, check_backend,
                         check_served, child_pids, cpu_seconds, free_port, make_site, raise_system_exit, vm_rss_kib,
                         wait_for_listeners)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

TARGET_P99_VS_PEER = 2.0
TARGET_P99_MS = 250.0
TARGET_RSS_GROWTH_MIB = 256.0
TARGET_RSS_AFTER_MIB = 64.0


def parse_args(argv=None):
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--read-size", type=int, default=16 * 1024, help="bytes each reader takes per read")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between a reader's reads")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the readers read")
    parser.add_argument("--ramp", type=float, default=30.0,
                        help="seconds to wait for every reader to start before the pages are measured anyway")
    parser.add_argument("--page-clients", type=int, default=4, help="concurrent page fetchers")
    parser.add_argument("--page-timeout", type=float, default=5.0, help="seconds a page may take before it counts as failed")
    parser.add_argument("--big-mib", type=int, default=256, help="size of the big object in MiB")
    parser.add_argument("--engines", default="gevent", help="app engines to run, comma-separated: gevent,gthread")
    parser.add_argument("--app-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--workdir", help="directory for the site and nginx prefixes (default: a temp dir)")
    return parser.parse_args(argv)


class Pages(threading.Thread):
    """Fetch the page on fresh connections from ``clients`` threads until stopped; keep latencies and failures."""

    def __init__(self, port, path, expected, clients, timeout):
        super().__init__(daemon=True)
        self.port, self.path, self.expected, self.clients, self.timeout = port, path, expected, clients, timeout
        self.latencies = []
        self.failures = []
        self.stop_event = threading.Event()
        self.started = time.monotonic()

    def fetch_loop(self):
        while not self.stop_event.is_set():
            start = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                connection.request("GET", self.path, headers={"Connection": "close"})
                response = connection.getresponse()
                body = response.read()
                elapsed = time.monotonic() - start
                if response.status != 200 or body != self.expected:
                    self.failures.append(f"status {response.status}, {len(body)} bytes")
                else:
                    self.latencies.append(elapsed)
            except OSError as error:
                self.failures.append(f"{type(error).__name__} after {time.monotonic() - start:.1f} s, "
                                     f"{start - self.started:.1f} s into the run")
            finally:
                connection.close()
            self.stop_event.wait(0.05)

    def run(self):
        threads = [threading.Thread(target=self.fetch_loop, daemon=True) for _ in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def figures(self):
        ordered = sorted(self.latencies)

        def percentile(p):
            return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1e3 if ordered else None

        return {"pages": len(ordered) + len(self.failures), "ok": len(ordered), "failed": len(self.failures),
                "p50_ms": percentile(0.50), "p99_ms": percentile(0.99), "failures": self.failures[:5]}


def rss_mib(pids):
    """Return the summed VmRSS of ``pids`` in MiB."""
    return sum(vm_rss_kib(pid) or 0 for pid in pids) / 1024


def measure(name, port, prefix, site, args, worker_pids, server_pids):
    """Run the readers and the pages against one server; return the figures."""
    print(f"[{name}] {args.readers} readers x {args.read_size // 1024} KiB every {args.interval} s for {args.seconds:g} s",
          flush=True)
    idle = rss_mib(worker_pids) if worker_pids else None
    readers = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "slowclients.py"), str(port), f"{prefix}/{BIG_KEY}",
         "--readers", str(args.readers), "--read-size", str(args.read_size), "--interval", str(args.interval),
         "--seconds", str(args.seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    peak = idle
    # Pages are measured once every reader is downloading (has its response head), or after --ramp.
    ramp_started = time.monotonic()
    if select.select([readers.stdout], [], [], args.ramp)[0]:
        assert readers.stdout.readline().strip() == "started", "the readers stopped before starting"
    ramp = time.monotonic() - ramp_started
    pages = Pages(port, f"{prefix}/{PAGE_KEY}", site["page"], args.page_clients, args.page_timeout)
    cpu = cpu_seconds(server_pids)
    pages.start()
    while readers.poll() is None:
        if worker_pids:
            peak = max(peak, rss_mib(worker_pids))
        time.sleep(0.2)
    pages.stop_event.set()
    cpu = (cpu_seconds(server_pids) - cpu) / (time.monotonic() - pages.started)
    pages.join(args.page_timeout + 5)
    output = json.loads(readers.stdout.read().strip().splitlines()[-1])
    after = None
    if worker_pids:
        time.sleep(3.0)  # the server notices the readers' hang-ups and frees what they held
        after = rss_mib(worker_pids)
    result = {"pages": pages.figures(), "readers": output["summary"], "ramp_s": round(ramp, 2), "server_cpu_share": round(cpu, 3),
              "rss_idle_mib": idle, "rss_peak_mib": peak,
              "rss_after_mib": after}
    page = result["pages"]
    print(f"  pages: {page['ok']} ok, {page['failed']} failed, p50 {fmt(page['p50_ms'])} ms, p99 {fmt(page['p99_ms'])} ms;"
          f" readers with data {output['summary']['received_data']}/{args.readers}, longest gap "
          f"{output['summary']['longest_gap_s']} s; RSS {fmt(idle)} -> {fmt(peak)} -> {fmt(after)} MiB", flush=True)
    return result


def fmt(value, digits=1):
    """Format a number or a missing value."""
    return "-" if value is None else f"{value:,.{digits}f}"


def bench(workdir, args):
    """Start the servers under ``workdir`` and measure each; return the results."""
    big_size = args.big_mib * MIB
    extra_env = dict(item.split("=", 1) for item in args.app_env)
    os.environ.update({name: value for name, value in FAKE_CREDENTIALS.items() if name not in os.environ})
    workdir.chmod(0o755)
    site = make_site(workdir / "site", big_size)
    results = {"args": vars(args), "cpus": os.cpu_count()}
    with Processes() as processes:
        backend_port, peer_port = free_port(), free_port()
        backend = processes.add("backend", nginx.start_nginx(
            workdir / "backend",
            nginx.backend_config(workdir / "backend", backend_port, workdir / "site", BUCKET, PAGE_KEY, BIG_KEY),
            workdir / "backend.out",
        ))
        wait_for_listeners(backend_port, backend)
        endpoint = f"http://127.0.0.1:{backend_port}"
        check_backend(endpoint, site, big_size)
        peer = processes.add("peer", nginx.start_nginx(
            workdir / "peer", nginx.proxy_config(workdir / "peer", peer_port, backend_port, BUCKET),
            workdir / "peer.out",
        ))
        wait_for_listeners(peer_port, peer)
        check_served(f"http://127.0.0.1:{peer_port}/docs", site, big_size)
        results["peer"] = measure("peer", peer_port, "/docs", site, args, None, [peer.pid, *child_pids(peer.pid)])
        for engine in args.engines.split(","):
            app = Gunicorn(processes, workdir, endpoint, {**extra_env, "GUNICORN_WORKER_CLASS": engine}, label=engine)
            check_served(f"{app.url}/docs", site, big_size)
            workers = child_pids(app.process.pid)
            results[engine] = measure(f"app, {engine}", app.port, "/docs", site, args, workers, [app.process.pid, *workers])
            results[engine]["log_tail"] = app.log_path.read_text(errors="replace")[-2000:]
            processes.stop(app.process)
    return results


def report(results, args):
    """Return the results as text with the targets."""
    lines = [f"{args.readers} slow readers ({args.read_size // 1024} KiB every {args.interval} s, {args.seconds:g} s) "
             f"+ {args.page_clients} page fetchers on fresh connections",
             "",
             "| target | pages ok / failed | page p50 ms | page p99 ms | p99 vs peer | readers with data | longest gap s "
             "| least bytes | worker RSS idle -> peak -> after MiB | server CPU (cores) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    peer_p99 = results["peer"]["pages"]["p99_ms"]
    for name in ["peer", *args.engines.split(",")]:
        r = results[name]
        p = r["pages"]
        ratio = p["p99_ms"] / peer_p99 if p["p99_ms"] and peer_p99 else None
        rss = "" if r["rss_idle_mib"] is None else f"{fmt(r['rss_idle_mib'])} -> {fmt(r['rss_peak_mib'])} -> {fmt(r['rss_after_mib'])}"
        lines.append(f"| {name} | {p['ok']} / {p['failed']} | {fmt(p['p50_ms'])} | {fmt(p['p99_ms'])} | "
                     f"{fmt(ratio, 2) + 'x' if ratio else '-'} | {r['readers']['received_data']}/{args.readers} | "
                     f"{r['readers']['longest_gap_s']} | {r['readers']['least_bytes']:,} | {rss} | {r['server_cpu_share']:.2f} |")
    if "gevent" in results:
        r = results["gevent"]
        p = r["pages"]
        checks = [
            ("every page 200 byte-exact", p["failed"] == 0 and p["ok"] > 0),
            (f"page p99 <= {TARGET_P99_VS_PEER}x the peer's", bool(p["p99_ms"] and peer_p99 and p["p99_ms"] <= TARGET_P99_VS_PEER * peer_p99)),
            (f"page p99 <= {TARGET_P99_MS:g} ms", bool(p["p99_ms"] and p["p99_ms"] <= TARGET_P99_MS)),
            ("every reader received data", r["readers"]["received_data"] == args.readers),
            (f"RSS growth <= {TARGET_RSS_GROWTH_MIB:g} MiB", r["rss_peak_mib"] - r["rss_idle_mib"] <= TARGET_RSS_GROWTH_MIB),
            (f"RSS after within {TARGET_RSS_AFTER_MIB:g} MiB of idle", r["rss_after_mib"] - r["rss_idle_mib"] <= TARGET_RSS_AFTER_MIB),
        ]
        lines += ["", *(f"{'PASS' if ok else 'FAIL'}: {label}" for label, ok in checks)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Run the slow-reader benchmark, print the table, and save it to bench/results/."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_system_exit)
    signal.signal(signal.SIGHUP, raise_system_exit)
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        results = bench(workdir, args)
    else:
        with tempfile.TemporaryDirectory(prefix="slow-bench-") as temp:
            results = bench(Path(temp), args)
    text = report(results, args)
    print()
    print(text, end="")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"slow-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / f"slow-{stamp}.txt").write_text(text)
    print(f"saved bench/results/slow-{stamp}.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
