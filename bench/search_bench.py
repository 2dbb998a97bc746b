"""Search benchmark: index build time and memory per worker, query latency against a 4 KiB page, one run.

    .venv/bin/python bench/search_bench.py [--projects 50] [--pages 200] [--queries 1000]

Generates ``--projects`` x ``--pages`` pages of text (a Zipf-distributed vocabulary of pseudo-words,
four sections per page), writes one search document per project's version and a portal index into
moto's S3 server (a subprocess on 127.0.0.1), and starts docs-proxy under gunicorn with ONE worker.
Then, in the same run:

- extraction: html.parser extraction time per generated page and for one page of 1 MB of text;
- build: the worker's first search waits for its index: time to the first answer, and the build
  time the worker logs (fetching every document from S3 included);
- memory: the worker's RSS before the first search and once the index is built;
- latency: ``--queries`` searches (one or two words drawn from the vocabulary, frequent and rare
  alike) interleaved with as many GETs of a 4 KiB page, one keep-alive connection, p50/p99 each.

Figures go to stdout and bench/results/search.md.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.portal.index import encode_index, index_key, new_project  # noqa: E402
from app.search.document import SEARCH_DOCUMENT, encode_document  # noqa: E402
from app.search.engine import Source, build_index  # noqa: E402
from app.search.extract import extract_page  # noqa: E402
from app.search.service import s3_loader  # noqa: E402
from tests.servers import FAKE_CREDENTIALS, Gunicorn, free_port, s3_client, wait_for_port  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BUCKET = "search-bench"
SECTION_WORDS = 120


def vocabulary(size, rng):
    """Return ``size`` distinct pronounceable pseudo-words."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words = set()
    while len(words) < size:
        syllables = rng.randint(2, 4)
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words)


def zipf_sampler(words, rng):
    """Return a function drawing words with Zipf-like frequencies (rank r drawn ~ 1/r)."""
    weights = [1.0 / rank for rank in range(1, len(words) + 1)]
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)

    def draw(count):
        return rng.choices(words, cum_weights=cumulative, k=count)

    return draw


def generate_page(number, draw):
    """Return a page entry: a title, four sections with headings and ~120 words each."""
    sections = []
    for index in range(4):
        heading = " ".join(draw(3)).capitalize()
        sections.append([f"section-{index}", heading, 2 if index else 1, " ".join(draw(SECTION_WORDS))])
    return {"path": f"guide/page{number:03d}.html", "title": sections[0][1], "sections": sections}


def page_html(entry):
    """Return the page as a Sphinx-like HTML page (sidebar, scripts and all) for the extraction timing."""
    body = "".join(
        f'<section id="{anchor}"><h{level or 1}>{heading}<a class="headerlink" href="#{anchor}">¶</a></h{level or 1}>'
        f"<p>{text}</p></section>"
        for anchor, heading, level, text in entry["sections"]
    )
    nav = "".join(f'<li><a href="p{n}.html">Page {n}</a></li>' for n in range(40))
    return (f"<html><head><title>{entry['title']}</title><script>var x = 1;</script><style>p{{}}</style></head>"
            f'<body><div class="document"><div class="body" role="main">{body}</div></div>'
            f'<div class="sphinxsidebar" role="navigation"><ul>{nav}</ul></div></body></html>')


class MotoServer:
    """moto's S3 server in its own process, on 127.0.0.1."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, process=self.process)

    def stop(self):
        """Stop the server."""
        self.process.terminate()
        self.process.wait(30)


def worker_pid(master_pid):
    """Return the pid of gunicorn's single worker."""
    for _ in range(100):
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise SystemExit("gunicorn started no worker")


