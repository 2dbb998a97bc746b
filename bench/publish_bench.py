"""Publish benchmark: `flask docs publish` against `aws s3 sync`, same tree, same local S3 endpoint, same run.

    .venv/bin/python bench/publish_bench.py [--source DIR] [--pages N] [--rounds R]

Without ``--source`` it builds a Sphinx site (``--pages`` pages, two files each plus the theme's
assets) into bench/.work/ once and reuses it. Each round, each tool gets a fresh bucket on one moto
server (a subprocess on 127.0.0.1) and is timed as a user runs it, interpreter start-up included:
first publish, then a re-publish with no change. moto is slow and single-process, so absolute
figures mean little; the ratios between the two tools are the result. Medians go to stdout and to
bench/results/publish.md.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import FAKE_CREDENTIALS, free_port, s3_client, wait_for_port  # noqa: E402

WORK = ROOT / "bench" / ".work"
RESULTS = ROOT / "bench" / "results"
AWS = ROOT / ".venv-bench" / "bin" / "aws"
PAGE = """{title}
{underline}

.. contents:: On this page
   :local:

Overview
--------

Page {number} of the benchmark site. See :doc:`page{next:04d}` and :ref:`genindex`.

.. code-block:: python

   def handler(event, context):
       \"\"\"Return the answer for page {number}.\"\"\"
       return {{"page": {number}, "items": [i * i for i in range(10)]}}

Details
-------

.. list-table::
   :header-rows: 1

   * - Key
     - Value
   * - page
     - {number}
   * - next
     - {next}

{para}
"""


def build_sphinx_site(pages):
    """Build (once) a Sphinx HTML site of ``pages`` pages; return its output folder."""
    out = WORK / f"sphinx-{pages}" / "html"
    if (out / "index.html").exists():
        return out
    src = WORK / f"sphinx-{pages}" / "src"
    shutil.rmtree(src.parent, ignore_errors=True)
    src.mkdir(parents=True)
    (src / "conf.py").write_text('project = "bench"\nextensions = []\nhtml_theme = "alabaster"\n')
    names = [f"page{number:04d}" for number in range(pages)]
    toctree = "\n".join(f"   {name}" for name in names)
    (src / "index.rst").write_text(f"Bench\n=====\n\n.. toctree::\n   :maxdepth: 1\n\n{toctree}\n")
    para = " ".join(["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] * 30)
    for number, name in enumerate(names):
        title = f"Page {number}"
        (src / f"{name}.rst").write_text(
            PAGE.format(title=title, underline="=" * len(title), number=number, next=(number + 1) % pages, para=para)
        )
    sphinx = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-j", "auto", "-d", str(src.parent / "doctrees")]
    subprocess.run([*sphinx, str(src), str(out)], check=True)
    return out


def count_files(source):
    """Return the number and total size of the non-hidden files under ``source`` (symlinks followed)."""
    count = size = 0
    for dirpath, dirnames, filenames in os.walk(source, followlinks=True):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                count += 1
                size += os.path.getsize(os.path.join(dirpath, name))
    return count, size


class MotoServer:
    """moto's S3 server in its own process, on 127.0.0.1."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, process=self.process)

    def stop(self):
        """Stop the server."""
        self.process.terminate()
        self.process.wait(30)


def timed(command, env):
    """Run ``command``; return its wall time in seconds, failing loudly if it fails.

    Python caches compiled modules as an installed tool does (aws's were compiled when pip installed
    it), even where the shell says ``PYTHONDONTWRITEBYTECODE``: else our side alone compiles its
    modules again in every run.
    """
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def ours(source, bucket, endpoint):
    """Return the command and environment for `flask docs publish`."""
    env = {**os.environ, **FAKE_CREDENTIALS, "S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint,
           "S3_ADDRESSING_STYLE": "path"}
    return [sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(source), "--prefix", "docs/"], env


def ours_without_search(source, bucket, endpoint):
    """Return `flask docs publish` with search's extraction off: the difference is what search costs publish."""
    command, env = ours(source, bucket, endpoint)
    return command, {**env, "DOCS_SEARCH_PUBLISH": "off"}


