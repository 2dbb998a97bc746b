"""Signing keys for the ``jwt`` source, fetched only from the configured URL and cached.

A JWKS URL serves every key at once; an ALB key URL serves one PEM key per key id. The token picks
a key by its ``kid`` among those; a ``jku``, ``x5u`` or embedded ``jwk`` header is never followed.
"""

import json
import re
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import quote


FETCH_TIMEOUT = 5.0
MAX_BYTES = 1024 * 1024
# Keys rotate rarely; PyJWKClient's default lifespan.
CACHE_SECONDS = 300.0
# An unknown kid triggers one refetch, but a stream of made-up kids must not turn into a stream of
# fetches against the identity provider.
REFETCH_INTERVAL = 10.0
# ALB keys are fetched one kid at a time, so a new kid always costs a fetch; after a miss, wait this long.
MISS_INTERVAL = 1.0
KID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


class KeysUnavailable(Exception):
    """The key URL could not be fetched or did not hold keys: requests needing a key get a 503."""

    def __init__(self, reason, status=None):
        super().__init__(reason)
        self.status = status  # the key URL's HTTP status, when it answered at all


class UnknownKey(Exception):
    """The token names a key the key URL does not hold, even after a refetch."""


def fetch(url, timeout=FETCH_TIMEOUT):
    """Return the body at ``url`` (at most 1 MiB), or raise ``KeysUnavailable`` saying why."""
    request = urllib.request.Request(url, headers={"Accept": "application/json, application/x-pem-file, */*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status != 200:
                raise KeysUnavailable(f"{url} answered {response.status}", response.status)
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise KeysUnavailable(f"{url} answered {error.code}", error.code) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise KeysUnavailable(f"{url} could not be fetched: {getattr(error, 'reason', error)}") from None
    if len(body) > MAX_BYTES:
        raise KeysUnavailable(f"{url} sent more than {MAX_BYTES} bytes")
    return body


def parse_jwks(body, url=""):
    """Return ``{kid: PyJWK}`` from a JWKS document, skipping keys not meant for signatures."""
    import jwt  # PyJWT and cryptography take 0.08 s to import: only apps with a jwt source pay it

    try:
        document = json.loads(body)
        entries = document["keys"]
        if not isinstance(entries, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise KeysUnavailable(f"{url} is not a JWKS document (a JSON object with a 'keys' list)") from None
    keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
            continue  # symmetric keys are never accepted: they would let a public key sign tokens
        try:
            keys[entry.get("kid", "")] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # a key type this build cannot use; the others still serve
    if not keys:
        raise KeysUnavailable(f"{url} holds no usable signing keys")
    return keys


class KeySet:
    """The keys at a JWKS URL, cached for a few minutes and refetched once for an unknown ``kid``."""

    def __init__(self, url, clock=time.monotonic):
        self.url = url
        self.clock = clock
        self.lock = threading.Lock()
        self.keys = None
        self.fetched_at = None
        self.refetched_at = None

    def _load(self):
        self.keys = parse_jwks(fetch(self.url), self.url)
        self.fetched_at = self.clock()

    def get(self, kid):
        """Return the key for ``kid`` (``None``: the only key); raise ``UnknownKey`` or ``KeysUnavailable``."""
        with self.lock:
            now = self.clock()
            if self.keys is None or now - self.fetched_at > CACHE_SECONDS:
                self._load()
            key = self._pick(kid)
            if key is None and (self.refetched_at is None or now - self.refetched_at > REFETCH_INTERVAL):
                self.refetched_at = now
                self._load()
                key = self._pick(kid)
        if key is None:
            raise UnknownKey(kid)
        return key

    def _pick(self, kid):
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)


class PemKeys:
    """ALB's key URL: one PEM public key per ``kid`` at ``url/kid``, each cached once fetched."""

    def __init__(self, url, clock=time.monotonic):
        self.url = url.rstrip("/")
        self.clock = clock
        self.lock = threading.Lock()
        self.keys = {}
        self.missed_at = None  # when a fetch last found no such key

    def get(self, kid):
        """Return the public key for ``kid``; raise ``UnknownKey`` or ``KeysUnavailable``."""
        if kid is None or not KID.match(kid):
            raise UnknownKey(kid)
        with self.lock:
            now = self.clock()
            cached = self.keys.get(kid)
            if cached is not None and now - cached[1] <= CACHE_SECONDS:
                return cached[0]
            # Made-up kids must not each cost a fetch: after a miss, unseen kids wait a second.
            if cached is None and self.missed_at is not None and now - self.missed_at < MISS_INTERVAL:
                raise UnknownKey(kid)
        url = f"{self.url}/{quote(kid, safe='')}"
        try:
            body = fetch(url)
        except KeysUnavailable as error:
            if error.status in (403, 404):  # no such key (S3-hosted key URLs answer 403)
                with self.lock:
                    self.missed_at = self.clock()
                raise UnknownKey(kid) from None
            raise
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        try:
            key = load_pem_public_key(body)
        except (ValueError, TypeError):
            raise KeysUnavailable(f"{url} is not a PEM public key") from None
        with self.lock:
            if len(self.keys) > 100:
                self.keys.clear()
            self.keys[kid] = (key, self.clock())
        return key
