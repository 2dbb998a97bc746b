"""``make run``: serve docs under gunicorn, from a local S3 endpoint with sample projects when no bucket is set.

With ``S3_BUCKET`` set this simply runs gunicorn with the environment as it is. Without it, it starts
moto's S3 server on a fixed address (``127.0.0.1:9000``, ``DOCS_EMBEDDED_S3_PORT``) with fixed test
credentials and one bucket, ``docs-local``, kept in a folder between runs (``.embedded-s3/``,
``DOCS_EMBEDDED_DATA``; ``make reset`` empties it). The first run publishes the sample projects into
it; ``make run SRC=DIR`` publishes a local build as a project version (``PROJECT``, ``VERSION``);
``make publish`` publishes into the same bucket, whether ``make run`` is running or not.
"""

import argparse
import gzip
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from config import ConfigError, Setting, from_environ, number, text

from .ops.server import bind_problem
from .settings import default_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SITE = Path(__file__).resolve().parent / "sample_site"
LOCAL_BUCKET = "docs-local"
# make run's own settings (docs/configuration.md lists them; they never reach app.config).
LOCAL_SETTINGS = (
    Setting("DOCS_EMBEDDED_S3_PORT", 9000, number(int, 0, 65535),
            "port of `make run`'s local S3 endpoint on 127.0.0.1 (with `S3_BUCKET` unset); `0`: any free port", "9100"),
    Setting("DOCS_EMBEDDED_DATA", ".embedded-s3", text,
            "folder (relative to the repository) where `make run` keeps its local bucket between runs; "
            "`make reset` empties it", "/tmp/docs-local"),
)
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "docs-local",
    "AWS_SECRET_ACCESS_KEY": "docs-local-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# The sample site (app/sample_site) is one of the sample projects.
SAMPLE_SITE_PROJECT = ("sample", "1.0")
SAMPLE_SITE_META = {"title": "Sample site", "description": "The sample site: pages, a PDF, images, a stored-gzip stylesheet.",
                    "owner": "docs-proxy", "tags": ["sample"]}
# Shown gzip-encoded to demonstrate that stored Content-Encoding reaches the browser untouched.
GZIP_STORED = "_static/theme.css"
PREVIEW_PROJECT, PREVIEW_VERSION = "preview", "1.0"
# How long gunicorn may take to answer before make run gives up waiting to print the URL.
START_TIMEOUT = 60


class Local:
    """Where the local S3 endpoint listens and keeps its data, from the environment."""

    def __init__(self, environ):
        values = {setting.name: setting.default for setting in LOCAL_SETTINGS}
        try:
            values.update(from_environ(environ, LOCAL_SETTINGS))
        except ConfigError as error:
            raise SystemExit(f"docs-proxy: configuration error: {error}") from None
        self.port = values["DOCS_EMBEDDED_S3_PORT"]
        self.data = ROOT / values["DOCS_EMBEDDED_DATA"]  # an absolute path stays as it is

    def shown(self):
        """Return the data folder as the banner shows it: relative to the repository when inside it."""
        return str(self.data.relative_to(ROOT)) if self.data.is_relative_to(ROOT) else str(self.data)

    def endpoint(self, port=None):
        """Return the endpoint URL (of ``port`` once bound, when the configured one is 0)."""
        return f"http://127.0.0.1:{port or self.port}"


def local_environ(environ, endpoint_url):
    """Return ``environ`` pointed at the local bucket on ``endpoint_url``, with error documents on."""
    return {
        "DOCS_ERROR_DOCUMENT": "404.html",  # a preview shows the build's own 404 page (docs/website.md)
        **environ,
        **LOCAL_CREDENTIALS,
        "S3_BUCKET": LOCAL_BUCKET,
        "S3_ENDPOINT_URL": endpoint_url,
        "S3_ADDRESSING_STYLE": "path",
        "S3_REGION": "us-east-1",
        "S3_PREFIX": "",
    }


def local_client(endpoint_url):
    """Return an S3 client for the local endpoint, built as the app builds its own."""
    from .s3 import create_client

    os.environ.update(LOCAL_CREDENTIALS)
    return create_client({**default_settings(), "S3_BUCKET": LOCAL_BUCKET, "S3_ENDPOINT_URL": endpoint_url,
                          "S3_REGION": "us-east-1", "S3_ADDRESSING_STYLE": "path"})


def start_embedded_s3(port):
    """Start moto's S3 server on 127.0.0.1:``port`` and return it with its endpoint URL."""
    import logging

    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise SystemExit("docs-proxy: the local S3 endpoint needs moto's server, which production "
                         "installs leave out: pip install -r requirements-embedded.txt (make run does "
                         "this when S3_BUCKET is unset), or set S3_BUCKET") from None
    if port:
        problem = bind_problem(f"127.0.0.1:{port}", "DOCS_EMBEDDED_S3_PORT")
        if problem:
            raise SystemExit(f"docs-proxy: configuration error: {problem}")
    # moto's server logs every S3 request through werkzeug; gunicorn's access log is the one to read.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


