"""Pure policy: the rules file, and who may read a document path under it.

No Flask and no I/O beyond ``load_rules`` reading the file: ``decide`` is tested from tables.
"""

import tomllib
import unicodedata
from dataclasses import dataclass, field

DEFAULTS = ("deny", "authenticated", "public")
TOP_KEYS = {"default", "groups", "rule", "hide_denied"}
RULE_KEYS = {"path", "public", "authenticated", "deny", "groups", "emails", "email_domains", "users"}
PRINCIPAL_KEYS = ("groups", "emails", "email_domains", "users")

# Decisions, as flask.g.access_decision names them.
PUBLIC = "public"
ALLOWED = "allowed"
DENIED = "denied"
UNAUTHENTICATED = "unauthenticated"


class RulesError(ValueError):
    """The rules file cannot be read or says something ambiguous; start-up stops with this message."""


@dataclass(frozen=True)
class Identity:
    """Who is reading: a name, an email (either may be empty) and the groups a source asserted.

    ``user_as_email``: a user name with an ``@`` stands for a missing email (a front door's user
    header is often the address). A token's user claim never does: its email is its ``email`` claim,
    and an unverified one was dropped on purpose.
    """

    user: str
    email: str = ""
    groups: frozenset = frozenset()
    user_as_email: bool = True


@dataclass(frozen=True)
class Rule:
    """Who may read the documents below ``path``: everyone, anyone signed in, nobody, or the principals."""

    path: str
    access: str  # "public", "authenticated", "deny" or "principals"
    folded: str = ""  # ``fold(path)``, computed once
    groups: frozenset = frozenset()
    emails: frozenset = frozenset()
    email_domains: frozenset = frozenset()
    users: frozenset = frozenset()


@dataclass(frozen=True)
class Rules:
    """A parsed rules file: the default, the local groups, and the rules by path."""

    default: str = "authenticated"
    local_groups: dict = field(default_factory=dict)  # group -> frozenset of folded user names/emails
    rules: tuple = ()
    hide_denied: bool = False

    def is_all_public(self):
        """Tell whether every path is public, so no identity is ever needed."""
        return self.default == PUBLIC and all(rule.access == PUBLIC for rule in self.rules)


OPEN = Rules(default=PUBLIC)  # DOCS_AUTH and DOCS_ACCESS_RULES unset: everything readable, as before
SIGNED_IN = Rules(default="authenticated")  # DOCS_AUTH set, no rules file


def fold(text):
    """Return the form two names are compared in: NFC, case-folded (an editor's NFD is the same name)."""
    return unicodedata.normalize("NFC", text).casefold()


ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def identity_key(text):
    """Return the form a user name or email is compared in, so that only the same name matches.

    ASCII letters compare without case (``Bob`` is ``bob``), nothing else is folded: full case
    folding maps ``boſs`` to ``boss`` and the Kelvin sign to ``k``, look-alikes an IdP may let
    someone else register. A name not already in NFC (the Kelvin sign's NFC is ``K``) matches
    nothing, since it can only be a look-alike spelling.
    """
    if unicodedata.normalize("NFC", text) != text:
        return "\0not-nfc:" + text
    return text.translate(ASCII_LOWER)


def rule_name(text):
    """Return a name from the rules file (the operator's editor may write NFD) in ``identity_key`` form."""
    return identity_key(unicodedata.normalize("NFC", text))


def nfc(text):
    """Return ``text`` in Unicode normal form C."""
    return unicodedata.normalize("NFC", text)


