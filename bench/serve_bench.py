"""Serving benchmark: the app under gunicorn against nginx serving the same files directly and as a proxy.

Everything runs on 127.0.0.1 and is started and stopped here: a static nginx that answers like a
path-style S3 endpoint (the backend, also measured as "direct"), an nginx reverse proxy in front of it
("peer"), and gunicorn serving the app with the repository's gunicorn.conf.py ("app"). Results go to
bench/results/; see bench/README.md.
"""

import argparse
import base64
import datetime
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from collections import Counter
from pathlib import Path

import nginx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

BUCKET = "bucket"
PAGE_KEY = "index.html"
BIG_KEY = "big.bin"
PAGE_SIZE = 4 * 1024
KIB = 1024
MIB = 1024 * 1024

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

TARGET_THROUGHPUT_VS_DIRECT = 0.8
TARGET_TTFB_MS = 15.0
TARGET_RSS_GROWTH_MIB = 16.0
TARGET_PAGES_PER_SECOND = 1000.0

WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_args(argv=None):
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per target, Connection: close")
    parser.add_argument("--keepalive-duration", type=int, default=5,
                        help="seconds of wrk per target with keep-alive (0 skips it)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--reps", type=int, default=3, help="downloads of the big object per target (median)")
    parser.add_argument("--big-mib", type=int, default=512, help="size of the big object in MiB")
    parser.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=True,
                        help="also download the big object through the app at each --chunk-sizes")
    parser.add_argument("--chunk-sizes", default="64,256,1024,4096", help="DOCS_CHUNK_SIZE values in KiB to sweep")
    parser.add_argument("--checksums", action=argparse.BooleanOptionalAction, default=True,
                        help="backend sends x-amz-checksum-crc32 on whole-object GETs, as S3 does")
    parser.add_argument("--app-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for gunicorn (repeatable), e.g. GUNICORN_THREADS=8")
    parser.add_argument("--compare-engine", default="gthread",
                        help="also measure the app under this GUNICORN_WORKER_CLASS in the same run ('' skips it)")
    parser.add_argument("--workdir", help="directory for the site and nginx prefixes (default: a temp dir)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listener_count(port):
    """Return how many sockets listen on 127.0.0.1:``port`` (one per gunicorn worker with reuse_port)."""
    wanted = f"0100007F:{port:04X}"
    count = 0
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and fields[3] == "0A":
                count += 1
    return count


def wait_for_listeners(port, process, count=1, timeout=30.0):
    """Wait until ``count`` sockets listen on ``port``; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on port {port}")
        if listener_count(port) >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"fewer than {count} listeners on 127.0.0.1:{port} after {timeout}s")


class Processes:
    """The child processes of one run, each in its own process group, stopped on every exit path."""

    def __init__(self):
        self.running = []

    def add(self, name, process, stop_signal=signal.SIGTERM):
        """Track ``process`` so that leaving the ``with`` block stops it."""
        self.running.append((name, process, stop_signal))
        return process

    def stop(self, process, timeout=15.0):
        """Stop one process and its group: its stop signal, then SIGKILL if it lingers."""
        for entry in list(self.running):
            if entry[1] is process:
                self.running.remove(entry)
                _stop_group(process, entry[2], timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        while self.running:
            _, process, stop_signal = self.running.pop()
            _stop_group(process, stop_signal, 15.0)


def _stop_group(process, stop_signal, timeout):
    if process.poll() is None:
        try:
            os.killpg(process.pid, stop_signal)
            process.wait(timeout)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    # Workers left in the group (their leader already gone) must not outlive the run either.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def crc32_b64(crc):
    """Return a CRC32 as S3 writes it in x-amz-checksum-crc32: base64 of its 4 big-endian bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def make_site(root, big_size):
    """Write ``bucket/index.html`` (4 KiB) and ``bucket/big.bin`` (random, so nothing compresses)."""
    bucket = root / BUCKET
    bucket.mkdir(parents=True, exist_ok=True)
    head = b"<!doctype html>\n<html><head><title>bench page</title></head><body>\n"
    tail = b"</body></html>\n"
    filler = b"<p>" + b"docs-proxy serving benchmark. " * 3 + b"</p>\n"
    body = (filler * (PAGE_SIZE // len(filler) + 1))[: PAGE_SIZE - len(head) - len(tail)]
    page = head + body + tail
    (bucket / PAGE_KEY).write_bytes(page)
    crc = 0
    with open(bucket / BIG_KEY, "wb") as big:
        for _ in range(big_size // MIB):
            block = os.urandom(MIB)
            crc = zlib.crc32(block, crc)
            big.write(block)
    return {"page": page, "page_crc32": crc32_b64(zlib.crc32(page)), "big_crc32": crc32_b64(crc)}


def check_backend(endpoint, site, big_size):
    """Check that botocore's head_object and get_object work against the backend as against S3."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    head = s3.head_object(Bucket=BUCKET, Key=BIG_KEY)
    assert head["ContentLength"] == big_size, head
    assert head["ETag"].startswith('"') and head["LastModified"], head
    got = s3.get_object(Bucket=BUCKET, Key=PAGE_KEY)
    assert got["Body"].read() == site["page"], "page body differs"
    assert got["ContentType"] == "text/html" and got["ETag"] and got["LastModified"], got
    part = s3.get_object(Bucket=BUCKET, Key=BIG_KEY, Range="bytes=100-199")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206, part["ResponseMetadata"]
    assert part["ContentRange"] == f"bytes 100-199/{big_size}" and len(part["Body"].read()) == 100, part
    try:
        s3.get_object(Bucket=BUCKET, Key=PAGE_KEY, IfNoneMatch=got["ETag"])
    except ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 304, error.response
    else:
        raise AssertionError("If-None-Match with the current ETag did not give 304")


def check_served(docs, site, big_size):
    """Check one server returns the page intact and honours Range on the big object."""
    with urllib.request.urlopen(f"{docs}/{PAGE_KEY}", timeout=10) as response:
        assert response.read() == site["page"], f"{docs}: page body differs"
    request = urllib.request.Request(f"{docs}/{BIG_KEY}", headers={"Range": "bytes=0-1023"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206 and len(response.read()) == 1024, f"{docs}: Range not honoured"
        assert response.headers["Content-Range"] == f"bytes 0-1023/{big_size}", response.headers


def parse_wrk(text):
    """Return requests/s, p50/p99 latency (ms) and error counts from wrk's ``--latency`` output."""
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for percent in ("50", "99"):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
        result[f"p{percent}_ms"] = float(match.group(1)) * WRK_UNITS[match.group(2)]
    match = re.search(r"(\d+) requests in", text)
    result["requests"] = int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(int(n) for n in match.groups()) if match else 0
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non_2xx"] = int(match.group(1)) if match else 0
    return result


def run_wrk(url, duration, connections, threads, close):
    """Run wrk against ``url`` for ``duration`` seconds and return its parsed figures."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if close:
        command += ["-H", "Connection: close"]
    finished = subprocess.run(
        command + [url], capture_output=True, text=True, timeout=duration + 30, check=True
    )
    return parse_wrk(finished.stdout)


def curl(url, max_time=120):
    """Download ``url`` to /dev/null and return status, size, time to first byte (ms) and MB/s."""
    finished = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "--max-time", str(max_time),
         "-w", "%{http_code} %{size_download} %{time_starttransfer} %{speed_download}", url],
        capture_output=True, text=True, timeout=max_time + 10, check=True,
    )
    code, size, ttfb, speed = finished.stdout.split()
    return {"status": int(code), "size": int(float(size)), "ttfb_ms": float(ttfb) * 1e3, "mbps": float(speed) / 1e6}


def vm_rss_kib(pid):
    """Return the resident set size of ``pid`` in KiB, or None once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def child_pids(parent):
    """Return the pids whose parent is ``parent`` (gunicorn's workers, for its master)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # The command name is in parentheses and may hold spaces; the ppid follows it.
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(entry))
    return sorted(children)


def cpu_seconds(pids):
    """Return the user+system CPU time the ``pids`` have used so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
        total += int(fields[11]) + int(fields[12])
    return total / ticks


class RssSampler:
    """Samples VmRSS of some pids every ``interval`` seconds in a thread: baseline, then peak."""

    def __init__(self, pids, interval=0.02):
        self.pids = pids
        self.interval = interval
        self.baseline = {pid: vm_rss_kib(pid) or 0 for pid in pids}
        self.peak = dict(self.baseline)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            self.samples += 1
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], vm_rss_kib(pid) or 0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(5)

    def growth_mib(self):
        """Return the largest growth of any one pid, in MiB."""
        return max((self.peak[pid] - self.baseline[pid]) / 1024 for pid in self.pids)


def measure_big(url, reps, big_size, worker_pids=None):
    """Download the big object ``reps`` times; return median MB/s and TTFB, and worker RSS if pids given."""
    runs = []
    rss = []
    for _ in range(reps):
        sampler = RssSampler(worker_pids) if worker_pids else None
        if sampler:
            with sampler:
                run = curl(url)
        else:
            run = curl(url)
        if run["status"] != 200 or run["size"] != big_size:
            raise RuntimeError(f"{url}: status {run['status']}, {run['size']} bytes; expected 200, {big_size}")
        runs.append(run)
        if sampler:
            rss.append({
                "baseline_mib": sum(sampler.baseline.values()) / 1024 / len(worker_pids),
                "peak_mib": max(sampler.peak.values()) / 1024,
                "growth_mib": sampler.growth_mib(),
                "samples": sampler.samples,
            })
    result = {
        "mbps": statistics.median(run["mbps"] for run in runs),
        "ttfb_ms": statistics.median(run["ttfb_ms"] for run in runs),
        "runs": runs,
    }
    if rss:
        result["rss"] = {
            "baseline_mib": min(r["baseline_mib"] for r in rss),
            "peak_mib": max(r["peak_mib"] for r in rss),
            "growth_mib": max(r["growth_mib"] for r in rss),
            "runs": rss,
        }
    return result


def measure_page_ttfb(url, reps=5):
    """Return the median time to first byte of the 4 KiB page, in ms, over fresh connections."""
    return statistics.median(curl(url, max_time=10)["ttfb_ms"] for _ in range(reps))


class Gunicorn:
    """gunicorn serving the app with the repository's gunicorn.conf.py, its log in a file."""

    def __init__(self, processes, workdir, endpoint, extra_env, label="app", app_spec="wsgi:app"):
        self.port = free_port()
        self.log_path = Path(workdir) / f"gunicorn-{label}-{self.port}.log"
        env = {
            **os.environ,
            **FAKE_CREDENTIALS,
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": endpoint,
            "S3_ADDRESSING_STYLE": "path",
            **extra_env,
            "DOCS_BIND": f"127.0.0.1:{self.port}",
            # gunicorn's control socket defaults to one path per user; other gunicorns on the machine
            # (a test run) would contend for it.
            "XDG_RUNTIME_DIR": str(workdir),
        }
        self.workers = int(env.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
        with open(self.log_path, "wb") as log:
            self.process = processes.add(
                label,
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app_spec],
                    cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                ),
                # SIGQUIT is gunicorn's quick shutdown; SIGTERM would wait graceful_timeout for downloads.
                signal.SIGQUIT,
            )
        # With reuse_port every worker binds its own socket: wait for all, or the first takes everything.
        wait_for_listeners(self.port, self.process, count=self.workers)
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker_pids = child_pids(self.process.pid)

    def log_offset(self):
        """Return the current size of the log, to count only what follows."""
        return self.log_path.stat().st_size

    def requests_per_worker(self, since):
        """Return a Counter of access-log lines per worker pid written after offset ``since``."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            text = log.read().decode("utf-8", "replace")
        # gunicorn renders %(p)s as "<pid>".
        return Counter(re.findall(r'"GET /docs/[^"]*" \d+ .* pid=<?(\d+)>?', text))


def warm_up(page_url, big_url):
    """Exercise the page and the streaming path on many connections before anything is timed or sampled.

    A worker's first streamed responses grow its RSS by some MiB (lazy imports, per-thread malloc
    arenas) whatever the chunk size; that one-off cost is not what the RSS figure is about.
    """
    subprocess.run(["wrk", "-t1", "-c8", "-d1s", page_url], capture_output=True, timeout=30, check=True)
    subprocess.run(["wrk", "-t1", "-c8", "-d1s", "-H", "Range: bytes=0-8388607", big_url],
                   capture_output=True, timeout=30, check=True)


def measure_target(name, docs, args, big_size, server_pids, gunicorn=None):
    """Measure one server (``docs`` is its URL for the docs root): 4 KiB pages, the big object, workers.

    The CPU time of ``server_pids`` (the server's own processes, not the backend behind a proxy) is
    recorded too: on a machine shared with other work it varies far less than requests per second.
    """
    page_url = f"{docs}/{PAGE_KEY}"
    big_url = f"{docs}/{BIG_KEY}"
    print(f"[{name}] {docs}/", flush=True)
    warm_up(page_url, big_url)
    result = {}
    offset = gunicorn.log_offset() if gunicorn else 0
    cpu = cpu_seconds(server_pids)
    result["close"] = run_wrk(page_url, args.duration, args.connections, args.wrk_threads, close=True)
    result["close"]["cpu_ms_per_request"] = (cpu_seconds(server_pids) - cpu) * 1e3 / max(result["close"]["requests"], 1)
    if gunicorn:
        result["close"]["per_worker"] = gunicorn.requests_per_worker(offset)
    print(f"  4 KiB, Connection: close: {result['close']['rps']:.0f} req/s", flush=True)
    if args.keepalive_duration:
        offset = gunicorn.log_offset() if gunicorn else 0
        result["keepalive"] = run_wrk(page_url, args.keepalive_duration, args.connections, args.wrk_threads,
                                      close=False)
        if gunicorn:
            result["keepalive"]["per_worker"] = gunicorn.requests_per_worker(offset)
        print(f"  4 KiB, keep-alive: {result['keepalive']['rps']:.0f} req/s", flush=True)
    result["page_ttfb_ms"] = measure_page_ttfb(page_url)
    cpu = cpu_seconds(server_pids)
    result["big"] = measure_big(big_url, args.reps, big_size, gunicorn.worker_pids if gunicorn else None)
    result["big"]["cpu_s_per_gb"] = (cpu_seconds(server_pids) - cpu) / (args.reps * big_size / 1e9)
    print(f"  {big_size // MIB} MiB: {result['big']['mbps']:.0f} MB/s, TTFB {result['big']['ttfb_ms']:.1f} ms",
          flush=True)
    return result


def run_sweep(processes, workdir, endpoint, args, big_size, extra_env):
    """Download the big object through the app at each chunk size, and once without checksum validation."""
    variants = [(f"DOCS_CHUNK_SIZE={int(kib)} KiB", {"DOCS_CHUNK_SIZE": str(int(kib) * KIB)})
                for kib in args.chunk_sizes.split(",")]
    # botocore validates x-amz-checksum-* on every whole-object GET by default; this is the env knob.
    variants.append(
        ("configured chunk, checksums when_required", {"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"})
    )
    rows = []
    for label, env in variants:
        app = Gunicorn(processes, workdir, endpoint, {**extra_env, **env}, label="sweep")
        try:
            warm_up(f"{app.url}/docs/{PAGE_KEY}", f"{app.url}/docs/{BIG_KEY}")
            cpu = cpu_seconds(app.worker_pids)
            big = measure_big(f"{app.url}/docs/{BIG_KEY}", args.reps, big_size, app.worker_pids)
            big["cpu_s_per_gb"] = (cpu_seconds(app.worker_pids) - cpu) / (args.reps * big_size / 1e9)
        finally:
            processes.stop(app.process)
        rows.append({"label": label, "env": env, **big})
        print(f"[sweep] {label}: {big['mbps']:.0f} MB/s, RSS growth {big['rss']['growth_mib']:.1f} MiB", flush=True)
    return rows


def ratio(a, b):
    """Return a / b, or None when b is zero or missing."""
    return a / b if a is not None and b else None


def fmt(value, digits=1):
    """Format a figure for the table; '-' when missing."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def fmt_ratio(value):
    """Format a ratio as '0.85x'."""
    return "-" if value is None else f"{value:.2f}x"


def balance(per_worker):
    """Return 'pid 1: 51% (n), pid 2: 49% (n)' for a Counter of requests per pid."""
    total = sum(per_worker.values())
    if not total:
        return "no requests logged"
    return ", ".join(f"pid {pid}: {100 * n / total:.0f}% ({n})" for pid, n in sorted(per_worker.items()))


def report(results, args, big_size):
    """Return the printed report: the comparison table, the targets, worker balance and the sweep."""
    direct, peer, app = results["direct"], results["peer"], results["app"]
    big_label = f"{big_size // MIB} MiB"
    rows = [
        ("4 KiB req/s (Connection: close)", lambda r: r["close"]["rps"], 0),
        ("4 KiB p50 ms (Connection: close)", lambda r: r["close"]["p50_ms"], 2),
        ("4 KiB p99 ms (Connection: close)", lambda r: r["close"]["p99_ms"], 2),
        ("4 KiB server CPU ms/request (close)", lambda r: r["close"]["cpu_ms_per_request"], 3),
    ]
    if args.keepalive_duration:
        rows += [
            ("4 KiB req/s (keep-alive)", lambda r: r["keepalive"]["rps"], 0),
            ("4 KiB p50 ms (keep-alive)", lambda r: r["keepalive"]["p50_ms"], 2),
            ("4 KiB p99 ms (keep-alive)", lambda r: r["keepalive"]["p99_ms"], 2),
        ]
    rows += [
        ("4 KiB TTFB ms (curl, median)", lambda r: r["page_ttfb_ms"], 2),
        (f"{big_label} MB/s (curl, median)", lambda r: r["big"]["mbps"], 0),
        (f"{big_label} TTFB ms (curl, median)", lambda r: r["big"]["ttfb_ms"], 2),
        (f"{big_label} server CPU s/GB", lambda r: r["big"]["cpu_s_per_gb"], 2),
    ]
    lines = [
        f"docs-proxy serving benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}, "
        f"{os.cpu_count()} CPUs, wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, "
        f"{args.reps} downloads of {big_label}, backend checksums {'on' if args.checksums else 'off'}"
        + (f", app env {' '.join(args.app_env)}" if args.app_env else ""),
        "",
        f"{'metric':<38}{'direct':>11}{'peer':>11}{'app':>11}{'app/peer':>10}{'app/direct':>12}{'peer/direct':>13}",
    ]
    for label, get, digits in rows:
        d, p, a = get(direct), get(peer), get(app)
        lines.append(f"{label:<38}{fmt(d, digits):>11}{fmt(p, digits):>11}{fmt(a, digits):>11}"
                     f"{fmt_ratio(ratio(a, p)):>10}{fmt_ratio(ratio(a, d)):>12}{fmt_ratio(ratio(p, d)):>13}")
    rss = app["big"]["rss"]
    for label, key in (("baseline", "baseline_mib"), ("peak", "peak_mib"), ("growth", "growth_mib")):
        lines.append(f"{'app worker RSS ' + label + ' MiB':<38}{'':>11}{'':>11}{fmt(rss[key]):>11}")
    errors = {name: r["close"]["socket_errors"] + r["close"]["non_2xx"] for name, r in results.items()
              if name in ("direct", "peer", "app")}
    if any(errors.values()):
        lines.append(f"wrk errors (socket errors + non-2xx, Connection: close): {errors}")

    app_mbps, direct_mbps, peer_mbps = app["big"]["mbps"], direct["big"]["mbps"], peer["big"]["mbps"]
    targets = [
        (f"{big_label} throughput >= {TARGET_THROUGHPUT_VS_DIRECT}x direct",
         fmt_ratio(ratio(app_mbps, direct_mbps)), app_mbps >= TARGET_THROUGHPUT_VS_DIRECT * direct_mbps),
        (f"{big_label} throughput above the peer", fmt_ratio(ratio(app_mbps, peer_mbps)), app_mbps > peer_mbps),
        (f"{big_label} TTFB < {TARGET_TTFB_MS:g} ms", f"{app['big']['ttfb_ms']:.2f} ms",
         app["big"]["ttfb_ms"] < TARGET_TTFB_MS),
        (f"worker RSS growth streaming {big_label} < {TARGET_RSS_GROWTH_MIB:g} MiB", f"{rss['growth_mib']:.1f} MiB",
         rss["growth_mib"] < TARGET_RSS_GROWTH_MIB),
        (f"4 KiB pages >= {TARGET_PAGES_PER_SECOND:,.0f} req/s (Connection: close)",
         f"{app['close']['rps']:,.0f} req/s", app["close"]["rps"] >= TARGET_PAGES_PER_SECOND),
    ]
    lines += ["", f"{'target (app)':<56}{'measured':>16}  result"]
    lines += [f"{label:<56}{measured:>16}  {'PASS' if ok else 'FAIL'}" for label, measured, ok in targets]

    lines += ["", "requests per gunicorn worker (4 KiB run):"]
    lines.append(f"  Connection: close  {balance(app['close']['per_worker'])}")
    if args.keepalive_duration:
        lines.append(f"  keep-alive         {balance(app['keepalive']['per_worker'])}")

    if results.get("sweep"):
        lines += ["", f"chunk size sweep: {big_label} through the app ({args.reps} downloads each, median MB/s)",
                  f"{'variant':<40}{'MB/s':>8}{'vs direct':>11}{'TTFB ms':>10}{'RSS growth MiB':>16}"
                  f"{'CPU s/GB':>10}"]
        for row in results["sweep"]:
            lines.append(f"{row['label']:<40}{fmt(row['mbps'], 0):>8}{fmt_ratio(ratio(row['mbps'], direct_mbps)):>11}"
                         f"{fmt(row['ttfb_ms'], 2):>10}{fmt(row['rss']['growth_mib']):>16}"
                         f"{fmt(row['cpu_s_per_gb'], 2):>10}")
    if results.get("engine"):
        other = results["engine"]
        lines += ["", f"the app under the default engine against GUNICORN_WORKER_CLASS={args.compare_engine}, same run",
                  f"{'metric':<38}{'default':>11}{args.compare_engine:>11}{'ratio':>10}"]
        for label, get, digits in rows:
            a, o = get(app), get(other)
            lines.append(f"{label:<38}{fmt(a, digits):>11}{fmt(o, digits):>11}{fmt_ratio(ratio(a, o)):>10}")
        lines.append(f"{'worker RSS growth MiB (' + big_label + ')':<38}{fmt(rss['growth_mib']):>11}"
                     f"{fmt(other['big']['rss']['growth_mib']):>11}")
    passed = all(ok for _, _, ok in targets)
    return "\n".join(lines) + "\n", passed


def save(results, text):
    """Write the figures as JSON and the report as text to bench/results/; return the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = RESULTS / f"serve-{stamp}.json"
    json_path.write_text(json.dumps(results, indent=2, default=dict) + "\n")
    (RESULTS / f"serve-{stamp}.txt").write_text(text)
    return json_path


def raise_system_exit(signum, frame):
    """Turn SIGTERM/SIGHUP into SystemExit so every ``with`` block stops its processes."""
    raise SystemExit(128 + signum)


def run_and_save(name, bench, report, args):
    """Run ``bench`` in a temporary folder, print ``report`` of it and save both to bench/results/NAME-*."""
    signal.signal(signal.SIGTERM, raise_system_exit)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"{name}-bench-") as temp:
        results = bench(Path(temp), args)
    text = report(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{name}-{stamp}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"{name}-{stamp}.md").write_text(text)
    print()
    print(text, end="")


def bench(workdir, args):
    """Set up the three servers under ``workdir``, measure them, and return the results."""
    big_size = args.big_mib * MIB
    extra_env = dict(item.split("=", 1) for item in args.app_env)
    os.environ.update({name: value for name, value in FAKE_CREDENTIALS.items() if name not in os.environ})
    # nginx's workers run as nobody when started as root: the site must be readable by them.
    workdir.chmod(0o755)
    print(f"writing the site ({args.big_mib} MiB of random data) under {workdir}", flush=True)
    site = make_site(workdir / "site", big_size)
    results = {"args": vars(args), "cpus": os.cpu_count()}
    with Processes() as processes:
        backend_port, peer_port = free_port(), free_port()
        checksums = {"page_crc32": site["page_crc32"], "big_crc32": site["big_crc32"]} if args.checksums else {}
        backend = processes.add("backend", nginx.start_nginx(
            workdir / "backend",
            nginx.backend_config(workdir / "backend", backend_port, workdir / "site", BUCKET, PAGE_KEY, BIG_KEY,
                                 **checksums),
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
        app = Gunicorn(processes, workdir, endpoint, extra_env)
        print(f"gunicorn: {app.workers} workers, pids {app.worker_pids}", flush=True)
        # Direct is the backend itself: the bucket's URL stands where the proxies have /docs.
        roots = {"direct": f"{endpoint}/{BUCKET}", "peer": f"http://127.0.0.1:{peer_port}/docs",
                 "app": f"{app.url}/docs"}
        for docs in roots.values():
            check_served(docs, site, big_size)
        server_pids = {"direct": [backend.pid, *child_pids(backend.pid)], "peer": [peer.pid, *child_pids(peer.pid)],
                       "app": [app.process.pid, *app.worker_pids]}
        for name, docs in roots.items():
            results[name] = measure_target(name, docs, args, big_size, server_pids[name],
                                           gunicorn=app if name == "app" else None)
        results["app"]["worker_pids"] = app.worker_pids
        processes.stop(app.process)
        if args.compare_engine:
            # The same app under another engine (issue 20: gevent against the gthread of before).
            other = Gunicorn(processes, workdir, endpoint, {**extra_env, "GUNICORN_WORKER_CLASS": args.compare_engine},
                             label=args.compare_engine)
            check_served(f"{other.url}/docs", site, big_size)
            results["engine"] = measure_target(args.compare_engine, f"{other.url}/docs", args, big_size,
                                               [other.process.pid, *other.worker_pids], gunicorn=other)
            processes.stop(other.process)
        if args.sweep:
            results["sweep"] = run_sweep(processes, workdir, endpoint, args, big_size, extra_env)
    return results, big_size


def main(argv=None):
    """Run the serving benchmark, print the table and targets, and save them to bench/results/."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_system_exit)
    signal.signal(signal.SIGHUP, raise_system_exit)
    started = time.monotonic()
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        results, big_size = bench(workdir, args)
    else:
        with tempfile.TemporaryDirectory(prefix="serve-bench-") as temp:
            results, big_size = bench(Path(temp), args)
    text, passed = report(results, args, big_size)
    results["seconds"] = round(time.monotonic() - started, 1)
    print()
    print(text, end="")
    print(f"\nsaved {save(results, text)} ({results['seconds']:.0f} s)")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
