"""``flask docs publish --project/--version`` and the portal's commands, against moto's bucket."""

import json

import pytest

from app.portal.index import INDEX_NAME

from tests.conftest import BUCKET


def index(s3):
    """Return the portal index in the bucket."""
    return json.loads(s3.get_object(Bucket=BUCKET, Key=INDEX_NAME)["Body"].read())


def keys(s3, prefix=""):
    """Return every key under ``prefix``."""
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", ()))


def test_publish_with_project_and_version_uploads_to_its_folder_and_lists_it_with_metadata(s3, site, publish):
    result = publish("payments", "2.0.0", "--title", "Payments", "--description", "Cards", "--owner", "Team",
                     "--contact", "pay@example.com", "--repo", "https://git.example/pay", "--tag", "api",
                     "--tag", "core", "--commit", "abc123")
    assert "Portal: payments 2.0.0 listed (1 version; aliases: " in result.output
    assert "payments/2.0.0/guide/install.html" in keys(s3, "payments/")
    entry = index(s3)["projects"]["payments"]
    assert {key: entry[key] for key in ("title", "description", "owner", "contact", "repo", "tags")} == {
        "title": "Payments", "description": "Cards", "owner": "Team", "contact": "pay@example.com",
        "repo": "https://git.example/pay", "tags": ["api", "core"]}
    version = entry["versions"]["2.0.0"]
    assert version["commit"] == "abc123" and version["files"] == 3 and version["hidden"] is False
    assert version["size"] == sum(path.stat().st_size for path in site.rglob("*.html"))
    assert "error_document" not in version  # the site has no 404.html


def test_publish_records_a_404_html_at_the_root_as_the_versions_error_document(s3, site, publish):
    (site / "404.html").write_text("<h1>Lost</h1>")
    publish("payments", "2.0.0")
    assert index(s3)["projects"]["payments"]["versions"]["2.0.0"]["error_document"] == "404.html"


def test_republishing_keeps_metadata_not_given_again(s3, publish):
    publish("payments", "1.0", "--title", "Payments", "--owner", "Team")
    publish("payments", "1.0", "--description", "Now described")
    entry = index(s3)["projects"]["payments"]
    assert (entry["title"], entry["owner"], entry["description"]) == ("Payments", "Team", "Now described")


def test_publish_hidden_lists_the_version_hidden(s3, publish):
    publish("payments", "3.0", "--hidden")
    assert index(s3)["projects"]["payments"]["versions"]["3.0"]["hidden"] is True


@pytest.mark.parametrize("args, message", [
    (["--project", "payments", "--version", "latest"], "reserved"),
    (["--project", "payments", "--version", "stable"], "reserved"),
    (["--project", "payments", "--version", "lts"], "pinned alias"),
    (["--project", "payments", "--version", "v1.0"], "ambiguous"),
    (["--project", "payments", "--version", "1.0.0"], "ambiguous"),
    (["--project", "payments", "--version", "_build"], "must be"),
    (["--project", "payments", "--version", ".git"], "must be"),
    (["--project", "payments", "--version", "a/b"], "must be"),
    (["--project", "_x", "--version", "1.0"], "project name"),
    (["--project", "payments"], "go together"),
    (["--version", "1.0"], "go together"),
    (["--title", "T"], "go together"),
    (["--prefix", "x/", "--project", "payments", "--version", "2.0"], "not both"),
])
def test_publish_refuses_bad_versions_before_uploading_anything(s3, site, publish, docs_cli, args, message):
    publish("payments", "1.0")
    assert docs_cli("alias", "payments", "lts", "1.0").exit_code == 0
    before = keys(s3)
    result = docs_cli("publish", str(site), *args)
    assert result.exit_code == 2
    assert message in result.output
    assert keys(s3) == before


def test_versions_lists_newest_first_with_aliases_and_flags(publish, docs_cli):
    for version in ["1.9.0", "1.10.0", "2.0.0rc1", "main"]:
        publish("payments", version, "--commit", "feedface0123456789")
    assert docs_cli("hide", "payments", "1.9.0").exit_code == 0
    result = docs_cli("versions", "payments")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == ["main", "2.0.0rc1", "1.10.0", "1.9.0"]
    assert "latest" in lines[1] and "stable" in lines[2] and "default" in lines[2] and "hidden" in lines[3]
    assert "feedface0123" in lines[0]


def test_versions_of_an_unknown_project_names_the_known_ones(publish, docs_cli):
    publish("payments", "1.0")
    result = docs_cli("versions", "nope")
    assert result.exit_code == 1
    assert "no project 'nope'" in result.output and "payments" in result.output


