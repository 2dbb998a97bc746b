"""The cache's pure policy, from tables: storing, freshness, stale answers, preconditions."""

import pytest

from app.cache import policy

LIMIT = 1024


@pytest.mark.parametrize(
    "status, headers, storable",
    [
        (200, {"content-length": "10"}, True),
        (200, {"content-length": "1024"}, True),
        (200, {"content-length": "1025"}, False),
        (200, {}, False),
        (200, {"content-length": "ten"}, False),
        (206, {"content-length": "10", "content-range": "bytes 0-9/20"}, False),
        (200, {"content-length": "10", "content-range": "bytes 0-9/10"}, False),
        (200, {"content-length": "10", "cache-control": "no-store"}, False),
        (200, {"content-length": "10", "cache-control": "private, max-age=60"}, False),
        (200, {"content-length": "10", "cache-control": "public, No-Store"}, False),
        (200, {"content-length": "10", "cache-control": "no-cache"}, True),
        (200, {"content-length": "10", "cache-control": "public, max-age=31536000, immutable"}, True),
        (200, {"content-length": "0", "x-amz-website-redirect-location": "/docs/new/"}, False),
        (304, {"content-length": "0"}, False),
    ],
)
def test_only_whole_small_shareable_objects_are_stored(status, headers, storable):
    assert policy.is_storable(status, headers, LIMIT) is storable


@pytest.mark.parametrize(
    "cache_control, lifetime",
    [
        (None, 5.0),
        ("no-cache", 5.0),
        ("max-age=600", 5.0),
        ("public, max-age=31536000, immutable", 86400.0),
        ("Immutable", 86400.0),
        ("no-cache, x-immutable-ish", 5.0),
    ],
)
def test_immutable_objects_stay_fresh_long_and_others_for_the_ttl(cache_control, lifetime):
    assert policy.freshness_lifetime(cache_control, 5.0, 86400.0) == lifetime


@pytest.mark.parametrize("age, fresh", [(0.0, True), (4.99, True), (5.0, False), (60.0, False)])
def test_entries_are_fresh_until_their_lifetime(age, fresh):
    assert policy.is_fresh(age, 5.0) is fresh


@pytest.mark.parametrize("age, usable", [(0.0, True), (86400.0, True), (86400.5, False)])
def test_stale_entries_stand_in_up_to_the_max_stale_age(age, usable):
    assert policy.may_serve_stale(age, 86400.0) is usable


def test_cache_control_directives_parse_case_and_values():
    assert policy.cache_directives('Public, MAX-AGE=60, community="UCI"') == {
        "public": None, "max-age": "60", "community": "UCI"}


MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize(
    "headers, failed",
    [
        ({}, None),
        ({"If-Match": '"abc"'}, None),
        ({"If-Match": '"x", "abc"'}, None),
        ({"If-Match": "*"}, None),
        ({"If-Match": '"other"'}, "If-Match"),
        ({"If-Match": 'W/"abc"'}, "If-Match"),
        ({"If-Unmodified-Since": "Thu, 22 Oct 2015 00:00:00 GMT"}, None),
        ({"If-Unmodified-Since": MODIFIED}, None),
        ({"If-Unmodified-Since": "Tue, 20 Oct 2015 00:00:00 GMT"}, "If-Unmodified-Since"),
        ({"If-Unmodified-Since": "not a date"}, None),
        # If-Match decides alone when present (RFC 9110 13.2.2).
        ({"If-Match": '"abc"', "If-Unmodified-Since": "Tue, 20 Oct 2015 00:00:00 GMT"}, None),
    ],
)
def test_preconditions_follow_rfc_9110(headers, failed):
    assert policy.failed_precondition(headers, '"abc"', MODIFIED) == failed
