"""Granted artifacts (presigned POSTs) are listed once S3 holds them: one HEAD each, kept per worker."""

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

import app.access
from app.portal.artifacts import FAILURE_PAUSE, ArtifactCheck, is_settled
from app.portal.catalog import Artifact, granted_artifacts
from app.portal.index import add_artifact, record_published, update_index

from tests.conftest import BUCKET
from tests.portal.conftest import FakeClock

KEY = "tools/1.0/dist/manual.pdf"
URL = "/docs/tools/1.0/dist/manual.pdf"


@pytest.mark.parametrize("kept, now, settled", [
    (None, 1000.0, False),
    ((True, 0.0), 1e9, True),  # a file S3 holds stays listed
    ((False, 1000.0), 1029.9, True),
    ((False, 1000.0), 1030.0, False),  # absent: asked again after the recheck time
])
def test_a_kept_answer_stands_while_present_or_recently_absent(kept, now, settled):
    assert is_settled(kept, now, recheck=30) is settled


@pytest.mark.parametrize("raw, artifacts", [
    (None, ()),
    ("dist/x.pdf", ()),
    (["b.pdf", "a.pdf"], (Artifact("a.pdf"), Artifact("b.pdf"))),  # the older form: paths only
    ({"a.pdf": {"max_size": 10, "granted": "2026-11-22T14:00:00+00:00"}},
     (Artifact("a.pdf", 10, "2026-11-22T14:00:00+00:00"),)),
    ({"a.pdf": {"max_size": True, "granted": 3}, "b.pdf": None}, (Artifact("a.pdf"), Artifact("b.pdf"))),
])
def test_recorded_artifacts_are_read_in_both_forms(raw, artifacts):
    assert granted_artifacts(raw) == artifacts


@pytest.fixture
def granted(s3, site, publish, app):
    """Project ``tools`` 1.0 with a presigned POST granted for dist/manual.pdf (not uploaded), and a HEAD counter."""
    publish("tools", "1.0")
    record_published(s3, BUCKET, "", add_artifact("tools", "1.0", "dist/manual.pdf", 1000), "tools")
    app.extensions["portal.index"].invalidate()
    clock = app.extensions["portal.artifacts"].clock = FakeClock()
    return clock


@pytest.fixture
def heads(app, bucket):
    """The keys of every HeadObject the app's client makes from now on."""
    calls = bucket.calls(app.extensions["s3"])
    return lambda: [key for operation, key in calls if operation == "HeadObject"]


def listed(client):
    """Return the artifact URLs the JSON API lists for tools 1.0."""
    return client.get("/_/api/projects/tools").json["versions"][0].get("artifacts", [])


def test_a_granted_artifact_is_listed_once_s3_holds_it_then_without_asking_again(client, s3, granted, heads):
    assert listed(client) == [] and heads() == [KEY]
    assert listed(client) == [] and heads() == [KEY]  # absent is trusted for DOCS_ARTIFACT_RECHECK (30 s)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF")
    granted.now += 30
    assert listed(client) == [URL] and heads() == [KEY, KEY]
    granted.now += 10**6
    assert listed(client) == [URL] and heads() == [KEY, KEY]
    assert f'href="{URL}"' in client.get("/_/projects/tools").text and heads() == [KEY, KEY]


def test_pages_that_list_no_artifacts_ask_s3_nothing_about_them(client, s3, granted, heads):
    for path in ("/docs/", "/_/", "/_/api/projects", "/docs/tools/1.0/", "/docs/tools/1.0/guide/install.html",
                 "/docs/tools/versions.json", "/docs/tools/switcher.json", "/docs/tools/", "/docs/tools/9/"):
        with client.get(path) as response:
            assert response.status_code < 500, path
    assert KEY not in heads()
    assert "manual.pdf" not in client.get("/_/projects/tools").text
    assert heads().count(KEY) == 1


def test_an_artifact_the_reader_may_not_read_is_neither_asked_about_nor_listed(client, s3, granted, heads, monkeypatch):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF")
    monkeypatch.setattr(app.access, "may_read", lambda path: not path.startswith("tools/1.0/dist/"))
    assert listed(client) == [] and "manual.pdf" not in client.get("/_/projects/tools").text
    assert heads() == []


def test_a_publish_with_delete_keeps_a_file_sent_straight_to_s3(client, s3, granted, publish):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF")
    s3.put_object(Bucket=BUCKET, Key="tools/1.0/stale.html", Body=b"old page")
    assert listed(client) == [URL]
    publish("tools", "1.0", "--delete")
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"%PDF"
    # --delete still removes what the build no longer has.
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="tools/1.0/stale.html")
    client.application.extensions["portal.index"].invalidate()
    assert listed(client) == [URL]


