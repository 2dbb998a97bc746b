"""``make run``: serve docs under gunicorn, on an embedded S3 endpoint with the sample site if no bucket is set.

With ``S3_BUCKET`` set this simply runs gunicorn with the environment as it is. Without it, it starts
moto's S3 server on 127.0.0.1, publishes ``app/sample_site`` (or, with ``--src DIR``, a local build:
``make run SRC=DIR``) into a bucket with the same code as ``flask docs publish``, and points gunicorn at it.
"""

import argparse
import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

from .ops.server import bind_problem
from .settings import default_settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SITE = Path(__file__).resolve().parent / "sample_site"
SAMPLE_BUCKET = "docs-sample"
PREVIEW_BUCKET = "docs-preview"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "embedded",
    "AWS_SECRET_ACCESS_KEY": "embedded",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Shown gzip-encoded to demonstrate that stored Content-Encoding reaches the browser untouched.
GZIP_STORED = "_static/theme.css"


def start_embedded_s3(port):
    """Start moto's S3 server on 127.0.0.1 and return it with its endpoint URL."""
    import logging

    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise SystemExit("docs-proxy: the embedded S3 endpoint needs moto's server, which production "
                         "installs leave out: pip install -r requirements-embedded.txt (make run does "
                         "this when S3_BUCKET is unset), or set S3_BUCKET") from None

    # moto's server logs every S3 request through werkzeug; gunicorn's access log is the one to read.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    return server, f"http://{host}:{bound_port}"


def load_sample_site(endpoint_url, environ):
    """Create the sample bucket and publish the sample site into it; return the environment for gunicorn."""
    from .publishing.run import PublishOptions, publish_tree
    from .s3 import create_client

    settings = {**default_settings(), "S3_BUCKET": SAMPLE_BUCKET, "S3_ENDPOINT_URL": endpoint_url,
                "S3_REGION": "us-east-1", "S3_ADDRESSING_STYLE": "path"}
    os.environ.update(FAKE_CREDENTIALS)
    s3 = create_client(settings)
    s3.create_bucket(Bucket=SAMPLE_BUCKET)
    report = publish_tree(s3, SAMPLE_BUCKET, SAMPLE_SITE, "", PublishOptions.from_config(settings))
    if not report.ok:
        raise SystemExit(f"docs-proxy: could not load the sample site: {report.failed}")
    s3.put_object(
        Bucket=SAMPLE_BUCKET,
        Key=GZIP_STORED,
        Body=gzip.compress((SAMPLE_SITE / GZIP_STORED).read_bytes()),
        ContentType="text/css; charset=utf-8",
        ContentEncoding="gzip",
        CacheControl="no-cache",
    )
    return {
        **environ,
        **FAKE_CREDENTIALS,
        "S3_BUCKET": SAMPLE_BUCKET,
        "S3_ENDPOINT_URL": endpoint_url,
        "S3_ADDRESSING_STYLE": "path",
        "S3_PREFIX": "",
    }


def load_sample_projects(endpoint_url):
    """Publish the portal's sample projects, each in several versions, into the sample bucket."""
    from .portal.samples import publish_sample_projects
    from .s3 import create_client
    from .search.publish import SearchIndexer

    settings = {**default_settings(), "S3_BUCKET": SAMPLE_BUCKET, "S3_ENDPOINT_URL": endpoint_url,
                "S3_REGION": "us-east-1", "S3_ADDRESSING_STYLE": "path"}
    publish_sample_projects(create_client(settings), SAMPLE_BUCKET, indexers=(SearchIndexer(),))


def load_local_build(endpoint_url, environ, source):
    """Create the preview bucket and publish the local build ``source`` into it; return gunicorn's environment."""
    from .publishing.run import PublishError, PublishOptions, publish_tree
    from .s3 import create_client

    settings = {**default_settings(), "S3_BUCKET": PREVIEW_BUCKET, "S3_ENDPOINT_URL": endpoint_url,
                "S3_REGION": "us-east-1", "S3_ADDRESSING_STYLE": "path"}
    os.environ.update(FAKE_CREDENTIALS)
    s3 = create_client(settings)
    s3.create_bucket(Bucket=PREVIEW_BUCKET)
    try:
        report = publish_tree(s3, PREVIEW_BUCKET, source, "", PublishOptions.from_config(settings))
    except PublishError as error:
        raise SystemExit(f"docs-proxy: cannot preview {source}: {error}") from None
    if not report.ok:
        raise SystemExit(f"docs-proxy: could not publish {source}: {report.failed}")
    return {
        **environ,
        **FAKE_CREDENTIALS,
        "S3_BUCKET": PREVIEW_BUCKET,
        "S3_ENDPOINT_URL": endpoint_url,
        "S3_ADDRESSING_STYLE": "path",
        "S3_PREFIX": "",
    }


