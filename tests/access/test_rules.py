"""The rule matcher, from tables: which rule governs a path, and what it decides for whom."""

import tomllib

import pytest

from app.access.rules import Identity, RulesError, decide, load_rules, matching_rule, parse_rules

from tests.access.conftest import RULES

EXAMPLE = parse_rules(tomllib.loads(RULES))
ALICE = Identity("alice", "alice@corp.example", frozenset())  # sre through [groups], by email
BOB = Identity("bob", "", frozenset())  # sre through [groups], by name
CAROL = Identity("carol", "carol@corp.example", frozenset({"team-payments"}))
CISO = Identity("ciso", "CISO@corp.example", frozenset())
DAVE = Identity("dave", "dave@corp.example", frozenset({"marketing"}))


@pytest.mark.parametrize(
    "path, rule_path",
    [
        ("payments/", "payments/"),
        ("payments", "payments/"),  # the directory redirect is covered by the folder's rule
        ("payments/1.0/index.html", "payments/"),
        ("payments/runbooks/", "payments/runbooks/"),
        ("payments/runbooks", "payments/runbooks/"),
        ("payments/runbooks/db.html", "payments/runbooks/"),
        ("payments-old/", None),
        ("paymentsx", None),
        ("Payments/", "payments/"),  # a restricting rule covers other spellings in case
        ("PAYMENTS/RUNBOOKS/x", "payments/runbooks/"),
        ("handbook/", "handbook/"),
        ("Handbook/", None),  # a public rule opens only its exact spelling
        ("caf\u00e9/", "caf\u00e9/"),
        ("cafe\u0301/", "caf\u00e9/"),  # NFD spelling of the NFC rule
        ("", None),
        ("index.html", None),
    ],
)
def test_the_most_specific_rule_governs_a_path(path, rule_path):
    rule = matching_rule(EXAMPLE, path)
    assert (rule.path if rule else None) == rule_path


@pytest.mark.parametrize(
    "path, identity, decision",
    [
        ("handbook/", None, "public"),
        ("handbook/a.html", DAVE, "public"),
        ("index.html", None, "unauthenticated"),
        ("index.html", DAVE, "allowed"),
        ("payments/", None, "unauthenticated"),
        ("payments/", DAVE, "denied"),
        ("payments/", CAROL, "allowed"),  # asserted group
        ("payments/", ALICE, "allowed"),  # local group by email
        ("payments/", BOB, "allowed"),  # local group by name
        ("payments/", CISO, "allowed"),  # email, compared case-insensitively
        ("payments/runbooks/", CAROL, "denied"),  # the specific rule replaces its parent
        ("payments/runbooks/", BOB, "allowed"),
        ("payments/runbooks/", CISO, "denied"),
        ("Payments/runbooks/x", CAROL, "denied"),
        ("payments-old/", DAVE, "allowed"),  # not covered by payments/: the default
        ("cafe\u0301/", DAVE, "denied"),
        ("cafe\u0301/", BOB, "allowed"),
    ],
)
def test_the_example_rules_decide(path, identity, decision):
    assert decide(EXAMPLE, path, identity) == decision


def rules(text):
    return parse_rules(tomllib.loads(text))


