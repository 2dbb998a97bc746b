"""Slow clients on real sockets, for the reliability tests and bench/slow_bench.py: slow readers,
clients that send their request head byte by byte or nothing at all, and readers that stop reading.

All of them run as asyncio tasks on one event loop (in a thread, or in a child process with
``python tests/slowclients.py``), so a thousand cost the test one thread. Every run is bounded by
its ``seconds``; each client reports what it saw, and ``summary`` turns that into figures.
"""

import argparse
import asyncio
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass


@dataclass
class Reader:
    """What one slow reader saw: status, bytes, the longest wait for data, and how it ended."""

    status: int = 0
    content_length: int = -1
    received: int = 0
    longest_gap: float = 0.0
    first_byte: float = -1.0
    ended: str = "running"
    error: str = ""


@dataclass
class Holder:
    """What one slow-header or idle connection saw: how long until the server closed it, and what it answered."""

    closed_after: float = -1.0
    answer: bytes = b""
    sent: int = 0


def request_head(path, host="127.0.0.1", extra=""):
    """Return a GET request head for ``path`` as bytes."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode("latin-1")


async def slow_read(port, path, read_size, interval, seconds, result, rcvbuf=None):
    """Download ``path``, reading ``read_size`` bytes every ``interval`` seconds, until EOF or ``seconds``."""
    start = time.monotonic()
    deadline = start + seconds
    writer = None
    try:
        sock = socket.socket()
        sock.setblocking(False)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        # limit: the stream stops reading the socket once it holds 2 x read_size, as a slow client would.
        reader, writer = await asyncio.open_connection(sock=sock, limit=read_size)
        writer.write(request_head(path))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), max(0.1, deadline - time.monotonic()))
        result.first_byte = time.monotonic() - start
        lines = head.decode("latin-1").split("\r\n")
        result.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                result.content_length = int(value)
        last = time.monotonic()
        while time.monotonic() < deadline:
            left = deadline - time.monotonic()
            try:
                data = await asyncio.wait_for(reader.read(read_size), left)
            except asyncio.TimeoutError:
                break
            now = time.monotonic()
            if not data:
                result.ended = "complete" if result.received == result.content_length else "closed"
                return
            result.longest_gap = max(result.longest_gap, now - last)
            last = now
            result.received += len(data)
            await asyncio.sleep(interval)
        result.longest_gap = max(result.longest_gap, time.monotonic() - last)
        result.ended = "deadline"
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError, IndexError) as error:
        result.ended = "error"
        result.error = f"{type(error).__name__}: {error}"
    finally:
        if writer is not None:
            writer.close()


async def hold(port, head, byte_interval, seconds, result):
    """Connect, send ``head`` one byte every ``byte_interval`` seconds (nothing if empty), and time the server's close."""
    start = time.monotonic()
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def trickle():
            for byte in head:
                writer.write(bytes([byte]))
                result.sent += 1
                await asyncio.sleep(byte_interval)

        sender = asyncio.ensure_future(trickle())
        try:
            answer = await asyncio.wait_for(reader.read(65536), seconds)
            while answer:
                result.answer += answer
                answer = await asyncio.wait_for(reader.read(65536), max(0.01, seconds - (time.monotonic() - start)))
            result.closed_after = time.monotonic() - start
        except asyncio.TimeoutError:
            pass
        except OSError:
            result.closed_after = time.monotonic() - start
        finally:
            sender.cancel()
    except OSError:
        result.closed_after = time.monotonic() - start
    finally:
        if writer is not None:
            writer.close()


async def _gather(coroutines, spread, started=None):
    tasks = []
    for coroutine in coroutines:
        tasks.append(asyncio.ensure_future(coroutine))
        if spread:
            await asyncio.sleep(spread)
    if started is not None:
        tasks.append(asyncio.ensure_future(started()))
    await asyncio.gather(*tasks, return_exceptions=True)


def run_readers(port, path, count, read_size=16 * 1024, interval=0.25, seconds=10.0, spread=0.002, rcvbuf=None,
                on_started=None):
    """Run ``count`` slow readers of ``path`` for ``seconds``; return their ``Reader`` results.

    ``on_started()`` is called once every reader has its response head (or has failed).
    """
    results = [Reader() for _ in range(count)]
    coroutines = [slow_read(port, path, read_size, interval, seconds, result, rcvbuf) for result in results]

    async def started():
        while any(result.first_byte < 0 and result.ended == "running" for result in results):
            await asyncio.sleep(0.05)
        if on_started is not None:
            on_started()

    asyncio.run(_gather(coroutines, spread, started))
    return results


def run_holders(port, count, head=b"", byte_interval=0.5, seconds=10.0, spread=0.001):
    """Open ``count`` connections that send ``head`` byte by byte (or nothing); return their ``Holder`` results."""
    results = [Holder() for _ in range(count)]
    asyncio.run(_gather([hold(port, head, byte_interval, seconds, result) for result in results], spread))
    return results


class Background(threading.Thread):
    """Run one of the ``run_*`` functions on its own thread; ``join()`` then read ``results``."""

    def __init__(self, function, *args, **kwargs):
        super().__init__(daemon=True)
        self.results = None
        self._call = (function, args, kwargs)

    def run(self):
        function, args, kwargs = self._call
        self.results = function(*args, **kwargs)


def summary(readers):
    """Return figures for a list of ``Reader`` results: how many got data, least bytes, longest gap, endings."""
    endings = {}
    for reader in readers:
        endings[reader.ended] = endings.get(reader.ended, 0) + 1
    with_data = [reader for reader in readers if reader.received > 0]
    return {
        "readers": len(readers),
        "status_200": sum(reader.status == 200 for reader in readers),
        "statuses": {str(status): sum(reader.status == status for reader in readers)
                     for status in sorted({reader.status for reader in readers})},
        "received_data": len(with_data),
        "least_bytes": min((reader.received for reader in readers), default=0),
        "total_bytes": sum(reader.received for reader in readers),
        "longest_gap_s": round(max((reader.longest_gap for reader in readers), default=0.0), 2),
        "slowest_first_byte_s": round(max((reader.first_byte for reader in readers), default=0.0), 2),
        "endings": endings,
        "errors": sorted({reader.error for reader in readers if reader.error})[:5],
    }


def main(argv=None):
    """Command line for bench/: run slow readers; print "started" once all have begun, then their summary as JSON."""
    parser = argparse.ArgumentParser(description="slow readers against 127.0.0.1:PORT")
    parser.add_argument("port", type=int)
    parser.add_argument("path")
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--read-size", type=int, default=16 * 1024)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--spread", type=float, default=0.002, help="seconds between starting two readers")
    args = parser.parse_args(argv)

    def started():
        print("started", flush=True)

    readers = run_readers(args.port, args.path, args.readers, args.read_size, args.interval, args.seconds, args.spread,
                          on_started=started)
    json.dump({"summary": summary(readers), "received": [reader.received for reader in readers]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
