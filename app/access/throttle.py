"""Failed password checks counted per user and per client, so guessing costs the guesser, not the readers.

A bcrypt check is ~100 ms of CPU at cost 10 and ~1 s at cost 12: forty connections guessing one
user's password kept a worker's cores busy and slowed public pages from 52 ms to 17 s. Once a user
name or a client has ``limit`` failures within ``window`` seconds, further attempts from it (or for
it) are refused at once, without a bcrypt check, until the window ends. Successful checks already
remembered (``Htpasswd.is_remembered``) are never refused, so a signed-in user keeps reading while
someone guesses their password. The counts are per worker, like every other cache here.
"""

import ipaddress
import threading
import time

MAX_ENTRIES = 10_000


def client_key(address):
    """Return what failures from ``address`` are counted against: the address, or its /64 for IPv6.

    One IPv6 host is routinely given a whole /64 (2**64 addresses): counted per address, a guesser
    would never reach the limit. IPv4-mapped addresses count as their IPv4 address.
    """
    try:
        parsed = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return address
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class FailureThrottle:
    """Count failures per key in fixed windows of ``window`` seconds; a key at ``limit`` is refused."""

    def __init__(self, limit, window=60.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.lock = threading.Lock()
        self.entries = {}  # key -> (window start, failures)

    def retry_after(self, *keys):
        """Return the seconds until every key in ``keys`` may try again (0: now)."""
        now = self.clock()
        wait = 0.0
        with self.lock:
            for key in keys:
                started, failures = self.entries.get(key, (now, 0))
                if failures >= self.limit and now < started + self.window:
                    wait = max(wait, started + self.window - now)
        return wait

    def failed(self, *keys):
        """Count one failure for each key in ``keys``."""
        now = self.clock()
        with self.lock:
            if len(self.entries) >= MAX_ENTRIES:
                self._prune(now)
            for key in keys:
                started, failures = self.entries.get(key, (now, 0))
                if now >= started + self.window:
                    started, failures = now, 0
                self.entries[key] = (started, failures + 1)

    def _prune(self, now):
        # Expired windows first, then keys that refuse nothing yet (made-up names counted once each);
        # the keys being refused are kept, or a flood of new names would free the guessed one.
        live = {key: value for key, value in self.entries.items() if now < value[0] + self.window}
        if len(live) >= MAX_ENTRIES:
            live = {key: value for key, value in live.items() if value[1] >= self.limit}
        if len(live) >= MAX_ENTRIES:
            live = {}
        self.entries = live