def load_rules(path):
    """Read and check the TOML rules file at ``path``; raise ``RulesError`` saying what is wrong."""
    try:
        with open(path, "rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise RulesError(f"cannot read the rules file {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RulesError(f"the rules file {path} is not valid TOML: {error}") from None
    try:
        return parse_rules(data)
    except RulesError as error:
        raise RulesError(f"the rules file {path}: {error}") from None


def parse_rules(data):
    """Return ``Rules`` from the parsed TOML ``data``; raise ``RulesError`` on anything unknown or ambiguous."""
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise RulesError(f"unknown top-level key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(TOP_KEYS))}")
    default = data.get("default", "authenticated")
    if default not in DEFAULTS:
        raise RulesError(f"default = {default!r} is not one of {', '.join(DEFAULTS)}")
    hide_denied = data.get("hide_denied", False)
    if not isinstance(hide_denied, bool):
        raise RulesError("hide_denied must be true or false")
    local_groups = _parse_groups(data.get("groups", {}))
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RulesError("rules are written as [[rule]] tables")
    rules = []
    seen = {}
    for number, raw in enumerate(raw_rules, 1):
        rule = _parse_rule(number, raw)
        # Two rules whose paths differ only in case or normal form would race for the same objects.
        folded = fold(rule.path)
        if folded in seen:
            raise RulesError(f"rule {number} repeats the path {rule.path!r} of rule {seen[folded]}")
        seen[folded] = number
        rules.append(rule)
    return Rules(default=default, local_groups=local_groups, rules=tuple(rules), hide_denied=hide_denied)


def _strings(where, value):
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise RulesError(f"{where} must be a list of non-empty strings")
    return [item.strip() for item in value]


def _parse_groups(raw):
    if not isinstance(raw, dict):
        raise RulesError("[groups] must be a table of group = [members]")
    return {name: frozenset(rule_name(member) for member in _strings(f"group {name!r}", members)) for name, members in raw.items()}


def _parse_rule(number, raw):
    if not isinstance(raw, dict):
        raise RulesError(f"rule {number} is not a table")
    unknown = set(raw) - RULE_KEYS
    if unknown:
        raise RulesError(f"rule {number} has unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(RULE_KEYS))}")
    path = raw.get("path")
    if not isinstance(path, str):
        raise RulesError(f"rule {number} needs path = \"folder/\" (a document path below /docs/, or \"\" for the root)")
    check_rule_path(number, path)
    flags = []
    for name in ("public", "authenticated", "deny"):
        value = raw.get(name, False)
        if not isinstance(value, bool):
            raise RulesError(f"rule {number} ({path!r}): {name} must be true or false")
        if value:
            flags.append(name)
    principals = {name: frozenset(_strings(f"rule {number} ({path!r}) {name}", raw[name])) for name in PRINCIPAL_KEYS if name in raw}
    if any(not members for members in principals.values()):
        raise RulesError(f"rule {number} ({path!r}) has an empty list; remove it or name someone")
    kinds = flags + (["principals"] if principals else [])
    if len(kinds) != 1:
        raise RulesError(
            f"rule {number} ({path!r}) must say exactly one of: public = true, authenticated = true, deny = true, "
            f"or who may read (groups, emails, email_domains, users); it says {' and '.join(kinds) or 'none'}"
        )
    return Rule(
        path=nfc(path),
        access=kinds[0],
        folded=fold(path),
        groups=frozenset(principals.get("groups", ())),
        emails=frozenset(rule_name(email) for email in principals.get("emails", ())),
        email_domains=frozenset(rule_name(domain).lstrip("@") for domain in principals.get("email_domains", ())),
        users=frozenset(rule_name(user) for user in principals.get("users", ())),
    )


def check_rule_path(number, path):
    """Raise ``RulesError`` unless ``path`` is "" or a canonical folder path ending in "/"."""
    if path == "":
        return
    problem = None
    if not path.endswith("/"):
        problem = "must end with '/' (rules name folders)"
    elif path.startswith("/"):
        problem = "must not start with '/' (it is below /docs/)"
    elif "//" in path or any(segment in (".", "..") for segment in path[:-1].split("/")):
        problem = "must not contain empty, '.' or '..' segments"
    elif any(unicodedata.category(char) == "Cc" for char in path) or "\\" in path:
        problem = "must not contain control characters or backslashes"
    if problem:
        raise RulesError(f"rule {number} path {path!r} {problem}")


def covers(rule_path, path, redirect=True):
    """Tell whether a rule for the folder ``rule_path`` covers ``path`` (the folder, everything below and,
    with ``redirect``, its name without the slash)."""
    return rule_path == "" or path.startswith(rule_path) or (redirect and path == rule_path[:-1])


def matching_rule(rules, path, redirect=True):
    """Return the most specific rule that governs ``path``, or ``None`` when the default does.

    Paths are compared in NFC, so a rule written in one normal form covers a key published in the
    other. A restricting rule also covers other spellings of its folder in case (an S3-compatible
    store on a case-insensitive disk serves ``Payments/`` from ``payments/``); a public rule opens
    only its exact spelling. Either way a look-alike can only become stricter, never more open.
    Without ``redirect``, a rule for ``a/`` does not cover ``a`` (which may be a file in ``a``'s parent).
    """
    exact = nfc(path)
    folded = fold(path)
    best = None
    for rule in rules.rules:
        if rule.access == PUBLIC:
            hit = covers(rule.path, exact, redirect)
        else:
            hit = covers(rule.folded, folded, redirect)
        if hit and (best is None or len(rule.path) > len(best.path)):
            best = rule
    return best


def identity_groups(rules, identity):
    """Return the identity's asserted groups plus the local groups that list its name or email.

    A user name that looks like an address counts as a listed email only where it may stand for one
    (``Identity.user_as_email``): a token's user claim never does.
    """
    user = identity.user if identity.user_as_email or "@" not in identity.user else ""
    names = {identity_key(name) for name in (user, identity.email) if name}
    local = {group for group, members in rules.local_groups.items() if names & members}
    return frozenset(identity.groups) | local


def is_member(rule, rules, identity):
    """Tell whether ``identity`` is one of the rule's principals."""
    email = identity_key(identity.email) if identity.email else ""
    if not email and identity.user_as_email and "@" in identity.user:
        email = identity_key(identity.user)
    if email and (email in rule.emails or email.rpartition("@")[2] in rule.email_domains):
        return True
    if identity.user and identity_key(identity.user) in rule.users:
        return True
    return bool(rule.groups & identity_groups(rules, identity))


# From the most open decision to the most closed one.
STRICTNESS = (PUBLIC, ALLOWED, UNAUTHENTICATED, DENIED)


def decide(rules, path, identity):
    """Return "public", "allowed", "denied" or "unauthenticated" for ``identity`` (or ``None``) reading ``path``.

    ``corp/open`` names the folder ``corp/open/`` (its redirect) or a file in ``corp/``: it gets the
    stricter of the two decisions, so a rule opening a folder never opens a file of the same name
    in a closed parent.
    """
    rule = matching_rule(rules, path)
    decision = decide_rule(rules, rule, identity)
    as_file = matching_rule(rules, path, redirect=False)
    if as_file is not rule:
        decision = max(decision, decide_rule(rules, as_file, identity), key=STRICTNESS.index)
    return decision


def decide_rule(rules, rule, identity):
    """Return the decision of ``rule`` (the default when ``None``) for ``identity``."""
    access = rule.access if rule is not None else rules.default
    if access == PUBLIC:
        return PUBLIC
    if identity is None:
        return UNAUTHENTICATED
    if access == "authenticated":
        return ALLOWED
    if access == "principals" and is_member(rule, rules, identity):
        return ALLOWED
    return DENIED