def rss_mib(pid):
    """Return the resident set size of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, fraction):
    """Return the ``fraction`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = vocabulary(20_000, rng)
    draw = zipf_sampler(words, rng)

    # Extraction cost, as publish pays it per page.
    sample = [generate_page(number, draw) for number in range(200)]
    htmls = [page_html(entry) for entry in sample]
    started = time.perf_counter()
    for html in htmls:
        extract_page(html)
    extract_ms = (time.perf_counter() - started) * 1000 / len(htmls)
    big = "<html><body><main><h1 id='big'>Big</h1>" + "".join(
        f"<p>{' '.join(draw(100))}</p>" for _ in range(1500)) + "</main></body></html>"
    started = time.perf_counter()
    extract_page(big)
    big_ms = (time.perf_counter() - started) * 1000
    big_mib = len(big.encode()) / 1024 / 1024

    server = MotoServer()
    gunicorn = None
    try:
        s3 = s3_client(server.url)
        s3.create_bucket(Bucket=BUCKET)
        index = {"format": 1, "projects": {}}
        document_bytes = 0
        for project_number in range(args.projects):
            name = f"project{project_number:02d}"
            entries = [generate_page(number, draw) for number in range(args.pages)]
            body = encode_document(entries)
            document_bytes += len(body)
            s3.put_object(Bucket=BUCKET, Key=f"{name}/1.0/{SEARCH_DOCUMENT}", Body=body,
                          ContentType="application/json", ContentEncoding="gzip")
            entry = new_project(name)
            entry["versions"]["1.0"] = {"published": "2026-11-22T12:00:00+00:00", "hidden": False}
            index["projects"][name] = entry
        s3.put_object(Bucket=BUCKET, Key=index_key(""), Body=encode_index(index), ContentType="application/json")
        page = b"<!doctype html><html><body>" + b"x" * (4096 - 41) + b"</body></html>\n"
        s3.put_object(Bucket=BUCKET, Key="project00/1.0/page.html", Body=page, ContentType="text/html")

        env = {"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": server.url, "S3_ADDRESSING_STYLE": "path",
               "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", "DOCS_SEARCH_BUILD_WAIT": "300",
               **FAKE_CREDENTIALS}
        log_path = ROOT / "bench" / ".work" / "search-gunicorn.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        gunicorn = Gunicorn(env, log_path=log_path)
        pid = worker_pid(gunicorn.process.pid)
        session = requests.Session()
        session.get(f"{gunicorn.url}/docs/project00/1.0/page.html").raise_for_status()
        rss_before = rss_mib(pid)

        started = time.perf_counter()
        first = session.get(f"{gunicorn.url}/_/api/search", params={"q": words[0]}, timeout=600)
        first_seconds = time.perf_counter() - started
        first.raise_for_status()
        rss_after = rss_mib(pid)
        # The same build in this process, for its parts: fetching and decoding vs indexing, and SQLite's size.
        sources = [Source(name, "1.0", f"{name}/1.0/{SEARCH_DOCUMENT}") for name in index["projects"]]
        built = build_index(sources, s3_loader(s3, BUCKET))
        build_seconds, pages, sections = built.stats.seconds, built.stats.pages, built.stats.sections
        if built.stats.failed or built.stats.missing:
            print(f"warning: in-process build missed {built.stats.missing} {built.stats.failed}", flush=True)
        sqlite_mib = built.size_bytes() / 1024 / 1024
        del built

        queries = [" ".join(rng.sample(words, 1) if rng.random() < 0.5 else draw(rng.choice((1, 2))))
                   for _ in range(args.queries)]
        search_ms, page_ms, totals = [], [], []
        for query in queries:
            started = time.perf_counter()
            response = session.get(f"{gunicorn.url}/_/api/search", params={"q": query})
            search_ms.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            totals.append(response.json()["total"])
            started = time.perf_counter()
            session.get(f"{gunicorn.url}/docs/project00/1.0/page.html").raise_for_status()
            page_ms.append((time.perf_counter() - started) * 1000)
        rss_end = rss_mib(pid)
    finally:
        if gunicorn:
            gunicorn.stop()
        server.stop()

    p50, p99 = statistics.median(search_ms), percentile(search_ms, 0.99)
    page50, page99 = statistics.median(page_ms), percentile(page_ms, 0.99)
    lines = [
        f"Search benchmark: {args.projects} projects x {args.pages} pages ({pages} pages, {sections} sections indexed), "
        f"one gunicorn worker, moto server on 127.0.0.1, {args.queries} queries",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| extraction per generated page (publish side) | {extract_ms:.2f} ms |",
        f"| extraction of one page of {big_mib:.1f} MiB of text | {big_ms:.0f} ms |",
        f"| search documents in S3 (gzip) | {document_bytes / 1024 / 1024:.1f} MiB |",
        f"| index build per worker: first search, waiting for the build (fetch + index) | {first_seconds:.2f} s |",
        f"| the same build measured in the benchmark process | {build_seconds:.2f} s |",
        f"| SQLite database size of the index | {sqlite_mib:.0f} MiB |",
        f"| worker RSS before the first search / with the index built / after the queries | "
        f"{rss_before:.0f} / {rss_after:.0f} / {rss_end:.0f} MiB |",
        f"| search p50 / p99 | {p50:.1f} / {p99:.1f} ms |",
        f"| 4 KiB page p50 / p99 (same run, interleaved) | {page50:.1f} / {page99:.1f} ms |",
        f"| search / page ratio, p50 / p99 | {p50 / page50:.2f}x / {p99 / page99:.2f}x |",
        f"| queries with at least one hit | {sum(1 for total in totals if total) / len(totals):.0%} |",
        "",
        f"Targets: p99 under 50 ms ({'met' if p99 < 50 else 'MISSED'}), memory under 200 MiB per worker "
        f"({'met' if rss_end < 200 else 'MISSED'}).",
    ]
    report = "\n".join(lines)
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search.md").write_text(report + "\n")
    print(json.dumps({"search_p50_ms": p50, "search_p99_ms": p99, "page_p50_ms": page50, "page_p99_ms": page99}))


if __name__ == "__main__":
    main()
