"""The upload API's pure rules, from tables: durations, member names, archive kinds, scopes, options."""

from datetime import timedelta

import pytest
from werkzeug.datastructures import MultiDict

from app.publishing.policy import suggest_redirects
from app.upload.policy import (
    BadDuration,
    BadMember,
    BadOption,
    archive_kind,
    matches_project,
    member_relkey,
    parse_actions,
    parse_duration,
    parse_options,
)


@pytest.mark.parametrize("text, expected", [
    ("90d", timedelta(days=90)),
    ("12h", timedelta(hours=12)),
    ("30m", timedelta(minutes=30)),
    ("60s", timedelta(seconds=60)),
    (" 1d ", timedelta(days=1)),
])
def test_durations_read_as_a_number_and_a_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "90", "d", "1w", "1.5d", "-1d", "0s", "1d2h", "99999d", None])
def test_other_durations_are_refused(text):
    with pytest.raises(BadDuration):
        parse_duration(text)


@pytest.mark.parametrize("name, expected", [
    ("index.html", "index.html"),
    ("./index.html", "index.html"),
    ("././a/b.css", "a/b.css"),
    ("a/b/", "a/b/"),
    ("./", ""),
    (".", ""),
    ("naïve/é.html", "naïve/é.html"),
    (".buildinfo", ".buildinfo"),
])
def test_member_names_become_keys_below_the_version(name, expected):
    assert member_relkey(name) == expected


@pytest.mark.parametrize("name, reason", [
    ("../evil.html", "'..'"),
    ("a/../../evil.html", "'..'"),
    ("/etc/passwd", "absolute"),
    ("C:/x.html", "absolute"),
    ("a\\b.html", "backslash"),
    ("a//b.html", "empty"),
    ("a/./b.html", "'.'"),
    ("a\x00b", "control"),
    ("a\nb", "control"),
    ("bad-\udcff.html", "UTF-8"),
    (".docs-portal.json", "docs-proxy's own"),
    ("a/.docs-publish.json", "docs-proxy's own"),
    ("x" * 900, "too long"),
])
def test_member_names_that_could_escape_or_mislead_are_refused(name, reason):
    with pytest.raises(BadMember, match=reason):
        member_relkey(name)


@pytest.mark.parametrize("media_type, kind", [
    ("application/x-tar", "tar"),
    ("application/gzip", "tar.gz"),
    ("application/x-gzip", "tar.gz"),
    ("application/zip", "zip"),
    ("Application/Zip", "zip"),
    ("text/html", None),
    ("application/octet-stream", None),
    ("", None),
    (None, None),
])
def test_archive_kinds_come_from_the_content_type(media_type, kind):
    assert archive_kind(media_type) == kind


@pytest.mark.parametrize("globs, project, allowed", [
    (("payments*",), "payments", True),
    (("payments*",), "payments-api", True),
    (("payments*",), "billing", False),
    (("payments",), "payments-api", False),
    (("*",), "anything", True),
    (("a", "b?"), "bc", True),
    (("Payments*",), "payments", False),
])
def test_token_scopes_match_project_globs(globs, project, allowed):
    assert matches_project(globs, project) is allowed


def test_actions_are_a_known_comma_separated_list():
    assert parse_actions("publish, alias,publish") == ("publish", "alias")
    for bad in ("", "publish,admin", ","):
        with pytest.raises(BadOption):
            parse_actions(bad)


def test_options_are_named_like_the_cli_and_need_their_actions():
    options = parse_options(MultiDict([("alias", "stable"), ("title", "Payments"), ("tag", "api"), ("tag", "v2")]))
    assert options.alias == ("stable",) and options.metadata == {"title": "Payments"} and options.tags == ("api", "v2")
    assert options.actions == ("alias",)
    assert parse_options(MultiDict([("hidden", "1")])).actions == ("hide",)
    assert parse_options(MultiDict([("hidden", "0")])).actions == ()
    assert parse_options(MultiDict([("hub", "1"), ("repo", "https://git.example/payments")])).hub is True
    assert parse_options(MultiDict(), preview=True).expires == timedelta(days=14)
    assert parse_options(MultiDict([("expires", "2h")]), preview=True).expires == timedelta(hours=2)


@pytest.mark.parametrize("args, preview", [
    ([("token", "x")], False),
    ([("expires", "1d")], False),
    ([("title", "a"), ("title", "b")], False),
    ([("hidden", "maybe")], False),
    ([("expires", "forever")], True),
    ([("alias", "stable")], True),
    ([("repo", "javascript:alert(1)")], False),
    ([("repo", "data:text/html,x")], False),
    ([("hub", "perhaps")], False),
])
def test_unknown_or_bad_options_are_refused(args, preview):
    with pytest.raises(BadOption):
        parse_options(MultiDict(args), preview=preview)


def test_removed_pages_get_suggested_redirects():
    lines = suggest_redirects(
        ["guide/old.html", "api/x/index.html", "faq.html", "a/b/moved.html", "style.css"],
        ["index.html", "guide/index.html", "api/index.html", "c/moved.html"],
    )
    assert lines == ["/a/b/moved.html /c/moved.html 301", "/api/x/ /api/ 301", "/faq.html / 301", "/guide/old.html /guide/ 301"]


def test_token_records_fail_closed_and_compare_secrets_exactly():
    from datetime import datetime, timezone

    from app.upload.tokens import TokenRecord, decode_record, digest, encode_record, parse_token, secret_matches

    record = TokenRecord("0123456789abcdef", digest("s" * 43), ("pay*",), ("publish",),
                         "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00")
    assert decode_record(encode_record(record)) == record
    for broken in (b"", b"{}", b"[]", b'{"format": 2}', encode_record(record).replace(b"2026-02-01", b"someday")):
        assert decode_record(broken) is None
    assert secret_matches(record, "s" * 43) and not secret_matches(record, "s" * 42 + "t")
    assert record.is_expired(datetime(2026, 2, 1, tzinfo=timezone.utc))
    assert not record.is_expired(datetime(2026, 1, 31, 23, 59, tzinfo=timezone.utc))
    assert record.allows("payments", "publish") and not record.allows("payments", "delete") and not record.allows("ledger", "publish")
    assert parse_token("dpt_0123456789abcdef_" + "A" * 43) == ("0123456789abcdef", "A" * 43)
    for bad in ("", "dpt_0123_" + "A" * 43, "dpt_0123456789abcdef_" + "A" * 42, "xyz_0123456789abcdef_" + "A" * 43, None):
        assert parse_token(bad) is None
