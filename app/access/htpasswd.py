"""The ``basic`` source's password file: bcrypt lines as ``htpasswd -B`` writes them, checked with ``bcrypt``."""

import hashlib
import hmac
import os
import re
import secrets
import threading
import time

import bcrypt

from .. import offload

# htpasswd -B writes $2y$; bcrypt's other spellings are the same algorithm.
BCRYPT_LINE = re.compile(r"^([^:\s]+):(\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53})$")
# Browsers resend the password with every asset; a page with 30 assets would cost 30 bcrypt checks.
CACHE_SECONDS = 60.0
CACHE_MAX = 10_000


class HtpasswdError(ValueError):
    """The htpasswd file cannot be read or holds a line that is not ``user:bcrypt-hash``."""


def parse_htpasswd(text, source="htpasswd file"):
    """Return ``{user: hash}`` from htpasswd ``text``; raise ``HtpasswdError`` naming any other kind of line."""
    users = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = BCRYPT_LINE.match(line)
        if match is None:
            user = line.split(":", 1)[0]
            raise HtpasswdError(
                f"{source} line {number} (user {user!r}) is not a bcrypt hash; "
                "create every line with `htpasswd -B` (MD5, SHA1, crypt and plain passwords are refused)"
            )
        user, hashed, cost = match.groups()
        if not 4 <= int(cost) <= 31:
            raise HtpasswdError(f"{source} line {number} (user {user!r}) has an impossible bcrypt cost {cost}")
        if user in users:
            raise HtpasswdError(f"{source} line {number} repeats the user {user!r}")
        users[user] = hashed.encode("ascii")
    if not users:
        raise HtpasswdError(f"{source} has no users")
    return users


def read_htpasswd(path):
    """Return ``{user: hash}`` from the file at ``path``; raise ``HtpasswdError`` when unreadable or bad."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise HtpasswdError(f"cannot read the htpasswd file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise HtpasswdError(f"the htpasswd file {path} is not UTF-8 text") from None
    return parse_htpasswd(text, f"the htpasswd file {path}")


def hash_cost(hashed):
    """Return the cost (log2 rounds) of a bcrypt hash."""
    return int(hashed.split(b"$")[2])


def highest_cost(users):
    """Return the highest bcrypt cost among ``users``' hashes."""
    return max(hash_cost(hashed) for hashed in users.values())


def dummy_hash(users):
    """Return a hash to check unknown users against, at the file's highest cost.

    A cheaper dummy would answer unknown names faster than known ones (the review measured cost 5
    against cost 12: which names exist showed in the response time).
    """
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=highest_cost(users)))


class Htpasswd:
    """A checked htpasswd file, re-read when it changes, with a short cache of successful checks."""

    def __init__(self, path, clock=time.monotonic):
        self.path = path
        self.clock = clock
        self.lock = threading.Lock()
        self.signature = self._signature()
        self.cache = {}
        # Cache keys are HMACs under a per-process key, so the cache never holds a password.
        self.cache_key = secrets.token_bytes(32)
        self.users = read_htpasswd(path)
        self.dummy = dummy_hash(self.users)

    def _signature(self):
        try:
            stat = os.stat(self.path)
        except OSError as error:
            raise HtpasswdError(f"cannot read the htpasswd file {self.path}: {error.strerror or error}") from None
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _refresh(self):
        signature = self._signature()
        if signature != self.signature:
            users = read_htpasswd(self.path)
            dummy = self.dummy if hash_cost(self.dummy) == highest_cost(users) else dummy_hash(users)
            with self.lock:
                self.users, self.signature, self.cache, self.dummy = users, signature, {}, dummy

    def _token(self, user, password):
        return hmac.new(self.cache_key, user.encode("utf-8") + b"\0" + password, hashlib.sha256).digest()

    def is_remembered(self, user, password):
        """Tell whether this password was checked for ``user`` within the last minute (no bcrypt needed)."""
        with self.lock:
            expires = self.cache.get(self._token(user, password))
        return expires is not None and expires > self.clock()

    def check(self, user, password):
        """Tell whether ``password`` (bytes) is ``user``'s; raise ``HtpasswdError`` if the file went bad."""
        self._refresh()
        token = self._token(user, password)
        now = self.clock()
        with self.lock:
            expires = self.cache.get(token)
        if expires is not None and expires > now:
            return True
        hashed = self.users.get(user)
        try:
            # ~0.1-0.3 s of CPU at common costs: off the event loop (app.offload), as bcrypt releases the GIL.
            ok = offload.run(bcrypt.checkpw, password, hashed or self.dummy) and hashed is not None
        except ValueError:
            ok = False
        if ok:
            with self.lock:
                if len(self.cache) >= CACHE_MAX:
                    self.cache = {key: value for key, value in self.cache.items() if value > now}
                    if len(self.cache) >= CACHE_MAX:
                        self.cache.clear()
                self.cache[token] = now + CACHE_SECONDS
        return ok
