"""The host policy, from tables: patterns, strict host matching, each project's host, and rules that need separate origins."""

import pytest

from app import config_problem
from app.access.rules import parse_rules
from app.hosts.policy import (
    HostError,
    main_host,
    origin_warnings,
    parse_pattern,
    project_host,
    project_of,
    projects_split_inside,
    projects_treated_differently,
    split_host,
)

DOCS = parse_pattern("{project}.docs.example.internal")
LOCAL = parse_pattern("{project}.localhost")
PREFIXED = parse_pattern("docs-{project}.example.com:8443", "docs.example.com")


@pytest.mark.parametrize("value, expected", [
    ("docs.example.internal", ("docs.example.internal", None)),
    ("Docs.Example.Internal:8443", ("docs.example.internal", "8443")),
    ("127.0.0.1:5000", ("127.0.0.1", "5000")),
    ("[::1]:5000", ("[::1]", "5000")),
    ("[::1]", ("[::1]", None)),
    ("", None),
    ("docs.example.internal.", None),  # a trailing dot is another origin to the browser
    ("docs.example.internal:", None),
    ("docs.example.internal:0", None),
    ("docs.example.internal:65536", None),
    ("docs.example.internal:80:80", None),
    ("alice@docs.example.internal", None),
    ("docs.example.internal x", None),
    ("pay_ments.docs.example.internal", None),
    ("pay\u212aents.docs.example.internal", None),  # the Kelvin sign lowercases to 'k': refused, not folded
    ("[::1]x", None),
    ("-a.example", None),
])
def test_host_headers_are_split_strictly(value, expected):
    assert split_host(value) == expected


@pytest.mark.parametrize("pattern, host, project", [
    (DOCS, "payments.docs.example.internal", "payments"),
    (DOCS, "PAYMENTS.Docs.Example.Internal:443", "payments"),
    (DOCS, "payments.docs.example.internal:9999", "payments"),
    (DOCS, "docs.example.internal", None),
    (DOCS, "evil.payments.docs.example.internal", None),
    (DOCS, "payments.docs.example.internal.evil.example", None),
    (DOCS, "payments.docs.example.internal.", None),
    (DOCS, "paymentsdocs.example.internal", None),
    (DOCS, "payments-docs.example.internal", None),
    (DOCS, ".docs.example.internal", None),
    (DOCS, "-payments.docs.example.internal", None),
    (DOCS, "payments-.docs.example.internal", None),
    (DOCS, "pay_ments.docs.example.internal", None),
    (DOCS, "a" * 64 + ".docs.example.internal", None),
    (DOCS, "a" * 63 + ".docs.example.internal", "a" * 63),
    (DOCS, "xn--pyments-3ng.docs.example.internal", None),  # punycode: shown as a look-alike of payments
    (DOCS, "XN--pyments-3ng.docs.example.internal", None),
    (DOCS, "ab--c.docs.example.internal", None),  # every --, reserved for future encodings like xn--
    (DOCS, "a--b.docs.example.internal", "a--b"),
    (DOCS, "127.0.0.1:8000", None),
    (DOCS, "", None),
    (LOCAL, "wiki.localhost:41234", "wiki"),
    (LOCAL, "localhost:41234", None),
    (LOCAL, "wiki.localhost.", None),
    (PREFIXED, "docs-payments.example.com", "payments"),
    (PREFIXED, "docs-payments.example.com:1", "payments"),
    (PREFIXED, "payments.example.com", None),
    (PREFIXED, "docs-.example.com", None),
    (PREFIXED, "docs.example.com", None),
])
def test_only_an_exact_project_host_names_a_project(pattern, host, project):
    assert project_of(pattern, host) == project


@pytest.mark.parametrize("pattern, project, port, expected", [
    (DOCS, "payments", None, "payments.docs.example.internal"),
    (DOCS, "payments", "8443", "payments.docs.example.internal:8443"),
    (LOCAL, "wiki", "41234", "wiki.localhost:41234"),
    (PREFIXED, "payments", "9999", "docs-payments.example.com:8443"),  # the pattern's port wins
    (DOCS, "Payments", None, None),  # hosts are case-insensitive: only a lowercase name can own one
    (DOCS, "my_lib", None, None),
    (DOCS, "xn--pyments-3ng", None, None),  # an IDN label (RFC 5891): not a project's host
    (PREFIXED, "xn--pyments-3ng", None, None),
    (DOCS, "foo.bar", None, None),
    (DOCS, "", None, None),
    (DOCS, "a" * 64, None, None),
    (PREFIXED, "a" * 59, None, None),  # docs- + 59 letters is a 64-character label
])
def test_each_project_host_is_built_from_the_pattern(pattern, project, port, expected):
    assert project_host(pattern, project, port) == expected


@pytest.mark.parametrize("pattern, port, expected", [
    (DOCS, None, "docs.example.internal"),
    (LOCAL, "41234", "localhost:41234"),
    (PREFIXED, "9999", "docs.example.com:9999"),  # a main host named without a port keeps the request's
    (parse_pattern("{project}.docs.example:8443"), "9999", "docs.example:8443"),  # derived: the pattern's port
])
def test_the_main_host_is_the_pattern_without_its_project_or_the_one_named(pattern, port, expected):
    assert main_host(pattern, port) == expected


