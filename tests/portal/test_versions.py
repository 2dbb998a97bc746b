"""Pure tables for version ordering, names and aliases (no Flask, no S3)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.portal.versions import (
    DEVELOPMENT,
    LINE,
    PRERELEASE,
    RELEASE,
    BadName,
    check_alias_name,
    check_project_name,
    check_version_name,
    order_versions,
    parse_version,
    resolve_aliases,
    resolve_name,
)

VECTOR = ["0.9", "1.9.0", "1.10.0", "2.0.0rc1", "2.0.0", "2.1.0-beta.1", "1.2.3-SNAPSHOT", "1.x", "main"]


@pytest.mark.parametrize("name, alias", [
    ("stable", "2.0.0"),
    ("latest", "2.1.0-beta.1"),
    ("1", "1.10.0"),
    ("1.9", "1.9.0"),
    ("0", "0.9"),
    ("2", "2.0.0"),
    ("2.1", "2.1.0-beta.1"),  # a line with only a prerelease resolves to it
    ("3", None),
    ("1.x", "1.x"),  # an existing version is itself
    ("nightly", None),
])
def test_the_issue_vector_resolves_every_alias(name, alias):
    assert resolve_name(name, resolve_aliases(VECTOR)) == alias


def test_hiding_the_stable_version_makes_the_previous_release_stable():
    listed = [name for name in VECTOR if name != "2.0.0"]
    assert resolve_aliases(listed).aliases["stable"] == "1.10.0"


def test_the_vector_orders_development_first_then_versions_newest_first():
    assert order_versions(VECTOR) == [
        "main", "2.1.0-beta.1", "2.0.0", "2.0.0rc1", "1.x", "1.10.0", "1.9.0", "1.2.3-SNAPSHOT", "0.9",
    ]


@pytest.mark.parametrize("older, newer", [
    ("1.2.3-SNAPSHOT", "1.2.3a1"),     # a snapshot is the earliest prerelease of its release
    ("1.2.3-SNAPSHOT", "1.2.3"),
    ("1.2.2", "1.2.3-SNAPSHOT"),
    ("2.0.0b3", "2.0.0-M1"),           # Maven: beta < milestone < rc
    ("2.0.0-M1", "2.0.0-M2"),
    ("2.0.0-M2", "2.0.0rc1"),
    ("2.0.0-M9", "2.0.0-M10"),
    ("1.99", "1.x"),
    ("1.x", "2.0.0.dev1"),
    ("1.2.x", "1.3.0a1"),
    ("1.0", "1.0.post1"),
    ("9.0", "1!0.1"),                  # epochs win
    ("v1.2", "1.10"),
])
def test_versions_order_by_pep_440_with_fallbacks(older, newer):
    assert order_versions([older, newer]) == [newer, older]


@pytest.mark.parametrize("name, kind", [
    ("1.0", RELEASE), ("1.0.post2", RELEASE), ("2.0.0rc1", PRERELEASE), ("1.0.dev3", PRERELEASE),
    ("2.1.0-beta.1", PRERELEASE), ("1.2.3-SNAPSHOT", PRERELEASE), ("2.0.0-M1", PRERELEASE),
    ("1.x", LINE), ("2.3.X", LINE), ("main", DEVELOPMENT), ("develop", DEVELOPMENT), ("feature-x", DEVELOPMENT),
])
def test_each_name_has_a_kind(name, kind):
    assert parse_version(name).kind == kind


@pytest.mark.parametrize("versions, default", [
    (["1.0", "2.0rc1", "main"], "1.0"),         # stable
    (["2.0rc1", "main"], "2.0rc1"),             # else latest
    (["main", "develop"], "develop"),           # else the newest development version (alphabetical first)
    ([], None),
])
def test_the_default_version_is_stable_else_latest_else_development(versions, default):
    assert resolve_aliases(versions).default == default


def test_pins_override_computed_aliases_and_pin_the_default():
    resolution = resolve_aliases(["1.0", "2.0"], {"stable": "1.0", "lts": "1.0", "default": "2.0"})
    assert resolution.aliases == {"latest": "2.0", "stable": "1.0", "lts": "1.0", "default": "2.0"}
    assert resolution.default == "2.0"
    assert resolution.aliases_of("1.0") == ["lts", "stable"]


def test_a_pin_to_a_version_not_listed_is_ignored():
    assert resolve_aliases(["1.0"], {"lts": "0.9", "stable": "main"}).aliases == {"latest": "1.0", "stable": "1.0"}


def test_development_versions_are_never_alias_targets():
    resolution = resolve_aliases(["main", "1.x"], {"edge": "main"})
    assert resolution.aliases == {}
    assert resolve_name("1", resolution) is None


@pytest.mark.parametrize("name, existing, pins, reason", [
    ("latest", [], {}, "reserved"),
    ("Stable", [], {}, "reserved"),
    ("versions.json", [], {}, "reserved"),
    ("lts", [], {"lts": "1.0"}, "pinned alias"),
    ("_build", [], {}, "must be"),
    (".git", [], {}, "must be"),
    ("a/b", [], {}, "must be"),
    ("", [], {}, "must be"),
    ("x" * 101, [], {}, "must be"),
    ("v1.2", ["1.2"], {}, "ambiguous"),
    ("1.2.0", ["1.2"], {}, "ambiguous"),
    ("1.2.3-snapshot", ["1.2.3-SNAPSHOT"], {}, "ambiguous"),
    ("MAIN", ["main"], {}, "ambiguous"),
])
def test_publish_refuses_reserved_and_ambiguous_versions(name, existing, pins, reason):
    with pytest.raises(BadName, match=reason):
        check_version_name(name, existing, pins)


@pytest.mark.parametrize("name", ["1.0", "2.0.0-rc.1", "main", "1.x", "v3", "2024.11.22+build.5"])
def test_publish_accepts_ordinary_versions_and_republishing_the_same_one(name):
    check_version_name(name, [name, "0.1"], {"lts": "0.1"})


@pytest.mark.parametrize("name", ["", "_", ".hidden", "a/b", "two words", "x" * 101])
def test_bad_project_names_are_refused(name):
    with pytest.raises(BadName):
        check_project_name(name)


@pytest.mark.parametrize("name, reason", [("2", "looks like a version"), ("1.0", "already a version"),
                                          ("switcher.json", "reserved"), ("_x", "must be")])
def test_bad_alias_names_are_refused(name, reason):
    with pytest.raises(BadName, match=reason):
        check_alias_name(name, ["1.0"])


NAMES = st.sampled_from(VECTOR + ["0.1", "3.0.0a1", "3.0.0", "2.0.0-M1", "develop", "1.2.x", "10.0", "1.0.post1"])


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(NAMES, min_size=0, max_size=10, unique=True),
    hidden=st.sets(NAMES),
    pins=st.dictionaries(st.sampled_from(["lts", "stable", "default", "latest"]), NAMES, max_size=3),
    asked=st.sampled_from(["latest", "stable", "lts", "default", "0", "1", "1.9", "2", "3", "10"]),
)
def test_an_alias_always_names_a_listed_visible_alias_target(names, hidden, pins, asked):
    listed = [name for name in names if name not in hidden]
    resolution = resolve_aliases(listed, pins)
    for target in resolution.aliases.values():
        assert target in listed and parse_version(target).is_alias_target
    target = resolve_name(asked, resolution)
    assert target is None or target in listed
    assert resolution.default is None or resolution.default in listed
    assert (resolution.default is None) == (not listed)
