"""A 1 GiB tar streamed over real HTTP, generated on the fly by the client: the worker's memory stays flat."""

import tarfile
import threading
import time

import pytest
import requests

from tests.upload.conftest import page

pytestmark = pytest.mark.slow

MEMBER = 64 * 1024 * 1024
MEMBERS = 16  # 1 GiB in all, every member a multipart upload
BLOCK = bytes(range(256)) * 4096  # 1 MiB
RSS_GROWTH_LIMIT_MB = 128  # an eighth of the body: a worker holding the upload would grow by 1 GiB


def streamed_tar():
    """Yield a tar of MEMBERS members of MEMBER bytes each, plus an index page, without ever holding it."""
    index = page("Large", "a gigabyte of artifacts")
    info = tarfile.TarInfo("index.html")
    info.size = len(index)
    yield info.tobuf(format=tarfile.PAX_FORMAT) + index + tarfile.NUL * (-len(index) % tarfile.BLOCKSIZE)
    for number in range(MEMBERS):
        info = tarfile.TarInfo(f"artifacts/part-{number:02d}.bin")
        info.size = MEMBER
        yield info.tobuf(format=tarfile.PAX_FORMAT)
        for _ in range(MEMBER // len(BLOCK)):
            yield BLOCK
    yield tarfile.NUL * tarfile.BLOCKSIZE * 2


def rss_mb(pid):
    """Return a process's resident set size in MiB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def test_a_one_gigabyte_tar_streams_through_with_flat_worker_memory(site_factory):
    site = site_factory({"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"})
    token = site.token(projects=("large",))
    master = site.server.process.pid
    with open(f"/proc/{master}/task/{master}/children") as children:
        (worker,) = [int(pid) for pid in children.read().split()]
    # Warm the worker up (imports, the S3 client, a first small upload) before taking the baseline.
    assert site.put("large", "0.1.0", b"".join([next(streamed_tar()), tarfile.NUL * 1024]), token).status_code == 201
    baseline = rss_mb(worker)
    peak, done = [baseline], threading.Event()

    def sample():
        while not done.is_set():
            peak.append(rss_mb(worker))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        response = requests.put(f"{site.url}/_/api/projects/large/versions/1.0.0", data=streamed_tar(),
                                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-tar"},
                                timeout=900)
    finally:
        done.set()
        sampler.join()
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["files"] == MEMBERS + 1 and summary["bytes"] == MEMBERS * MEMBER + len(page("Large", "a gigabyte of artifacts"))
    head = site.s3.head_object(Bucket=site.bucket, Key="large/1.0.0/artifacts/part-15.bin")
    assert head["ContentLength"] == MEMBER
    assert not site.keys(".docs-staging/") and not site.pending_multipart()
    growth = max(peak) - baseline
    print(f"worker RSS: baseline {baseline:.0f} MiB, peak {max(peak):.0f} MiB (+{growth:.0f} MiB) for a 1 GiB upload "
          f"in {summary['seconds']:.0f} s")
    assert growth < RSS_GROWTH_LIMIT_MB