def startup_problem(environ):
    """Return why gunicorn could not serve with ``environ`` (settings, address), or ``None``."""
    from . import config_problem

    problem = config_problem({**environ, "S3_BUCKET": environ.get("S3_BUCKET") or SAMPLE_BUCKET})
    return problem or bind_problem(environ["DOCS_BIND"])


def project_hosts_banner(pattern_setting, main_setting, bind):
    """Return where the portal and the sample projects are when each project has its own host."""
    from .hosts.policy import main_host, parse_pattern, project_host

    pattern = parse_pattern(pattern_setting, main_setting)
    port = bind.rpartition(":")[2]
    return (f"docs-proxy: each project at its own host (DOCS_PROJECT_HOSTS); the portal of sample projects is at "
            f"http://{main_host(pattern, port)}/_/ and payments at http://{project_host(pattern, 'payments', port)}"
            "/docs/payments/ (the sample site at the bucket's root belongs to no project and is not served)")


def parse_args(argv):
    """Parse devserver's command line."""
    parser = argparse.ArgumentParser(prog="python -m app.devserver", description=__doc__.split("\n")[0])
    parser.add_argument("--src", metavar="DIR",
                        help="preview this built site (make run SRC=DIR) instead of the sample, on the embedded endpoint")
    return parser.parse_args(argv)


def run_gunicorn(environ):
    """Run gunicorn in the foreground, passing SIGINT/SIGTERM on; return its exit code."""
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=environ)

    def forward(signum, frame):
        # Ctrl-C stays a quick stop (gunicorn's SIGINT), a service manager's SIGTERM a graceful one.
        process.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return process.wait()


def main(argv=None):
    """Serve the configured bucket, or the sample site (or ``--src``) on an embedded S3 endpoint."""
    args = parse_args(argv)
    environ = dict(os.environ)
    bind = environ.setdefault("DOCS_BIND", "127.0.0.1:8000")
    # Checked before any banner: a bad setting or a taken address is the only thing to print.
    problem = startup_problem(environ)
    if problem:
        print(f"docs-proxy: configuration error: {problem}", file=sys.stderr)
        return 1
    source = None
    if args.src:
        source = Path(args.src).resolve()
        if environ.get("S3_BUCKET"):
            print("docs-proxy: SRC previews a build on the embedded S3 endpoint; unset S3_BUCKET "
                  "(to put a build into a bucket, use make publish)", file=sys.stderr)
            return 2
        if environ.get("DOCS_PROJECT_HOSTS"):
            print("docs-proxy: SRC previews a build at the bucket's root, which belongs to no project, and "
                  "DOCS_PROJECT_HOSTS serves only projects; unset DOCS_PROJECT_HOSTS", file=sys.stderr)
            return 2
        if not source.is_dir():
            print(f"docs-proxy: SRC={args.src} is not a folder; give the folder of a built site, "
                  "such as build/html", file=sys.stderr)
            return 2
    if environ.get("S3_BUCKET"):
        print(f"docs-proxy: serving bucket {environ['S3_BUCKET']} at http://{bind}/docs/", flush=True)
        return run_gunicorn(environ)
    port = int(environ.get("DOCS_EMBEDDED_S3_PORT", "0"))
    server, endpoint_url = start_embedded_s3(port)
    try:
        if source is not None:
            environ = load_local_build(endpoint_url, environ, source)
            print(f"docs-proxy: serving your build in {source} from an embedded S3 endpoint "
                  f"({endpoint_url}, bucket {PREVIEW_BUCKET}); run it again after rebuilding", flush=True)
        else:
            environ = load_sample_site(endpoint_url, environ)
            load_sample_projects(endpoint_url)
            print(f"docs-proxy: no S3_BUCKET set, so serving the sample site from an embedded S3 endpoint "
                  f"({endpoint_url}, bucket {SAMPLE_BUCKET})", flush=True)
        if environ.get("DOCS_PROJECT_HOSTS"):
            print(project_hosts_banner(environ["DOCS_PROJECT_HOSTS"], environ.get("DOCS_MAIN_HOST"), bind), flush=True)
        else:
            print(f"docs-proxy: open http://{bind}/docs/", flush=True)
            print(f"docs-proxy: the portal of sample projects is at http://{bind}/_/", flush=True)
        return run_gunicorn(environ)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
