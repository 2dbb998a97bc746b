"""Pure policy: which project a ``Host`` header names under ``DOCS_PROJECT_HOSTS``, where each project lives,
and which rules files are a risk when every project shares one origin.

No Flask: tested from tables (tests/hosts/test_policy.py). Hosts are compared as browsers send them:
ASCII, lowercased, the port apart. Nothing is folded or trimmed beyond that (no trailing dot, no
Unicode case mapping), so a host that merely resembles a project's is never taken for it.
"""

import re
from dataclasses import dataclass

PLACEHOLDER = "{project}"
# One DNS label as browsers and wildcard certificates accept it (RFC 1123, lowercase): a-z, 0-9 and
# '-' inside, at most 63 characters. '.' can never be part of it, so no suffix of a longer host matches.
LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
HOSTNAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
IPV6_LITERAL = re.compile(r"\[[0-9a-f:.]+\]")
PORT = re.compile(r"[0-9]{1,5}")
MAX_HOSTNAME = 253


class HostError(ValueError):
    """A host pattern or main host that cannot be used; ``setting`` names the variable, the message says why."""

    def __init__(self, message, setting="DOCS_PROJECT_HOSTS"):
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class HostPattern:
    """``DOCS_PROJECT_HOSTS`` parsed: ``prefix + project + suffix`` names a project's host; ``main`` the portal's.

    ``prefix`` lies inside the first label ("" or ``docs-``); ``suffix`` is the rest of that label and
    the domain (``.docs.example.internal``). A port of ``None`` keeps the request's own port in links.
    """

    prefix: str
    suffix: str
    port: str | None
    main: str
    main_port: str | None


def split_host(value):
    """Return ``(hostname, port)`` of a ``Host`` header value (lowercased; port ``None`` when absent), or ``None``.

    Only a plain ``name[:port]`` or ``[ipv6][:port]`` is accepted: user info, spaces, a trailing dot,
    non-ASCII or an out-of-range port make it ``None``, which no project host ever is.
    """
    if not value or not value.isascii():
        return None
    value = value.lower()
    if value.startswith("["):
        end = value.find("]") + 1
        name, rest = value[:end], value[end:]
        if not end or not IPV6_LITERAL.fullmatch(name) or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
    else:
        name, colon, port = value.partition(":")
        port = port if colon else None
        if len(name) > MAX_HOSTNAME or not HOSTNAME.fullmatch(name):
            return None
    if port is not None and not (PORT.fullmatch(port) and 0 < int(port) < 65536):
        return None
    return name, port


def is_project_label(name):
    """Tell whether the project ``name`` can have a host of its own: a lowercase DNS label, not an IDN one.

    A label with ``--`` in its third and fourth places is reserved (RFC 5891 4.2.3.1): ``xn--`` is
    punycode, which browsers may show as Unicode, so a project named ``xn--pyments-...`` would get a host
    that reads like another project's (``pаyments`` with a Cyrillic ``а``) in the address bar.
    """
    return bool(LABEL.fullmatch(name)) and name[2:4] != "--"


def parse_pattern(raw, main=None):
    """Return the ``HostPattern`` for ``DOCS_PROJECT_HOSTS=raw`` and ``DOCS_MAIN_HOST=main``; raise ``HostError``.

    Without ``main``, a pattern ``{project}.DOMAIN`` serves the portal at ``DOMAIN``; any other shape
    needs the main host named.
    """
    raw = raw.strip().lower()
    if raw.count(PLACEHOLDER) != 1:
        raise HostError(f"the pattern must contain {PLACEHOLDER} exactly once, as in {PLACEHOLDER}.docs.example.internal")
    host, port = _host_and_port(raw, "the pattern")
    prefix, _, suffix = host.partition(PLACEHOLDER)
    # The project fills (part of) the first label: a sample name must give a valid host, and the
    # prefix cannot contain a dot, so the project is always the first label's variable part.
    sample = prefix + "a" + suffix
    if "." in prefix or "." not in suffix or not HOSTNAME.fullmatch(sample) or len(sample) > MAX_HOSTNAME:
        raise HostError(
            f"the pattern is not a host name with {PLACEHOLDER} in its first label, such as "
            f"{PLACEHOLDER}.docs.example.internal or docs-{PLACEHOLDER}.example.internal (letters, digits, '-', '.')"
        )
    if main:
        main_host, main_port = _host_and_port(main.strip().lower(), "the main host", "DOCS_MAIN_HOST")
        if not HOSTNAME.fullmatch(main_host):
            raise HostError("the main host is not a host name such as docs.example.internal", "DOCS_MAIN_HOST")
    elif prefix == "" and suffix.startswith("."):
        main_host, main_port = suffix[1:], port
    else:
        raise HostError(f"the pattern does not start with {PLACEHOLDER}., so the main host cannot be derived from it; "
                        "set DOCS_MAIN_HOST to the portal's host")
    pattern = HostPattern(prefix, suffix, port, main_host, main_port)
    if project_of(pattern, main_host) is not None:
        raise HostError(f"the main host matches DOCS_PROJECT_HOSTS={raw!r}: it would be a project's host, "
                        "not the portal's", "DOCS_MAIN_HOST")
    return pattern


