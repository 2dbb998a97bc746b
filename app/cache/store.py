"""The per-worker store: a byte-bounded, thread-safe LRU of objects, and one S3 fetch per key at a time."""

import threading
from dataclasses import dataclass, field

from cachetools import LRUCache

# What an entry costs beyond its bytes: the dataclass, its header tuples and the LRU's bookkeeping
# (measured in bench/cache_bench.py as RSS growth per entry, rounded up).
ENTRY_OVERHEAD = 1024


@dataclass
class Entry:
    """A whole object as S3 last confirmed it: the client-facing headers, the bytes, and when it was validated.

    ``etag`` is S3's (it revalidates the entry); a rewritten page's body and ``client_etag`` are the page's.

    ``body`` is ``None`` for a pass marker: an object that may not be stored (too large, no-store,
    private, a redirect), remembered so later requests stream at once and 304s keep its headers.
    """

    headers: list
    body: bytes | None
    etag: str | None
    validated: float
    lifetime: float
    compressible: bool = False
    # The page rewrite's ETag suffix when the entry was made ("" without one), and whether its body is rewritten.
    rewrite: str = ""
    rewritten: bool = False
    size: int = field(init=False)

    @property
    def client_etag(self):
        """Return the ETag clients see: S3's, with the rewrite's suffix when the body is rewritten."""
        if not self.rewritten or not self.etag or not self.etag.endswith('"'):
            return self.etag
        return f'{self.etag[:-1]}{self.rewrite}"'

    def __post_init__(self):
        header_bytes = sum(len(name) + len(value) for name, value in self.headers)
        self.size = ENTRY_OVERHEAD + header_bytes + len(self.body or b"")


@dataclass
class Variant:
    """An entry's body compressed with one coding, tied to the ETag it was made from."""

    source_etag: str | None
    body: bytes

    @property
    def size(self):
        """Return what the variant costs in the store."""
        return ENTRY_OVERHEAD + len(self.body)


class Flight:
    """One S3 fetch in progress for a key; requests for the same key wait for its outcome."""

    def __init__(self):
        self.done = threading.Event()
        self.outcome = None

    def land(self, outcome):
        """Publish the outcome (an entry, a pass marker or an exception) and wake the waiters."""
        self.outcome = outcome
        self.done.set()


class Store:
    """A byte-bounded LRU shared by a worker's threads, with single-flight fetches per key.

    cachetools' ``LRUCache`` with ``getsizeof`` does the byte accounting and eviction; it is not
    thread-safe, so every access holds one lock (held for dictionary operations only, never for I/O).
    """

    def __init__(self, max_bytes):
        self._lru = LRUCache(maxsize=max_bytes, getsizeof=lambda value: value.size)
        self._lock = threading.Lock()
        self._flights = {}

    def get(self, key):
        """Return the entry (or variant) stored under ``key``, marking it recently used, or ``None``."""
        with self._lock:
            return self._lru.get(key)

    def put(self, key, value):
        """Store ``value`` under ``key``, evicting the least recently used entries to make room."""
        with self._lock:
            if value.size <= self._lru.maxsize:
                self._lru[key] = value

    def discard(self, key):
        """Forget ``key`` (and nothing else)."""
        with self._lock:
            self._lru.pop(key, None)

    def join(self, key):
        """Return ``(flight, leader)``: the fetch in progress for ``key``, and whether the caller must run it."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight()
            return flight, True

    def land(self, key, flight, outcome):
        """End ``flight`` with ``outcome``; the next request for ``key`` starts a new one."""
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.land(outcome)

    @property
    def used_bytes(self):
        """Return the bytes the entries account for."""
        with self._lock:
            return self._lru.currsize

    def __len__(self):
        with self._lock:
            return len(self._lru)