def test_a_publish_with_delete_to_the_versions_folder_by_prefix_keeps_them_too(app, client, s3, granted, site):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF")
    result = app.test_cli_runner().invoke(args=["docs", "publish", str(site), "--prefix", "tools/1.0/", "--delete"])
    assert result.exit_code == 0, result.output
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"%PDF"


def test_a_publish_with_delete_refuses_when_it_cannot_read_which_files_to_keep(s3, granted, publish, monkeypatch):
    import app.portal.cli

    reads, read_index = [], app.portal.cli.read_index

    def unreadable_after_the_name_check(*args):
        # The names are checked against the index first (that read succeeds); the read for --delete fails.
        reads.append(args)
        if len(reads) > 1:
            raise ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")
        return read_index(*args)

    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF")
    monkeypatch.setattr(app.portal.cli, "read_index", unreadable_after_the_name_check)
    result = publish("tools", "1.0", "--delete", check=False)
    assert result.exit_code != 0 and "--delete needs the portal index" in result.output, result.output
    assert "Traceback" not in result.output and len(reads) == 2
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"%PDF"


class FailingS3:
    """A client whose HEAD fails as ``error`` says."""

    def __init__(self, error):
        self.error, self.calls = error, 0

    def head_object(self, **params):
        self.calls += 1
        raise self.error


@pytest.mark.parametrize("error", [
    ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "HeadObject"),
    EndpointConnectionError(endpoint_url="http://s3.invalid"),
])
def test_an_s3_that_cannot_answer_settles_nothing_and_is_asked_again_after_a_pause(error):
    clock = FakeClock()
    check, s3 = ArtifactCheck(recheck=30, clock=clock), FailingS3(error)
    assert check.exists(s3, BUCKET, KEY, "t") is None and check.exists(s3, BUCKET, KEY, "t") is None
    assert s3.calls == 1  # a page viewed again during S3 trouble sends no HEAD again at once
    clock.now += FAILURE_PAUSE
    assert check.exists(s3, BUCKET, KEY, "t") is None and s3.calls == 2


def test_one_request_sends_at_most_its_budget_of_heads():
    class Counting:
        calls = 0

        def head_object(self, **params):
            Counting.calls += 1
            return {}

    check, budget = ArtifactCheck(recheck=30, clock=FakeClock()), [3]
    answers = [check.exists(Counting(), BUCKET, f"tools/1.0/f{n}.pdf", "t", budget) for n in range(5)]
    assert answers == [True, True, True, None, None] and Counting.calls == 3
    # Settled answers cost nothing: the next request checks the rest.
    answers = [check.exists(Counting(), BUCKET, f"tools/1.0/f{n}.pdf", "t", [3]) for n in range(5)]
    assert answers == [True] * 5 and Counting.calls == 5


def test_update_index_keeps_grants_of_the_older_form(s3, granted):
    def older(document):
        document["projects"]["tools"]["versions"]["1.0"]["artifacts"] = ["dist/old.pdf"]
    update_index(s3, BUCKET, "", older)
    document = update_index(s3, BUCKET, "", add_artifact("tools", "1.0", "dist/new.pdf", 5))
    grants = document["projects"]["tools"]["versions"]["1.0"]["artifacts"]
    assert grants["dist/old.pdf"] == {} and grants["dist/new.pdf"]["max_size"] == 5 and grants["dist/new.pdf"]["granted"]


def test_a_version_takes_a_bounded_number_of_direct_uploads(app, client, s3, site, publish, monkeypatch):
    from app.upload import presign

    monkeypatch.setattr(presign, "MAX_GRANTS", 2)
    publish("tools", "1.0")
    created = app.test_cli_runner().invoke(args=["docs", "token", "create", "--project", "tools", "--actions",
                                                 "publish", "--expires", "1d"])
    token = created.output.strip().splitlines()[-1]

    def ask(path):
        return client.post("/_/api/projects/tools/versions/1.0/uploads", json={"path": path, "size": 10},
                           headers={"Authorization": f"Bearer {token}"})

    assert [ask(path).status_code for path in ("a.pdf", "b.pdf", "a.pdf")] == [201, 201, 201]  # the same file again
    refused = ask("c.pdf")
    assert refused.status_code == 409 and "already has 2 files sent straight to S3" in refused.text
    grants = json.loads(s3.get_object(Bucket=BUCKET, Key=".docs-portal.json")["Body"].read())
    assert sorted(grants["projects"]["tools"]["versions"]["1.0"]["artifacts"]) == ["a.pdf", "b.pdf"]