@pytest.mark.parametrize(
    "text, path, identity, decision",
    [
        ('default = "deny"', "x", None, "unauthenticated"),
        ('default = "deny"', "x", DAVE, "denied"),
        ('default = "public"', "x", None, "public"),
        ('default = "deny"\n[[rule]]\npath = ""\nauthenticated = true', "x", DAVE, "allowed"),
        ('default = "public"\n[[rule]]\npath = "a/"\ndeny = true', "a/b", CAROL, "denied"),
        ('[[rule]]\npath = "a/"\nemail_domains = ["corp.example"]', "a/", DAVE, "allowed"),
        ('[[rule]]\npath = "a/"\nemail_domains = ["corp.example"]', "a/", Identity("eve", "eve@corp.example.evil"), "denied"),
        ('[[rule]]\npath = "a/"\nemail_domains = ["corp.example"]', "a/", Identity("eve@corp.example"), "allowed"),
        ('[[rule]]\npath = "a/"\nusers = ["Bob"]', "a/", BOB, "allowed"),
        ('[[rule]]\npath = "a/"\nusers = ["bob"]', "a/", Identity("bobby"), "denied"),
        ('[[rule]]\npath = "a/"\ngroups = ["g"]', "a/", Identity("x", groups=frozenset({"G"})), "denied"),  # group names are exact
        ('[[rule]]\npath = "a/"\nusers = ["boss"]', "a/", Identity("bo\u017fs"), "denied"),  # long s is not s
        ('[[rule]]\npath = "a/"\nusers = ["kit"]', "a/", Identity("\u212ait"), "denied"),  # Kelvin sign is not k
        ('[[rule]]\npath = "a/"\nemails = ["kit@x.example"]', "a/", Identity("k", "\u212aIT@x.example"), "denied"),
        ('[[rule]]\npath = "a/"\nemail_domains = ["kit.example"]', "a/", Identity("a@\u212ait.example"), "denied"),
        ('[groups]\ng = ["boss"]\n[[rule]]\npath = "a/"\ngroups = ["g"]', "a/", Identity("bo\u017fs"), "denied"),
        ('[[rule]]\npath = "a/"\nusers = ["jos\u00e9"]', "a/", Identity("JOS\u00e9"), "allowed"),  # ASCII case only
        ('[[rule]]\npath = "a/"\nusers = ["jos\u00e9"]', "a/", Identity("jos\u00c9"), "denied"),
        ('[[rule]]\npath = "a/"\nusers = ["jose\u0301"]', "a/", Identity("jos\u00e9"), "allowed"),  # the file in NFD
        # A token's user claim (user_as_email=False) is never its email: not for emails, domains or local groups.
        ('[[rule]]\npath = "a/"\nemails = ["boss@corp.example"]', "a/", Identity("boss@corp.example", user_as_email=False), "denied"),
        ('[[rule]]\npath = "a/"\nemail_domains = ["corp.example"]', "a/", Identity("x@corp.example", user_as_email=False), "denied"),
        ('[groups]\ng = ["boss@corp.example"]\n[[rule]]\npath = "a/"\ngroups = ["g"]', "a/",
         Identity("boss@corp.example", user_as_email=False), "denied"),
        ('[groups]\ng = ["boss@corp.example"]\n[[rule]]\npath = "a/"\ngroups = ["g"]', "a/",
         Identity("boss", "boss@corp.example", user_as_email=False), "allowed"),
        ('[groups]\ng = ["boss"]\n[[rule]]\npath = "a/"\ngroups = ["g"]', "a/", Identity("boss", user_as_email=False), "allowed"),
        ('[groups]\ng = ["boss@corp.example"]\n[[rule]]\npath = "a/"\ngroups = ["g"]', "a/", Identity("boss@corp.example"), "allowed"),
    ],
)
def test_defaults_and_principals_decide(text, path, identity, decision):
    assert decide(rules(text), path, identity) == decision


OPEN_INSIDE_CLOSED = """\
default = "public"
[[rule]]
path = "corp/"
groups = ["staff"]
[[rule]]
path = "corp/open/"
public = true
[[rule]]
path = "corp/team/"
authenticated = true
"""


@pytest.mark.parametrize(
    "path, identity, decision",
    [
        ("corp/open/", None, "public"),
        ("corp/open/a.html", None, "public"),
        ("corp/open", None, "unauthenticated"),  # the file corp/open lies in corp/, whatever the folder's rule says
        ("corp/open", DAVE, "denied"),
        ("corp/open", Identity("s", groups=frozenset({"staff"})), "allowed"),
        ("corp/team", DAVE, "denied"),  # a signed-in rule on the folder does not open the file either
        ("corp/team/", DAVE, "allowed"),
        ("corp", None, "unauthenticated"),  # a restricting rule still covers its own redirect
    ],
)
def test_a_rule_for_a_folder_never_opens_a_file_of_its_name_in_a_closed_parent(path, identity, decision):
    assert decide(rules(OPEN_INSIDE_CLOSED), path, identity) == decision


@pytest.mark.parametrize(
    "text, message",
    [
        ('default = "everyone"', "default = 'everyone' is not one of"),
        ('defualt = "public"', "unknown top-level key(s) defualt"),
        ('[[rule]]\npath = "a/"\npublic = true\ngroup = ["x"]', "unknown key(s) group"),
        ('[[rule]]\npath = "a/"\npublic = true\n[[rule]]\npath = "a/"\ndeny = true', "repeats the path 'a/'"),
        ('[[rule]]\npath = "a/"\npublic = true\n[[rule]]\npath = "A/"\ndeny = true', "repeats the path 'A/'"),
        ('[[rule]]\npath = "a"\npublic = true', "must end with '/'"),
        ('[[rule]]\npath = "/a/"\npublic = true', "must not start with '/'"),
        ('[[rule]]\npath = "a/../b/"\npublic = true', "'..'"),
        ('[[rule]]\npath = "a//b/"\npublic = true', "empty"),
        ('[[rule]]\npublic = true', "needs path"),
        ('[[rule]]\npath = "a/"', "must say exactly one of"),
        ('[[rule]]\npath = "a/"\npublic = true\ngroups = ["x"]', "public and principals"),
        ('[[rule]]\npath = "a/"\ngroups = []', "empty list"),
        ('[[rule]]\npath = "a/"\ngroups = "sre"', "list of non-empty strings"),
        ('[[rule]]\npath = "a/"\npublic = "yes"', "must be true or false"),
        ('[groups]\nsre = "alice"', "list of non-empty strings"),
        ("hide_denied = 1", "hide_denied must be true or false"),
    ],
)
def test_rules_files_that_say_something_unclear_are_refused(text, message):
    with pytest.raises(RulesError) as error:
        rules(text)
    assert message in str(error.value)


def test_an_unreadable_or_invalid_rules_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(RulesError, match="cannot read the rules file .*missing.toml"):
        load_rules(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("default = ")
    with pytest.raises(RulesError, match="bad.toml is not valid TOML"):
        load_rules(bad)