@pytest.mark.parametrize("args, message", [
    (["payments", "lts", "9.9"], "has no version '9.9'"),
    (["payments", "lts", "main"], "development version"),
    (["payments", "2", "1.0"], "looks like a version"),
    (["payments", "1.0", "1.0"], "already a version"),
    (["nope", "lts", "1.0"], "no project 'nope'"),
    (["payments", "lts", "--unset"], "no pinned alias"),
    (["payments", "lts"], "give VERSION"),
    (["payments", "lts", "1.0", "--unset"], "give VERSION"),
])
def test_alias_refusals_say_why_and_change_nothing(s3, publish, docs_cli, args, message):
    publish("payments", "1.0")
    publish("payments", "main")
    before = index(s3)
    result = docs_cli("alias", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert index(s3) == before


def test_alias_pins_and_unset_returns_to_the_computed_one(s3, publish, docs_cli):
    publish("payments", "1.0")
    publish("payments", "2.0")
    assert docs_cli("alias", "payments", "stable", "1.0").exit_code == 0
    assert index(s3)["projects"]["payments"]["aliases"] == {"stable": "1.0"}
    assert docs_cli("alias", "payments", "stable", "--unset").exit_code == 0
    assert index(s3)["projects"]["payments"]["aliases"] == {}


def test_a_hidden_version_cannot_be_pinned(publish, docs_cli):
    publish("payments", "1.0")
    docs_cli("hide", "payments", "1.0")
    result = docs_cli("alias", "payments", "lts", "1.0")
    assert result.exit_code == 1 and "hidden" in result.output


def test_hide_and_show_an_unknown_version_fail_clearly(publish, docs_cli):
    publish("payments", "1.0")
    for command in ("hide", "show"):
        result = docs_cli(command, "payments", "9.9")
        assert result.exit_code == 1
        assert "has no version '9.9' (versions: 1.0)" in result.output


def test_delete_removes_the_version_from_the_portal_then_its_objects(s3, publish, docs_cli):
    publish("payments", "1.0")
    publish("payments", "2.0")
    docs_cli("alias", "payments", "lts", "1.0")
    result = docs_cli("delete", "payments", "1.0", "--yes")
    assert result.exit_code == 0, result.output
    assert "Unpinned lts" in result.output
    assert keys(s3, "payments/1.0/") == []
    assert keys(s3, "payments/2.0/")
    entry = index(s3)["projects"]["payments"]
    assert list(entry["versions"]) == ["2.0"] and entry["aliases"] == {}


def test_delete_asks_first_and_stops_on_no(s3, publish, docs_cli, app):
    publish("payments", "1.0")
    result = app.test_cli_runner().invoke(args=["docs", "delete", "payments", "1.0"], input="n\n")
    assert result.exit_code == 1
    assert keys(s3, "payments/1.0/")


def test_deleting_the_last_version_removes_the_project(s3, publish, docs_cli):
    publish("payments", "1.0")
    assert docs_cli("delete", "payments", "1.0", "--yes").exit_code == 0
    assert index(s3)["projects"] == {}
    assert keys(s3, "payments/") == []  # nothing left behind, not even the project's saved entry


@pytest.mark.parametrize("args", [["_x", "1.0"], ["payments", ".."], ["payments", "a/b"]])
def test_delete_refuses_names_that_are_no_version(s3, publish, docs_cli, args):
    publish("payments", "1.0")
    result = docs_cli("delete", *args, "--yes")
    assert result.exit_code == 2
    assert keys(s3, "payments/1.0/")


def test_reindex_adds_sites_copied_by_hand_and_drops_deleted_ones(s3, publish, docs_cli):
    publish("payments", "1.0", "--title", "Payments")
    publish("payments", "2.0")
    for key in [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="payments/2.0/")["Contents"]]:
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.put_object(Bucket=BUCKET, Key="handmade/0.1/index.html", Body=b"<p>x</p>")
    result = docs_cli("reindex")
    assert result.exit_code == 0, result.output
    assert "added   handmade 0.1" in result.output and "dropped payments 2.0" in result.output
    projects = index(s3)["projects"]
    assert sorted(projects) == ["handmade", "payments"]
    assert list(projects["payments"]["versions"]) == ["1.0"] and projects["payments"]["title"] == "Payments"


def test_commands_on_an_unreachable_bucket_fail_with_a_reason(app, docs_cli):
    app.config["S3_BUCKET"] = "no-such-bucket-here"
    result = docs_cli("versions", "payments")
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_a_publish_whose_index_update_fails_says_the_files_are_there_and_how_to_finish(s3, publish, monkeypatch):
    from app.portal.index import IndexConflict

    def conflict(*args, **kwargs):
        raise IndexConflict("the portal index changed 40 times while updating it; try again")

    monkeypatch.setattr("app.portal.cli.update_index", conflict)
    result = publish("payments", "1.0", check=False)
    assert result.exit_code == 1
    assert "were published but it is not listed in the portal" in result.output and "reindex" in result.output
    assert "payments/1.0/index.html" in keys(s3, "payments/")


def test_reindex_after_losing_the_index_keeps_titles_pins_and_hidden_flags(s3, publish, docs_cli):
    publish("payments", "1.0", "--title", "Payments", "--commit", "c0ffee")
    publish("payments", "2.0")
    assert docs_cli("alias", "payments", "lts", "1.0").exit_code == 0
    assert docs_cli("hide", "payments", "2.0").exit_code == 0
    s3.delete_object(Bucket=BUCKET, Key=INDEX_NAME)
    assert docs_cli("reindex").exit_code == 0
    entry = index(s3)["projects"]["payments"]
    assert entry["title"] == "Payments" and entry["aliases"] == {"lts": "1.0"}
    assert entry["versions"]["2.0"]["hidden"] is True and entry["versions"]["1.0"]["commit"] == "c0ffee"
