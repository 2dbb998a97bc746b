"""Fixtures for access control: rules files, htpasswd files made by Debian's htpasswd, a JWKS server
on 127.0.0.1, tokens minted here, and apps whose S3 calls are counted."""

import base64
import json
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app import create_app

from tests.conftest import BUCKET

ISSUER = "https://idp.corp.example"
AUDIENCE = "docs-proxy"
SECRET = "s3cret-shared-with-the-front-door-0123456789"

RULES = """\
default = "authenticated"
[groups]
sre = ["alice@corp.example", "bob"]
[[rule]]
path = "handbook/"
public = true
[[rule]]
path = "payments/"
groups = ["team-payments", "sre"]
emails = ["ciso@corp.example"]
[[rule]]
path = "payments/runbooks/"
groups = ["sre"]
[[rule]]
path = "caf\\u00e9/"
groups = ["sre"]
"""

OBJECTS = {
    "index.html": b"<h1>root</h1>",
    "handbook/index.html": b"<h1>handbook</h1>",
    "payments/index.html": b"<h1>payments</h1>",
    "payments/x": b"payments x",
    "payments/runbooks/index.html": b"<h1>runbooks</h1>",
    "payments-old/index.html": b"<h1>old</h1>",
    "caf\u00e9/index.html": b"<h1>nfc</h1>",
    "cafe\u0301/index.html": b"<h1>nfd</h1>",
}


@pytest.fixture
def rules_file(tmp_path):
    """Write a rules file (the team's example by default) and return its path."""

    def write(text=RULES, name="rules.toml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def secret_file(tmp_path):
    """The front door's shared secret, in a file."""
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    return str(path)


def htpasswd_line(user, password):
    """Return a bcrypt line made by Debian's ``htpasswd -B`` (apache2-utils)."""
    command = shutil.which("htpasswd")
    if command is None:
        pytest.fail("htpasswd is not installed: apt-get install apache2-utils (tests/system-deps.sh)")
    result = subprocess.run([command, "-nbB", "-C", "4", user, password], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture(scope="session")
def htpasswd_lines():
    """htpasswd lines for alice and bob (bob is in the local group sre), made once per session."""
    return [htpasswd_line("alice", "wonderland"), htpasswd_line("bob", "builder")]


@pytest.fixture
def htpasswd_file(tmp_path, htpasswd_lines):
    """An htpasswd file holding alice and bob."""
    path = tmp_path / "htpasswd"
    path.write_text("\n".join(htpasswd_lines) + "\n")
    return str(path)


def basic(user, password):
    """Return an ``Authorization: Basic`` header value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def put_objects(put):
    """Put the test site into the bucket."""
    for key, body in OBJECTS.items():
        put(key, body, ContentType="text/html", CacheControl="public, max-age=31536000, immutable")


@pytest.fixture
def make_app(bucket, put_objects):
    """Build an app with extra settings; its ``s3_calls`` list records every S3 operation it makes."""

    def make(**settings):
        app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", **settings})
        app.s3_calls = bucket.calls(app.extensions["s3"])
        return app

    return make


# --- keys and tokens -----------------------------------------------------------------------


class Signer:
    """A key pair that mints tokens, and its public JWK."""

    def __init__(self, kid, algorithm="RS256"):
        self.kid = kid
        self.algorithm = algorithm
        if algorithm.startswith("ES"):
            self.private = ec.generate_private_key(ec.SECP256R1())
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self):
        """Return the public key as a JWK with its kid and algorithm."""
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        return {**json.loads(algorithm.to_jwk(self.private.public_key())), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def token(self, claims=None, headers=None, **overrides):
        """Return a token with good claims unless ``claims``/``overrides`` say otherwise."""
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "iat": now, "email": "alice@corp.example", "groups": ["team-payments"]}
        payload.update(claims or {})
        for name, value in overrides.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(payload, self.private, algorithm=self.algorithm, headers={"kid": self.kid, **(headers or {})})


@pytest.fixture(scope="session")
def signers():
    """Key pairs made once per session (RSA generation is the slow part)."""
    return {"k1": Signer("k1"), "k2": Signer("k2"), "rogue": Signer("k1"), "ec": Signer("ec1", "ES256")}


class KeyServer:
    """An HTTP server on 127.0.0.1 serving a JWKS at /jwks.json and PEM keys at /alb/<kid>; counts fetches."""

    def __init__(self):
        self.jwks = {"keys": []}
        self.pems = {}
        self.fetches = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches.append(self.path)
                if self.path == "/jwks.json":
                    body, status, kind = json.dumps(server.jwks).encode(), 200, "application/json"
                elif self.path.startswith("/alb/") and self.path[5:] in server.pems:
                    body, status, kind = server.pems[self.path[5:]], 200, "application/x-pem-file"
                else:
                    body, status, kind = b"not found", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def key_server():
    """A fresh key server for one test."""
    server = KeyServer()
    yield server
    server.stop()


@pytest.fixture
def jwt_settings(key_server, signers):
    """Settings for the generic jwt source against the key server, which serves k1."""
    key_server.jwks = {"keys": [signers["k1"].jwk()]}
    return {
        "DOCS_AUTH": "jwt",
        "DOCS_AUTH_JWKS_URL": key_server.url + "/jwks.json",
        "DOCS_AUTH_JWT_ISSUER": ISSUER,
        "DOCS_AUTH_JWT_AUDIENCE": AUDIENCE,
    }