def theirs(source, bucket, endpoint):
    """Return the command and environment for `aws s3 sync`, skipping hidden files as we do."""
    config = WORK / "aws-config"
    config.write_text("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_CONFIG_FILE": str(config)}
    command = [str(AWS), "s3", "sync", str(source), f"s3://{bucket}/docs/", "--endpoint-url", endpoint,
               "--only-show-errors", "--exclude", ".*", "--exclude", "*/.*"]
    return command, env


def run_round(number, source, server, peer=True):
    """Time each tool once on fresh buckets; return ``{row: seconds}``."""
    s3 = s3_client(server.url)
    times = {}
    tools = [("ours", ours), ("no-search", ours_without_search)] + ([("aws", theirs)] if peer else [])
    if number % 2:
        tools.reverse()  # alternate who goes first, so neither always meets a warmer server
    for name, make in tools:
        bucket = f"bench-{name}-{number}"
        s3.create_bucket(Bucket=bucket)
        command, env = make(source, bucket, server.url)
        times[f"{name} first"] = timed(command, env)
        times[f"{name} again"] = timed(command, env)
        if name == "no-search":
            continue
        if name == "ours":
            # What the manifest saves: the same re-publish with a HEAD per file.
            s3.delete_object(Bucket=bucket, Key="docs/.docs-publish.json")
            times["ours again, no manifest"] = timed(command, env)
            # The fixed cost in every run: the interpreter, the app and its S3 client.
            times["ours start-up"] = timed([*command[:6], "--help"], env)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="a built docs folder (default: a generated Sphinx site)")
    parser.add_argument("--pages", type=int, default=520, help="pages of the generated Sphinx site")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true", help="skip aws s3 sync (when .venv-bench is not installed)")
    args = parser.parse_args()
    if not args.no_peer and not AWS.exists():
        raise SystemExit(f"{AWS} is missing: python3 -m venv .venv-bench && .venv-bench/bin/pip install -r requirements-bench.txt")
    WORK.mkdir(parents=True, exist_ok=True)
    source = args.source or build_sphinx_site(args.pages)
    files, size = count_files(source)
    print(f"tree: {source} ({files} files, {size / 1024 / 1024:.1f} MiB)", flush=True)

    server = MotoServer()
    try:
        rounds = []
        for number in range(args.rounds):
            rounds.append(run_round(number, source, server, peer=not args.no_peer))
            print(f"round {number + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in rounds[-1].items()), flush=True)
    finally:
        server.stop()

    median = {row: statistics.median(r[row] for r in rounds) for row in rounds[0]}
    if args.no_peer:
        median.update({"aws first": float("nan"), "aws again": float("nan")})
    lines = [
        f"Publish benchmark: {files} files, {size / 1024 / 1024:.1f} MiB, moto server on 127.0.0.1, "
        f"median of {args.rounds} rounds",
        "",
        "| run | flask docs publish | aws s3 sync | ours / aws |",
        "|---|---:|---:|---:|",
        f"| first publish | {median['ours first']:.2f} s | {median['aws first']:.2f} s "
        f"| {median['ours first'] / median['aws first']:.2f} |",
        f"| re-publish, no change | {median['ours again']:.2f} s | {median['aws again']:.2f} s "
        f"| {median['ours again'] / median['aws again']:.2f} |",
        f"| re-publish, manifest lost (HEAD per file) | {median['ours again, no manifest']:.2f} s | | |",
        f"| start-up only (`flask --app wsgi docs publish --help`) | {median['ours start-up']:.2f} s | | |",
        f"| first publish, search extraction off (`DOCS_SEARCH_PUBLISH=off`) | {median['no-search first']:.2f} s | | |",
        f"| re-publish, no change, search extraction off | {median['no-search again']:.2f} s | | |",
        "",
        f"first publish vs aws s3 sync: {median['aws first'] / median['ours first']:.2f}x as fast (target >= 1)",
        f"no-change re-publish vs first publish: {median['ours first'] / median['ours again']:.1f}x faster (target >= 5); "
        f"{(median['ours first'] - median['ours start-up']) / (median['ours again'] - median['ours start-up']):.1f}x "
        "without the start-up both pay",
        f"search extraction's cost: first publish {median['ours first'] / median['no-search first']:.2f}x, "
        f"no-change re-publish {median['ours again'] / median['no-search again']:.2f}x the time without it",
    ]
    report = "\n".join(lines)
    print("\n" + report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "publish.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
