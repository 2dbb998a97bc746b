"""Upload API benchmark: the same site published by `flask docs publish` and by a PUT of a .tar.gz, same run.

    .venv/bin/python bench/upload_bench.py [--pages N] [--rounds R]

A synthetic site (``--pages`` HTML pages, a CSS and a JS asset each 10 KiB, one 4 MiB download) is
published to a fresh bucket on one moto server (a subprocess on 127.0.0.1) by each path in turn:
the CLI (interpreter start-up included, as a user runs it) and a PUT to gunicorn (one worker), the
archive built by the client as CI would. First publish, then a re-publish with no change. Absolute
figures are moto's; the ratios API/CLI are the result. Medians go to stdout and bench/results/upload.md.
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.servers import FAKE_CREDENTIALS, Gunicorn, free_port, s3_client, wait_for_port  # noqa: E402

WORK = ROOT / "bench" / ".work" / "upload-site"
RESULTS = ROOT / "bench" / "results"


def build_site(pages):
    """Write the synthetic site once; return its folder."""
    if (WORK / f"page{pages - 1:04d}.html").exists():
        return WORK
    (WORK / "_static").mkdir(parents=True, exist_ok=True)
    for number in range(pages):
        text = f"<!doctype html><title>Page {number}</title><h1>Page {number}</h1>" + "<p>lorem ipsum dolor</p>" * 200
        (WORK / f"page{number:04d}.html").write_text(text)
    (WORK / "index.html").write_text("<!doctype html><title>Home</title><h1>Home</h1>")
    (WORK / "_static" / "style.3f2a9c1b.css").write_bytes(b"a{}" * 3400)
    (WORK / "_static" / "app.8d7e6f5a.js").write_bytes(b"x;" * 5120)
    (WORK / "download.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    return WORK


def tar_gz(folder):
    """Return the folder as a .tar.gz, built the way `tar -C folder -czf - .` would."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=".")
    return buffer.getvalue()


def timed(function):
    """Return ``(seconds, result)`` of ``function()``."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    site = build_site(args.pages)
    port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_for_port(port, process=moto)
    endpoint = f"http://127.0.0.1:{port}"
    s3 = s3_client(endpoint)
    env = {"S3_ENDPOINT_URL": endpoint, "S3_ADDRESSING_STYLE": "path", "S3_REGION": "us-east-1"}
    figures = {"cli first": [], "cli again": [], "api first": [], "api again": []}
    try:
        for _ in range(args.rounds):
            cli_bucket, api_bucket = f"cli-{uuid.uuid4().hex[:8]}", f"api-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=cli_bucket)
            s3.create_bucket(Bucket=api_bucket)
            command = [sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(site),
                       "--project", "bench", "--version", "1.0.0", "--delete"]
            cli_env = {**os.environ, **FAKE_CREDENTIALS, **env, "S3_BUCKET": cli_bucket}
            for label in ("cli first", "cli again"):
                seconds, _ = timed(lambda: subprocess.run(command, cwd=ROOT, env=cli_env, check=True, capture_output=True))
                figures[label].append(seconds)
            server = Gunicorn({**env, "S3_BUCKET": api_bucket, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"})
            try:
                from app import create_app
                from app.upload.tokens import create_token

                os.environ.update(FAKE_CREDENTIALS)
                with create_app({**env, "S3_BUCKET": api_bucket}).app_context():
                    _, token = create_token(s3, api_bucket, "", ["*"], ["publish"], timedelta(hours=1))
                for label in ("api first", "api again"):
                    def upload():
                        response = requests.put(f"{server.url}/_/api/projects/bench/versions/1.0.0", data=tar_gz(site),
                                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/gzip"},
                                                timeout=600)
                        response.raise_for_status()
                    seconds, _ = timed(upload)
                    figures[label].append(seconds)
            finally:
                server.stop()
    finally:
        moto.terminate()
        moto.wait(10)
    medians = {label: statistics.median(values) for label, values in figures.items()}
    lines = [
        f"# Upload API against the CLI ({args.pages + 4} files, {args.rounds} rounds, medians)",
        "",
        "| publish | CLI (s) | API (s) | API / CLI |",
        "|---|---|---|---|",
    ]
    for kind in ("first", "again"):
        cli, api = medians[f"cli {kind}"], medians[f"api {kind}"]
        lines.append(f"| {'first publish' if kind == 'first' else 're-publish, nothing changed'} | {cli:.2f} | {api:.2f} | {api / cli:.2f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "upload.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