def load_samples(s3):
    """Publish the sample site and the sample projects into the local bucket, each as a project version."""
    from .portal.index import record_version, update_index
    from .portal.samples import publish_sample_projects
    from .publishing.run import PublishOptions, publish_tree
    from .search.publish import SearchIndexer

    s3.create_bucket(Bucket=LOCAL_BUCKET)
    project, version = SAMPLE_SITE_PROJECT
    prefix = f"{project}/{version}/"
    report = publish_tree(s3, LOCAL_BUCKET, SAMPLE_SITE, prefix,
                          PublishOptions.from_config(default_settings(), indexers=(SearchIndexer(),)))
    if not report.ok:
        raise SystemExit(f"docs-proxy: could not load the sample site: {report.failed}")
    s3.put_object(Bucket=LOCAL_BUCKET, Key=prefix + GZIP_STORED,
                  Body=gzip.compress((SAMPLE_SITE / GZIP_STORED).read_bytes()),
                  ContentType="text/css; charset=utf-8", ContentEncoding="gzip", CacheControl="no-cache")
    files = report.plan.uploads + report.plan.unchanged
    update_index(s3, LOCAL_BUCKET, "", record_version(project, version, SAMPLE_SITE_META,
                                                      {"size": sum(f.size for f in files), "files": len(files)}))
    publish_sample_projects(s3, LOCAL_BUCKET, indexers=(SearchIndexer(),))


def open_local_bucket(local, endpoint_url):
    """Fill the freshly started endpoint: the saved bucket if there is one, else the sample projects."""
    from . import devstore
    from .publishing.run import counted

    s3 = local_client(endpoint_url)
    if devstore.has_snapshot(local.data, LOCAL_BUCKET):
        count = devstore.restore(s3, LOCAL_BUCKET, local.data)
        print(f"docs-proxy: local bucket restored from {local.shown()} ({counted(count, 'object')}; make reset starts afresh)",
              flush=True)
    else:
        load_samples(s3)
        devstore.save(s3, LOCAL_BUCKET, local.data)
    return s3


def publish_build(environ, source, project, version, extra=()):
    """Publish the build ``source`` as ``project``/``version`` with ``flask docs publish``, the command CI runs."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "docs", "publish", str(source),
               "--project", project, "--version", version, *extra]
    return subprocess.run(command, cwd=ROOT, env=environ).returncode


def startup_problem(environ):
    """Return why gunicorn could not serve with ``environ`` (settings, address), or ``None``."""
    from . import config_problem

    problem = config_problem({**environ, "S3_BUCKET": environ.get("S3_BUCKET") or LOCAL_BUCKET})
    return problem or bind_problem(environ["DOCS_BIND"])


def project_hosts_banner(pattern_setting, main_setting, bind):
    """Return where the portal and the sample projects are when each project has its own host."""
    from .hosts.policy import main_host, parse_pattern, project_host

    pattern = parse_pattern(pattern_setting, main_setting)
    port = bind.rpartition(":")[2]
    return (f"each project at its own host (DOCS_PROJECT_HOSTS); the portal of sample projects is at "
            f"http://{main_host(pattern, port)}/_/ and payments at http://{project_host(pattern, 'payments', port)}"
            f"/docs/payments/ (the sample site at http://{project_host(pattern, SAMPLE_SITE_PROJECT[0], port)}"
            f"/docs/{SAMPLE_SITE_PROJECT[0]}/)")


def project_url(environ, bind, project):
    """Return the URL of ``project``'s folder as make run serves it (on its own host with DOCS_PROJECT_HOSTS)."""
    if not environ.get("DOCS_PROJECT_HOSTS"):
        return f"http://{bind}/docs/{project}/"
    from .hosts.policy import parse_pattern, project_host

    pattern = parse_pattern(environ["DOCS_PROJECT_HOSTS"], environ.get("DOCS_MAIN_HOST"))
    return f"http://{project_host(pattern, project, bind.rpartition(':')[2])}/docs/{project}/"


def parse_args(argv):
    """Parse devserver's command line."""
    parser = argparse.ArgumentParser(prog="python -m app.devserver", description=__doc__.split("\n")[0])
    parser.add_argument("--src", metavar="DIR",
                        help="publish this built site into the local bucket and serve it (make run SRC=DIR)")
    parser.add_argument("--publish", metavar="DIR",
                        help="only publish this built site into the local bucket (make publish without S3_BUCKET)")
    parser.add_argument("--project", help=f"project name for --src/--publish [--src: {PREVIEW_PROJECT}]")
    parser.add_argument("--version", help=f"version name for --src/--publish [--src: {PREVIEW_VERSION}]")
    return parser.parse_known_args(argv)