def _host_and_port(value, what, setting="DOCS_PROJECT_HOSTS"):
    name, colon, port = value.rpartition(":")
    if not colon:
        return value, None
    if not PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise HostError(f"{what} has a bad port; use host or host:port", setting)
    return name, port


def project_of(pattern, host):
    """Return the project whose host is ``host`` (a ``Host`` header value), or ``None`` for the main host.

    Only an exact ``prefix + label + suffix`` matches, whatever the port: ``evil.payments.docs...``,
    ``payments.docs....evil``, ``payments.docs....`` (trailing dot) and ``pay_ments....`` do not.
    """
    parsed = split_host(host)
    if parsed is None:
        return None
    name = parsed[0]
    if len(name) <= len(pattern.prefix) + len(pattern.suffix):
        return None
    if not (name.startswith(pattern.prefix) and name.endswith(pattern.suffix)):
        return None
    project = name[len(pattern.prefix): len(name) - len(pattern.suffix)]
    if not is_project_label(project) or not is_project_label(name.partition(".")[0]):
        return None
    return project


def with_port(name, port):
    """Return ``name`` with ``:port`` when there is one."""
    return f"{name}:{port}" if port else name


def project_host(pattern, project, request_port=None):
    """Return ``host[:port]`` serving ``project``, or ``None`` when its name cannot be a host label.

    The pattern's port wins; without one, the request's port is kept (``{project}.localhost`` on any port).
    """
    if not is_project_label(project):
        return None
    name = pattern.prefix + project + pattern.suffix
    if not is_project_label(name.partition(".")[0]) or len(name) > MAX_HOSTNAME:
        return None
    return with_port(name, pattern.port or request_port)


def main_host(pattern, request_port=None):
    """Return ``host[:port]`` of the main host (portal, search, APIs), keeping the request's port unless one is set."""
    return with_port(pattern.main, pattern.main_port or request_port)


# --- rules that depend on origins ---

def rule_policy(rule):
    """Return what a rule lets through, comparable between rules: its access and its principals."""
    return (rule.access, rule.groups, rule.emails, rule.email_domains, rule.users)


def root_policy(rules):
    """Return the policy of the bucket's root: its rule ``""``, else the default."""
    for rule in rules.rules:
        if rule.path == "":
            return rule_policy(rule)
    return (rules.default, frozenset(), frozenset(), frozenset(), frozenset())


def projects_treated_differently(rules):
    """Return the projects (first folders) that some rule gives other readers than the root, sorted."""
    root = root_policy(rules)
    return sorted({rule.path.partition("/")[0] for rule in rules.rules if rule.path and rule_policy(rule) != root})


def projects_split_inside(rules):
    """Return the projects whose own folders get different readers (a rule below the project's own), sorted.

    Per-project hosts separate projects, not the folders of one project: these share an origin still.
    """
    root = root_policy(rules)
    own = {rule.path: rule_policy(rule) for rule in rules.rules if rule.path.count("/") == 1}
    split = set()
    for rule in rules.rules:
        if rule.path.count("/") > 1:
            project = rule.path.partition("/")[0]
            if rule_policy(rule) != own.get(project + "/", root):
                split.add(project)
    return sorted(split)


def origin_warnings(rules, project_hosts):
    """Return the start-up warnings for ``rules`` when projects share one origin (or folders share a project's)."""
    warnings = []
    differing = projects_treated_differently(rules)
    if differing and not project_hosts:
        warnings.append(
            f"the access rules give projects different readers ({', '.join(differing[:5])}"
            f"{', ...' if len(differing) > 5 else ''}) but every project is served from one origin: a page "
            "in any project a reader can open may read, with that reader's credentials, every document they may "
            "read in the others; set DOCS_PROJECT_HOSTS to serve each project at its own host (docs/security.md)"
        )
    homeless = sorted({rule.path.partition("/")[0] for rule in rules.rules if rule.path} - {""})
    homeless = [name for name in homeless if not is_project_label(name)]
    if homeless and project_hosts:
        warnings.append(
            f"the access rules name project(s) {', '.join(homeless[:5])}{', ...' if len(homeless) > 5 else ''} "
            "whose names cannot be host labels (lowercase a-z, 0-9, '-'): with DOCS_PROJECT_HOSTS they are served nowhere"
        )
    split = projects_split_inside(rules)
    if split:
        warnings.append(
            f"the access rules give folders inside project(s) {', '.join(split[:5])}{', ...' if len(split) > 5 else ''} "
            "different readers; folders of one project share its origin"
            f"{' even with DOCS_PROJECT_HOSTS' if project_hosts else ''}, so a page in one may read the others "
            "with its reader's credentials (docs/security.md)"
        )
    return warnings
