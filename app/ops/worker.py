"""docs-proxy's gunicorn worker: gevent's, with slow readers bounded and a full worker answering 503 at once.

A greenlet per connection instead of a thread per connection, so a reader at 64 KiB/s holds a few
kilobytes of stack and one chunk, never a thread the pages need (docs/architecture.md, "Serving
engine"). On top of gunicorn's ``GeventWorker`` this adds three bounds gunicorn leaves open:

- a client that stops taking bytes is dropped once ``DOCS_STALLED_READER_TIMEOUT`` seconds pass
  without progress, which closes its S3 body (the response's ``close``) and so its S3 connection;
- past ``worker_connections`` open connections, a new one gets ``503`` with ``Retry-After`` at once
  instead of waiting unaccepted in the kernel's backlog;
- request heads and idle kept-alive connections are bounded by gunicorn's ``keepalive`` (its
  asynchronous workers read every request head under that timeout).

Imported by gunicorn's master after ``gunicorn.conf.py`` has monkey-patched the standard library.
"""

import errno
import logging
import socket
import time
from functools import partial

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.server import StreamServer
from gunicorn.sock import ssl_context
from gunicorn.workers.ggevent import GeventWorker

# Connections beyond worker_connections that are accepted only to be answered 503: enough for a
# burst to be answered within milliseconds while the pool of greenlets stays bounded.
OVERFLOW_CONNECTIONS = 100
# How long a refused client may take to read the 503 and hang up before the socket is closed.
REFUSAL_LINGER_SECONDS = 0.5
RETRY_AFTER_SECONDS = 1
OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: %d\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)
OVER_CAPACITY_BODY = b"docs-proxy is at capacity (worker_connections); retry in a moment\n"
DEFAULT_STALLED_READER_TIMEOUT = 60.0
DEFAULT_SEND_BUFFER = 256 * 1024
# Connections taken from the listen queue per wake-up: each worker has its own listener (reuse_port),
# so it takes all that wait (gunicorn's worker takes one, to share a listener between workers).
ACCEPT_BATCH = 100
# After each request on a kept-alive connection, its greenlet waits this long, so the loop polls the
# other sockets: a client that sends its next request at once would otherwise find it already there,
# and be served again and again while every other connection waits (gevent.sleep(0) is not enough: it
# resumes before the loop polls sockets). Measured: with keep-alive, two connections, one was served
# 900 times in a row and the other waited up to 0.9 s; with this, p99 5 ms (bench/README.md).
FAIR_TURN_SECONDS = 0.00001
# Likewise each time a connection has sent this much: a fast download then holds the worker for a few
# milliseconds at most (1 GB/s), and pays one turn per 4 MiB (a turn per 1 MiB chunk cost 10-15% of
# its throughput).
FAIR_TURN_BYTES = 4 * 1024 * 1024
# Once this many connections were open at once and three quarters have gone, free memory is released.
TRIM_AFTER_CONNECTIONS = 64


def _drop_pool_full_warnings(record):
    return not record.getMessage().startswith("Connection pool is full")


class ReaderStalled(OSError):
    """A client took no bytes for the stalled-reader timeout while a response was being sent."""


class StallGuard:
    """A client socket whose ``sendall`` fails when the reader takes nothing for ``timeout`` seconds.

    gevent's own socket timeout bounds a whole ``sendall``; this bounds the wait for each bit of
    progress instead (as nginx's ``send_timeout`` does), so a slow reader that keeps reading is never
    dropped however long its download, while one that stopped is, whatever the chunk size.
    """

    __slots__ = ("_sock", "_timeout", "_unturned", "recv", "recv_into", "fileno", "close", "setblocking",
                 "getsockname")

    def __init__(self, sock, timeout):
        self._sock = sock
        self._timeout = timeout
        self._unturned = 0  # bytes sent since this connection last let the others have a turn
        # gevent waits up to the socket's timeout for each send (and recv); request heads stay bounded
        # by gunicorn's shorter keepalive timeout.
        sock.settimeout(timeout)
        # Bound once: gunicorn's parser calls recv for every read.
        self.recv = sock.recv
        self.recv_into = sock.recv_into
        self.fileno = sock.fileno
        self.close = sock.close
        self.setblocking = sock.setblocking
        self.getsockname = sock.getsockname

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def sendall(self, data, flags=0):
        """Send all of ``data``; raise ``ReaderStalled`` when no byte leaves for the timeout."""
        view = memoryview(data).cast("B")
        while view:
            try:
                sent = self._sock.send(view, flags)
            except socket.timeout:
                raise ReaderStalled(errno.ETIMEDOUT, f"the client read nothing for {self._timeout:g} s") from None
            view = view[sent:]
        self._unturned += len(data)
        if self._unturned >= FAIR_TURN_BYTES:
            # A fast reader's socket always has room: without a turn for the others, one download
            # would hold the worker until its end while pages wait.
            self._unturned = 0
            gevent.sleep(FAIR_TURN_SECONDS)


