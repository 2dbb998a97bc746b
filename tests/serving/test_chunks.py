"""The chunk size of a download, from how fast its reader takes the chunks (app/serving/chunks.py)."""

import pytest

from app.serving.chunks import MIN_PROBE_BYTES, PROBE_BYTES, ChunkSizer, probe_bytes

KIB = 1024
MIB = 1024 * KIB
SMALL, LARGE = 64 * KIB, MIB


def feed(sizer, seconds_per_chunk, total):
    """Send ``total`` bytes through ``sizer``, each chunk taking ``seconds_per_chunk``; return the sizes used."""
    sizes = []
    sent = 0
    while sent < total:
        size = sizer.size
        sizes.append(size)
        sizer.sent(size, seconds_per_chunk(size))
        sent += size
    return sizes


@pytest.mark.parametrize(
    "rate, expected_last",
    [
        (1e9, LARGE),  # loopback, a LAN: large chunks after the probe
        (100 * MIB, LARGE),
        (16 * MIB, LARGE),  # exactly the threshold
        (15 * MIB, SMALL),
        (64 * KIB, SMALL),  # 16 KiB every 0.25 s: the slow reader of issue 20
    ],
)
def test_reader_speed_over_the_probe_decides_the_chunk_size(rate, expected_last):
    sizer = ChunkSizer(SMALL, LARGE)
    sizes = feed(sizer, lambda size: size / rate, 2 * PROBE_BYTES)
    assert sizes[0] == SMALL
    assert set(sizes[: PROBE_BYTES // SMALL]) == {SMALL}
    assert sizes[-1] == expected_last


def test_a_slow_reader_behind_kernel_buffers_that_took_the_first_megabytes_at_once_keeps_small_chunks():
    # The first 4 MiB fill the socket buffers instantly; the rest of the probe goes at 64 KiB/s.
    sizer = ChunkSizer(SMALL, LARGE)
    sizes = feed(sizer, lambda size: 0.0 if sizer._window_bytes < 4 * MIB else size / (64 * KIB), 2 * PROBE_BYTES)
    assert set(sizes) == {SMALL}


def test_a_fast_reader_that_stalls_goes_back_to_small_chunks_and_probes_again():
    sizer = ChunkSizer(SMALL, LARGE)
    feed(sizer, lambda size: 0.0, PROBE_BYTES)
    assert sizer.size == LARGE
    assert sizer.sent(LARGE, 0.5) == LARGE  # a hiccup
    assert sizer.sent(LARGE, 1.5) == SMALL  # a reader taking a large chunk this slowly holds it too long
    assert feed(sizer, lambda size: 0.0, PROBE_BYTES)[-1] == SMALL  # the probe starts over
    assert sizer.size == LARGE


@pytest.mark.parametrize(
    "send_buffer, probe",
    [
        (256 * KIB, MIN_PROBE_BYTES),  # the shipped DOCS_SEND_BUFFER: Linux makes it 512 KiB
        (1 * MIB, 8 * MIB),
        (0, 16 * MIB),  # left to the kernel, which grows it to 4 MiB
    ],
)
def test_the_probe_is_four_times_what_the_kernel_absorbs(send_buffer, probe):
    assert probe_bytes(send_buffer) == probe


def test_a_slow_reader_behind_the_shipped_send_buffer_keeps_small_chunks():
    sizer = ChunkSizer(SMALL, LARGE, probe_bytes(256 * KIB))
    sizes = feed(sizer, lambda size: 0.0 if sizer._window_bytes < MIB else size / (64 * KIB), 3 * MIN_PROBE_BYTES)
    assert set(sizes) == {SMALL}


def test_equal_sizes_mean_a_fixed_chunk():
    sizer = ChunkSizer(LARGE, LARGE)
    assert set(feed(sizer, lambda size: 10.0, 4 * MIB)) == {LARGE}


def test_a_slow_size_above_the_fast_one_is_capped():
    assert ChunkSizer(4 * MIB, MIB).size == MIB
