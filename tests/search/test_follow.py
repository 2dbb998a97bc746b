"""Over real HTTP with two workers: search follows a publish within the portal's TTL, or says it is rebuilding."""

import time
import uuid

import requests

from tests.search.conftest import write_site
from tests.search.test_http import PORTAL_TTL, publish


def test_every_worker_follows_a_publish_within_the_ttl_or_says_the_index_is_being_rebuilt(
        moto_server, server_s3, gunicorn_factory, tmp_path):
    bucket = f"follow-{uuid.uuid4().hex[:12]}"
    server_s3.create_bucket(Bucket=bucket)
    publish(moto_server, bucket, write_site(tmp_path / "1", {"index.html": ("Home", [("g", "Gnu", "gnu one")])}),
            "herd", "1.0")
    server = gunicorn_factory(bucket, env={"DOCS_PORTAL_TTL": str(PORTAL_TTL), "WEB_CONCURRENCY": "2"})

    def search(word):
        # A new connection each time: SO_REUSEPORT spreads them over both workers.
        return requests.get(f"{server.url}/_/api/search", params={"q": word}, timeout=30,
                            headers={"Connection": "close"}).json()

    assert all(search("gnu")["results"] for _ in range(6))  # both workers hold an index of 1.0
    publish(moto_server, bucket, write_site(tmp_path / "2", {"index.html": ("Home", [("o", "Okapi", "okapi two")])}),
            "herd", "1.1")
    time.sleep(PORTAL_TTL + 0.2)  # every worker's copy of the portal index is now due for revalidation
    silent_misses, rounds = [], 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answers = [search("okapi") for _ in range(6)]
        rounds += 1
        silent_misses += [answer for answer in answers if not answer["results"] and not answer["rebuilding"]]
        assert all(answer["unsearchable"] == [] for answer in answers)
        if all(answer["results"] for answer in answers):
            break
        time.sleep(0.1)
    assert silent_misses == []  # a stale answer always says so
    assert all(answer["results"] and not answer["rebuilding"] for answer in answers), f"after {rounds} rounds"
