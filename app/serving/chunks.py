"""Pure: how many bytes a download reads from S3 at a time, from how fast its reader takes them.

A chunk is held in memory until the reader has taken it, so its size is what each download costs:
1 MiB chunks x 1,000 slow readers is a gigabyte, while a fast reader streams 2x faster with 1 MiB
chunks than with 64 KiB ones (bench/README.md, the chunk size sweep). So every download starts with
the small chunk and moves to the large one only once it has shown a fast reader over a stretch
longer than what the kernel's socket buffers absorb at any speed (4 MiB with the shipped send buffer); it moves back as soon as one large
chunk waits on its reader for more than a second.
"""

MIB = 1024 * 1024
# The first bytes of any download go out at once, however slow the reader: they fill the socket's
# send buffer (DOCS_SEND_BUFFER, which Linux doubles; left to the kernel, up to 4 MiB) and the
# reader's receive window (small for a reader that reads slowly). Only what follows tells its speed.
KERNEL_SEND_BUFFER_MAX = 4 * MIB
MIN_PROBE_BYTES = 4 * MIB
PROBE_BYTES = 4 * KERNEL_SEND_BUFFER_MAX  # with the send buffer left to the kernel
# A reader taking the probe at this rate or faster gets large chunks: at 64 KiB per chunk this is
# 256 chunks a second, where the per-chunk CPU (~0.07 ms) starts to be worth saving.
FAST_BYTES_PER_SECOND = 16 * 1024 * 1024
# A large chunk that waits this long on its reader sends the download back to small chunks.
SLOW_LARGE_CHUNK_SECONDS = 1.0


def probe_bytes(send_buffer):
    """Return how many bytes tell a reader's speed: four times what the kernel may take at once (``send_buffer`` 0: its own)."""
    absorbed = 2 * send_buffer if send_buffer else KERNEL_SEND_BUFFER_MAX
    return max(MIN_PROBE_BYTES, 4 * absorbed)


class ChunkSizer:
    """The chunk size of one download: ``small`` until the reader proves fast, then ``large``."""

    def __init__(self, small, large, probe=PROBE_BYTES):
        self.small = min(small, large)
        self.large = large
        self.probe = probe
        self.size = self.small
        self._window_bytes = 0
        self._window_seconds = 0.0

    def sent(self, size, seconds):
        """Record that a chunk of ``size`` bytes took the reader ``seconds``; return the next chunk size."""
        if self.size == self.large and self.large != self.small:
            if seconds > SLOW_LARGE_CHUNK_SECONDS:
                self.size = self.small
                self._window_bytes, self._window_seconds = 0, 0.0
            return self.size
        self._window_bytes += size
        self._window_seconds += seconds
        if self._window_bytes >= self.probe:
            if self._window_bytes >= FAST_BYTES_PER_SECOND * self._window_seconds:
                self.size = self.large
            self._window_bytes, self._window_seconds = 0, 0.0
        return self.size