@pytest.mark.parametrize("raw, main, words", [
    ("docs.example.internal", None, "exactly once"),
    ("{project}.{project}.example", None, "exactly once"),
    ("{project}", None, "first label"),
    ("docs.{project}.example", None, "first label"),
    ("{project}.docs_example.internal", None, "first label"),
    ("https://{project}.docs.example", None, "bad port"),
    ("{project}.docs.example:99999", None, "bad port"),
    ("docs-{project}.example.com", None, "DOCS_MAIN_HOST"),
    ("{project}.example.com", "docs.example.com", "matches"),
    ("{project}.example.com", "not a host", "not a host name"),
    ("{project}.example.com", "example.com:x", "bad port"),
])
def test_unusable_patterns_are_refused_saying_why(raw, main, words):
    with pytest.raises(HostError, match=words):
        parse_pattern(raw, main)


@pytest.mark.parametrize("environ, words", [
    ({"DOCS_PROJECT_HOSTS": "docs.example.internal"}, "DOCS_PROJECT_HOSTS='docs.example.internal'"),
    ({"DOCS_PROJECT_HOSTS": "{project}.example.com", "DOCS_MAIN_HOST": "api.example.com"}, "DOCS_MAIN_HOST='api.example.com'"),
    ({"DOCS_MAIN_HOST": "docs.example.com"}, "DOCS_PROJECT_HOSTS is not"),
])
def test_the_settings_are_checked_together_naming_the_variable(environ, words):
    assert words in config_problem({"S3_BUCKET": "b", **environ})


def rules(text):
    import tomllib

    return parse_rules(tomllib.loads(text))


SAME_FOR_ALL = rules('default = "authenticated"\n[[rule]]\npath = "wiki/"\nauthenticated = true\n')
TEAMS = rules(
    'default = "authenticated"\n'
    '[[rule]]\npath = "payments/"\ngroups = ["payments"]\n'
    '[[rule]]\npath = "handbook/"\npublic = true\n'
    '[[rule]]\npath = "wiki/"\nauthenticated = true\n'
)
INSIDE = rules(
    'default = "public"\n'
    '[[rule]]\npath = "payments/"\ngroups = ["payments"]\n'
    '[[rule]]\npath = "payments/runbooks/"\ngroups = ["sre"]\n'
    '[[rule]]\npath = "handbook/internal/"\nauthenticated = true\n'
    '[[rule]]\npath = "wiki/old/"\npublic = true\n'
)
ROOT_RULE = rules('default = "deny"\n[[rule]]\npath = ""\nauthenticated = true\n[[rule]]\npath = "wiki/"\nauthenticated = true\n')


@pytest.mark.parametrize("rule_set, different, split", [
    (SAME_FOR_ALL, [], []),
    (ROOT_RULE, [], []),
    (TEAMS, ["handbook", "payments"], []),
    (INSIDE, ["handbook", "payments"], ["handbook", "payments"]),
])
def test_rules_that_treat_projects_or_their_folders_differently_are_found(rule_set, different, split):
    assert projects_treated_differently(rule_set) == different
    assert projects_split_inside(rule_set) == split


def test_start_up_warns_about_a_shared_origin_only_when_the_rules_differ_by_project():
    assert origin_warnings(SAME_FOR_ALL, project_hosts=False) == []
    [shared] = origin_warnings(TEAMS, project_hosts=False)
    assert "handbook, payments" in shared and "one origin" in shared and "DOCS_PROJECT_HOSTS" in shared
    assert origin_warnings(TEAMS, project_hosts=True) == []
    [inside] = origin_warnings(INSIDE, project_hosts=True)
    assert "folders inside project(s) handbook, payments" in inside and "even with DOCS_PROJECT_HOSTS" in inside
    named = rules('[[rule]]\npath = "My_Lib/"\npublic = true\n[[rule]]\npath = "Payments/"\npublic = true\n')
    [homeless] = origin_warnings(named, project_hosts=True)
    assert "project(s) My_Lib, Payments whose names cannot be host labels" in homeless
    assert not [warning for warning in origin_warnings(named, project_hosts=False) if "host labels" in warning]


def test_start_up_prints_the_warning_in_the_configured_log_format(tmp_path, capsys, monkeypatch):
    from app.hosts import warn_at_startup

    rules_path = tmp_path / "rules.toml"
    rules_path.write_text('default = "authenticated"\n[[rule]]\npath = "payments/"\nusers = ["alice"]\n')
    monkeypatch.delenv("DOCS_LOG_FORMAT", raising=False)
    warn_at_startup({"DOCS_ACCESS_RULES": str(rules_path)})
    assert capsys.readouterr().err.startswith("docs-proxy: warning: the access rules give projects different readers (payments)")
    warn_at_startup({"DOCS_ACCESS_RULES": str(rules_path), "DOCS_PROJECT_HOSTS": "{project}.docs.test"})
    warn_at_startup({})
    assert capsys.readouterr().err == ""