def release_free_memory():
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``); nothing elsewhere.

    A thousand downloads leave their freed chunks spread through the heap, where glibc keeps them:
    the worker's RSS would stay at its peak after the readers left.
    """
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def refuse(client):
    """Answer 503 with Retry-After on ``client`` and close it, after the client has had its chance to read it."""
    body = OVER_CAPACITY_BODY
    try:
        client.sendall(OVER_CAPACITY % (RETRY_AFTER_SECONDS, len(body), body))
        # Closing with the request unread would reset the connection, and the client might lose the
        # 503; half-close, then read (and drop) whatever it sends until it hangs up or time is up.
        client.shutdown(socket.SHUT_WR)
        with gevent.Timeout(REFUSAL_LINGER_SECONDS, False):
            while client.recv(65536):
                pass
    except OSError:
        pass
    finally:
        client.close()


class DocsWorker(GeventWorker):
    """gunicorn's gevent worker with the stalled-reader, capacity and refusal bounds above."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # GeventWorker sizes its pool of greenlets from this: the overflow is accepted only to be refused.
        self.capacity = self.worker_connections
        self.worker_connections = self.capacity + OVERFLOW_CONNECTIONS
        self.serving = 0
        self.peak_serving = 0
        self.servers = []
        self._stopping = None
        self.stalled_reader_timeout = DEFAULT_STALLED_READER_TIMEOUT
        self.send_buffer = DEFAULT_SEND_BUFFER

    def load_wsgi(self):
        super().load_wsgi()
        settings = getattr(self.wsgi, "config", None)  # the Flask app's
        if settings is not None:
            self.stalled_reader_timeout = settings.get("DOCS_STALLED_READER_TIMEOUT", DEFAULT_STALLED_READER_TIMEOUT)
            self.send_buffer = settings.get("DOCS_SEND_BUFFER", DEFAULT_SEND_BUFFER)
        # Each download beyond S3_MAX_POOL_CONNECTIONS opens its own S3 connection, closed after use
        # (expected under gevent, where 1,000 downloads may run at once): not worth a warning each.
        logging.getLogger("urllib3.connectionpool").addFilter(_drop_pool_full_warnings)

    def run(self):
        """Serve until asked to stop, then refuse new connections at once and let the open ones finish.

        gunicorn's own loop notices a SIGTERM only at its next one-second tick; here the signal wakes it,
        so the listeners close (new connections are refused) within milliseconds, as with gthread.
        """
        self._stopping = Event()
        ssl_args = {"ssl_context": ssl_context(self.cfg)} if self.cfg.is_ssl else {}
        for listener in self.sockets:
            listener.setblocking(1)
            server = StreamServer(listener, handle=partial(self.handle, listener), spawn=Pool(self.worker_connections),
                                  **ssl_args)
            server.max_accept = ACCEPT_BATCH
            server.start()
            self.servers.append(server)
        while self.alive:
            self.notify()
            self._stopping.wait(1.0)
        for server in self.servers:
            server.close()  # stop accepting and close the listener: the kernel refuses new connections
        started = time.monotonic()
        while time.monotonic() - started <= self.cfg.graceful_timeout:
            if all(server.pool.free_count() == server.pool.size for server in self.servers):
                return
            self.notify()
            gevent.sleep(0.2)
        self.log.warning("Worker graceful timeout (pid:%s)", self.pid)
        for server in self.servers:
            server.stop(timeout=1)

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        if self._stopping is not None:
            gevent.spawn(self._stopping.set)

    def notify(self):
        super().notify()  # every second, from the worker's main loop
        if self.peak_serving >= TRIM_AFTER_CONNECTIONS and self.serving <= self.peak_serving // 4:
            release_free_memory()
            self.peak_serving = self.serving

    def handle_quit(self, sig, frame):
        # gunicorn's quick stop (SIGQUIT, SIGINT): exit now, from a greenlet since a signal handler must
        # not block; raised in the main greenlet, so gevent does not print it as a greenlet's failure.
        gevent.spawn(self._quit_now)

    def _quit_now(self):
        self.alive = False
        self.cfg.worker_int(self)
        gevent.get_hub().parent.throw(SystemExit(0))

    def handle(self, listener, client, addr):
        client.setblocking(1)
        if self.serving >= self.capacity:
            self.log.warning("at capacity (%d connections): answered 503 to %s", self.capacity, addr[0] if addr else "?")
            refuse(client)
            return
        self.serving += 1
        if self.send_buffer:
            # Linux grows a socket's send buffer to 4 MiB for any reader, however slow: 1,000 readers
            # arriving together would have the worker push gigabytes through Python before it could
            # accept the next page request. A fixed buffer also ends that growth (see DOCS_SEND_BUFFER).
            client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        self.peak_serving = max(self.peak_serving, self.serving)
        try:
            super(GeventWorker, self).handle(listener, StallGuard(client, self.stalled_reader_timeout), addr)
        finally:
            self.serving -= 1

    def handle_request(self, listener_name, req, sock, addr):
        try:
            super().handle_request(listener_name, req, sock, addr)
        except ReaderStalled as error:
            # The response's close() has run (gunicorn's finally): its S3 body and connection are released.
            self.log.info("dropped a reader of %s %s: %s", req.method, req.path, error.strerror)
            raise StopIteration() from None
        # Still open (a closing response raises StopIteration): let the other connections have a turn.
        try:
            gevent.sleep(FAIR_TURN_SECONDS)
        except gevent.GreenletExit:
            # Stopped here by a shutdown past its graceful timeout: the response was complete, so close
            # the connection quietly rather than have gunicorn report the request as failed.
            raise StopIteration() from None
