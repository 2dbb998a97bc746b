"""Access-control benchmark: the CPU each identity source adds to a request, against the open app.

    .venv/bin/python bench/access_bench.py [--requests N] [--rounds R]

In-process, through Flask's test client, with the S3 fetch replaced by a canned 4 KiB page (S3's
own cost is serving's benchmark, not this one): what is measured is routing, identity, the rules
decision and the response. Each configuration serves the same page ``--requests`` times per round;
the median CPU per request over the rounds is compared with the open app in the same run.
Keys come from a JWKS served on 127.0.0.1 (fetched once, then cached, as in production).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Response  # noqa: E402

from app import create_app  # noqa: E402
from app.serving import hooks  # noqa: E402
from tests.access.conftest import AUDIENCE, ISSUER, SECRET, KeyServer, Signer, basic, htpasswd_line  # noqa: E402

PAGE = b"x" * 4096
RULES = """\
default = "authenticated"
[[rule]]
path = "handbook/"
public = true
[[rule]]
path = "payments/"
groups = ["team-payments"]
[[rule]]
path = "payments/runbooks/"
groups = ["sre"]
"""


def canned_fetch(key):
    return Response(PAGE, headers={"Cache-Control": "public, max-age=31536000, immutable", "Content-Type": "text/html"})


def build(settings):
    app = create_app({"S3_BUCKET": "bench", "S3_REGION": "us-east-1", **settings})
    hooks.set_fetch(app, canned_fetch)
    return app


def cpu_per_request(app, headers, requests):
    client = app.test_client()
    assert client.get("/docs/payments/x", headers=headers).status_code == 200  # warm caches (keys, bcrypt)
    start = time.process_time()
    for _ in range(requests):
        client.get("/docs/payments/x", headers=headers)
    return (time.process_time() - start) / requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="access-bench-"))
    (work / "rules.toml").write_text(RULES)
    (work / "secret").write_text(SECRET)
    (work / "htpasswd").write_text(htpasswd_line("carol", "secret-password") + "\n")
    rsa, ec = Signer("r1", "RS256"), Signer("e1", "ES256")
    keys = KeyServer()
    keys.jwks = {"keys": [rsa.jwk(), ec.jwk()]}
    rules = {"DOCS_ACCESS_RULES": str(work / "rules.toml")}
    jwt_settings = {"DOCS_AUTH": "jwt", "DOCS_AUTH_JWKS_URL": keys.url + "/jwks.json", "DOCS_AUTH_JWT_ISSUER": ISSUER, "DOCS_AUTH_JWT_AUDIENCE": AUDIENCE, **rules}
    claims = {"email": "carol@corp.example", "groups": ["team-payments"], "exp": int(time.time()) + 3600}
    configurations = [
        ("open (peer)", {}, {}),
        ("header + secret", {"DOCS_AUTH": "header", "DOCS_AUTH_SECRET_FILE": str(work / "secret"), **rules}, {"X-Forwarded-User": "carol", "X-Forwarded-Groups": "team-payments", "X-Docs-Proxy-Secret": SECRET}),
        ("basic (cached check)", {"DOCS_AUTH": "basic", "DOCS_AUTH_HTPASSWD": str(work / "htpasswd"), "DOCS_ACCESS_RULES": str(work / "rules.toml")}, {"Authorization": basic("carol", "secret-password")}),
        ("jwt RS256", jwt_settings, {"Authorization": "Bearer " + rsa.token(claims)}),
        ("jwt ES256", jwt_settings, {"Authorization": "Bearer " + ec.token(claims)}),
    ]
    # basic's rules: carol has no groups, so give her the folder by name.
    (work / "rules.toml").write_text(RULES.replace('groups = ["team-payments"]', 'groups = ["team-payments"]\nusers = ["carol"]'))
    apps = [(name, build(settings), headers) for name, settings, headers in configurations]
    results = {name: [] for name, _, _ in apps}
    for _ in range(args.rounds):
        for name, app, headers in apps:  # interleaved, so drift on a shared machine hits every configuration alike
            results[name].append(cpu_per_request(app, headers, args.requests))
    keys.stop()
    peer = statistics.median(results["open (peer)"])
    print(f"{'configuration':24} {'CPU us/request':>15} {'vs open':>8}")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"{name:24} {median * 1e6:15.0f} {median / peer:7.2f}x")


if __name__ == "__main__":
    main()
