"""A fault-injecting HTTP/1.1 proxy for tests: sits between the app and an S3 endpoint on 127.0.0.1.

The proxy understands just enough HTTP/1.1 (request heads, ``Content-Length`` bodies, HEAD) to
apply a fault to whole requests on keep-alive connections, as S3 faults arrive: per request.

Modes (``proxy.set_mode(...)``):

- ``pass``: forward everything; each request line is recorded in ``requests``.
- ``refuse``: close the listening socket and reset every open connection, so the next connect is
  refused; ``pass`` listens again on the same port.
- ``stall``: hold each request ``seconds`` before forwarding it (S3 not answering in time).
- ``stall_body``: forward the response head and ``after_bytes`` of its body, then hold ``seconds``.
- ``reset``: forward the head and ``after_bytes`` of the body, wait ``pause`` seconds (0.5), then
  reset both connections (RST).
- ``drop``: reset the connection as soon as the request arrives, before any answer.
- ``slowdown``: answer ``503 SlowDown`` with S3's XML without contacting S3.

``count`` limits a fault to the next ``count`` requests (``None``: until the mode changes);
``faults`` counts the requests a fault was applied to, ``faulted`` lists their request lines, ``fault_taken``
(an Event) is set by the first one.
"""

import json
import os
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

SLOWDOWN_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>FAULTPROXY</RequestId></Error>"
)


def reset(sock):
    """Close ``sock`` with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Closed(Exception):
    """The peer closed its side of the connection."""


class Stream:
    """A socket with a read buffer, for reading HTTP heads and bodies."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def read_head(self):
        """Return the bytes up to and including the blank line ending a head."""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise Closed()
            self.buffer += data
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head + b"\r\n\r\n"

    def read_some(self, limit):
        """Return up to ``limit`` bytes, buffered first."""
        if not self.buffer:
            data = self.sock.recv(min(limit, 262144))
            if not data:
                raise Closed()
            return data
        data, self.buffer = self.buffer[:limit], self.buffer[limit:]
        return data


def content_length(head):
    """Return the ``Content-Length`` of a head, or ``None``."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def has_body(method, head):
    """Tell whether a response to ``method`` with this head carries a body."""
    status = int(head.split(b" ", 2)[1])
    return method != b"HEAD" and status not in (204, 304) and not 100 <= status < 200


class FaultProxy:
    """A threaded proxy on 127.0.0.1 in front of ``upstream_url``; see the module docstring."""

    def __init__(self, upstream_url):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname, parts.port)
        self.port = None
        self.listener = None
        self.lock = threading.Lock()
        self.connections = set()
        self.requests = []
        self.faulted = []
        # Set when a request is faulted: a test waits on it to know a request reached S3 and is stalled.
        self.fault_taken = threading.Event()
        self.faults = 0
        self.mode = "pass"
        self.options = {}
        self.remaining = None
        self.running = False

    @property
    def url(self):
        """The proxy's URL, to use as the S3 endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        """Listen (on a free port the first time, the same port afterwards) and accept in a thread."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port or 0))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self.listener = listener
        self.running = True
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self):
        """Stop listening and reset every connection."""
        self.running = False
        self._close_listener()
        self._reset_connections()

    def set_mode(self, mode, count=None, **options):
        """Apply ``mode`` to the next ``count`` requests (all of them if ``None``), then ``pass``."""
        with self.lock:
            self.mode = mode
            self.options = options
            self.remaining = count
            self.faults = 0
            self.faulted = []
            self.fault_taken.clear()
        if mode == "refuse":
            self._close_listener()
            self._reset_connections()
        elif self.listener is None and self.running:
            self.start()

    def _close_listener(self):
        listener, self.listener = self.listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()

    def _reset_connections(self):
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for sock in connections:
            reset(sock)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if listener is not self.listener:
                reset(client)
                return
            with self.lock:
                self.connections.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _take_fault(self, request_line):
        """Return the mode and options for the next request, counting it if it is faulted."""
        with self.lock:
            self.requests.append(tuple(request_line.decode("latin-1").split(" ")[:2]))
            if self.mode == "pass" or self.remaining == 0:
                return "pass", {}
            if self.remaining is not None:
                self.remaining -= 1
            self.faults += 1
            self.faulted.append((time.monotonic(), request_line.decode("latin-1")))
            self.fault_taken.set()
            return self.mode, dict(self.options)

    def _serve(self, client):
        upstream = None
        client_stream = Stream(client)
        try:
            while True:
                request_head = client_stream.read_head()
                request_line = request_head.split(b"\r\n", 1)[0]
                method = request_line.split(b" ", 1)[0]
                request_body = b""
                length = content_length(request_head) or 0
                while len(request_body) < length:
                    request_body += client_stream.read_some(length - len(request_body))
                mode, options = self._take_fault(request_line)
                if mode == "slowdown":
                    body = b"" if method == b"HEAD" else SLOWDOWN_XML
                    client.sendall(
                        b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                        b"x-amz-request-id: FAULTPROXY\r\nContent-Length: %d\r\n\r\n" % len(SLOWDOWN_XML) + body
                    )
                    continue
                if mode == "drop":
                    break
                if mode == "stall":
                    time.sleep(options.get("seconds", 5))
                    if options.get("then") == "close":
                        break
                if upstream is None:
                    upstream = socket.create_connection(self.upstream)
                    upstream_stream = Stream(upstream)
                upstream.sendall(request_head + request_body)
                response_head = upstream_stream.read_head()
                client.sendall(response_head)
                if not has_body(method, response_head):
                    continue
                remaining = content_length(response_head)
                if remaining is None:
                    # No length: the body runs to the end of the connection.
                    remaining = float("inf")
                sent = 0
                limit = options.get("after_bytes", 0) if mode in ("reset", "stall_body") else None
                while remaining > 0:
                    want = remaining if limit is None else max(min(remaining, limit - sent), 0)
                    if want == 0:
                        break
                    try:
                        data = upstream_stream.read_some(int(min(want, 262144)))
                    except Closed:
                        remaining = 0
                        break
                    client.sendall(data)
                    sent += len(data)
                    remaining -= len(data)
                if remaining > 0 and mode == "stall_body":
                    time.sleep(options.get("seconds", 5))
                    break
                if remaining > 0 and mode == "reset":
                    # An RST discards what the receiver has not read yet: give the app time to read
                    # the bytes sent, so the cut lands where the test put it.
                    time.sleep(options.get("pause", 0.5))
                    break
                if remaining == float("inf"):
                    break
        except (Closed, OSError, ValueError, IndexError):
            pass
        finally:
            with self.lock:
                self.connections.discard(client)
            reset(client)
            if upstream is not None:
                reset(upstream)


def report_figures(tmp_path, name, figures):
    """Write measured figures to ``tmp_path/name.json``, print them, and append them to
    ``$DOCS_RELIABILITY_REPORT`` when set (how docs/reliability.md was filled in)."""
    text = json.dumps(figures, indent=1, sort_keys=True, default=str)
    (tmp_path / f"{name}.json").write_text(text)
    print(f"\nreliability figures {name}: {text}")
    path = os.environ.get("DOCS_RELIABILITY_REPORT")
    if path:
        with open(path, "a") as report:
            report.write(json.dumps({name: figures}, sort_keys=True, default=str) + "\n")