def wait_until_answering(bind, process, timeout=START_TIMEOUT):
    """Wait until gunicorn accepts connections on ``bind`` (HOST:PORT); False if it exited or took too long."""
    host, _, port = bind.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def run_gunicorn(environ, banner=()):
    """Run gunicorn in the foreground, print ``banner`` once it answers, pass SIGINT/SIGTERM on; return its exit code."""
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=environ)

    def forward(signum, frame):
        # Ctrl-C stays a quick stop (gunicorn's SIGINT), a service manager's SIGTERM a graceful one.
        process.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    bind = environ["DOCS_BIND"]
    # Printed only once the URL works: a reader who clicks it at once must not get "connection refused".
    if banner and not bind.startswith(("unix:", "fd://")) and wait_until_answering(bind, process):
        for line in banner:
            print(f"docs-proxy: {line}", flush=True)
    return process.wait()


def check_source(path, environ):
    """Return the resolved build folder ``path``, or exit 2 saying what is wrong with it."""
    source = Path(path).resolve()
    if environ.get("S3_BUCKET"):
        print("docs-proxy: SRC publishes a build into make run's local bucket; unset S3_BUCKET "
              "(to put a build into your bucket, use make publish)", file=sys.stderr)
        raise SystemExit(2)
    if not source.is_dir():
        print(f"docs-proxy: SRC={path} is not a folder; give the folder of a built site, such as build/html",
              file=sys.stderr)
        raise SystemExit(2)
    return source


def publish_only(args, extra, environ):
    """``make publish`` without a bucket: publish into the running local endpoint, or start one for the publish."""
    from . import devstore

    if not args.project or not args.version:
        print("docs-proxy: make publish needs PROJECT= and VERSION= (make publish SRC=build/html PROJECT=payments "
              "VERSION=2.4.0)", file=sys.stderr)
        return 2
    source = check_source(args.publish, environ)
    local = Local(environ)
    if local.port and bind_problem(f"127.0.0.1:{local.port}") is not None:
        # Something listens on the local endpoint's port: make run is running; publish into it.
        print(f"docs-proxy: publishing into make run's local bucket at {local.endpoint()}", flush=True)
        return publish_build(local_environ(environ, local.endpoint()), source, args.project, args.version, extra)
    server, endpoint_url = start_embedded_s3(local.port)
    try:
        s3 = open_local_bucket(local, endpoint_url)
        code = publish_build(local_environ(environ, endpoint_url), source, args.project, args.version, extra)
        devstore.save(s3, LOCAL_BUCKET, local.data)
    finally:
        server.stop()
    if code == 0:
        print(f"docs-proxy: saved in {local.shown()}; make run serves it at /docs/{args.project}/{args.version}/", flush=True)
    return code


def main(argv=None):
    """Serve the configured bucket, or the local bucket (with ``--src`` published into it) on the local endpoint."""
    args, extra = parse_args(argv)
    environ = dict(os.environ)
    if args.publish:
        return publish_only(args, extra, environ)
    if extra:
        print(f"docs-proxy: unknown arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    bind = environ.setdefault("DOCS_BIND", "127.0.0.1:8000")
    # Checked before any banner: a bad setting or a taken address is the only thing to print.
    problem = startup_problem(environ)
    if problem:
        print(f"docs-proxy: configuration error: {problem}", file=sys.stderr)
        return 1
    source = check_source(args.src, environ) if args.src else None
    if environ.get("S3_BUCKET"):
        return run_gunicorn(environ, [f"serving bucket {environ['S3_BUCKET']}: open http://{bind}/docs/"])
    from . import devstore

    local = Local(environ)
    server, endpoint_url = start_embedded_s3(local.port)
    try:
        s3 = open_local_bucket(local, endpoint_url)
        environ = local_environ(environ, endpoint_url)
        banner = [f"no S3_BUCKET set, so serving the local bucket {LOCAL_BUCKET} at {endpoint_url} "
                  f"(kept in {local.shown()}; make reset empties it)"]
        if source is not None:
            project, version = args.project or PREVIEW_PROJECT, args.version or PREVIEW_VERSION
            if publish_build(environ, source, project, version, ["--delete", "--hub"]) != 0:
                return 1
            banner.append(f"your build in {source} is {project} {version}: open "
                          f"{project_url(environ, bind, project)}{version}/ (run it again after rebuilding)")
        if environ.get("DOCS_PROJECT_HOSTS"):
            banner.append(project_hosts_banner(environ["DOCS_PROJECT_HOSTS"], environ.get("DOCS_MAIN_HOST"), bind))
        else:
            banner.append(f"open http://{bind}/docs/")
        try:
            return run_gunicorn(environ, banner)
        finally:
            devstore.save(s3, LOCAL_BUCKET, local.data)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
