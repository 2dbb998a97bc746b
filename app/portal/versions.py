"""Pure: what a version name means, how versions order, and where aliases point.

Ordering follows PEP 440 through ``packaging``, with fallbacks for the names Java and JavaScript
builds use: ``1.2.3-SNAPSHOT`` and ``2.0.0-M1`` are prereleases of 1.2.3 and 2.0.0; ``1.x`` is the
development line of 1 (ordered just above its releases). Names that parse as no version at all
(``main``, ``develop``) are development versions: listed first, never the target of an alias.
"""

import re
from dataclasses import dataclass
from functools import lru_cache, total_ordering

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

RELEASE = "release"
PRERELEASE = "prerelease"
LINE = "line"
DEVELOPMENT = "development"

COMPUTED_ALIASES = ("latest", "stable")
# Names that can never be a version: the computed aliases, the default pin, and the portal's own files.
RESERVED_NAMES = frozenset({"latest", "stable", "default", "versions.json", "switcher.json"})
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")
PROJECT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# 1.2.3-SNAPSHOT, 2.0.0-M1, 3.0_preview: a release followed by a suffix PEP 440 does not know.
SUFFIXED = re.compile(r"[vV]?(?P<release>\d+(?:\.\d+)*)[-_.](?P<suffix>[A-Za-z][A-Za-z0-9.-]*)")
MILESTONE = re.compile(r"[mM](?:ilestone)?[.-]?(?P<number>\d+)")
LINE_NAME = re.compile(r"[vV]?(?P<release>\d+(?:\.\d+)*)\.[xX*]")
LINE_ALIAS = re.compile(r"[vV]?\d+(?:\.\d+)*")


class BadName(ValueError):
    """A project, version or alias name that cannot be used, with the reason."""


@total_ordering
@dataclass(frozen=True)
class VersionInfo:
    """A version name with what it means: its kind, its ordering key and its normal form."""

    name: str
    kind: str
    key: tuple
    normal: str

    @property
    def is_alias_target(self):
        """Tell whether aliases may point at this version (releases and prereleases only)."""
        return self.kind in (RELEASE, PRERELEASE)

    @property
    def release(self):
        """Return the release numbers (``(1, 2, 3)``), or ``()`` for a development version."""
        return self.key[1].release if self.kind != DEVELOPMENT else ()

    def __lt__(self, other):
        return sort_key(self) > sort_key(other)


@lru_cache(maxsize=16384)
def parse_version(name):
    """Return the ``VersionInfo`` for a version name (never raises: unknown shapes are development)."""
    try:
        version = Version(name)
    except InvalidVersion:
        pass
    else:
        kind = PRERELEASE if version.is_prerelease else RELEASE
        # Canonical form drops trailing zeros: 1.2 and 1.2.0 are the same version to PEP 440.
        return VersionInfo(name, kind, (1, version, 0, ""), canonicalize_version(version))
    match = LINE_NAME.fullmatch(name)
    if match:
        numbers = [int(part) for part in match["release"].split(".")]
        # Just below the next line's first prerelease: 1.x sorts above 1.99 and below 2.0.dev0.
        upper = Version(".".join(map(str, numbers[:-1] + [numbers[-1] + 1])) + ".dev0")
        return VersionInfo(name, LINE, (1, upper, -1, ""), match["release"] + ".x")
    match = SUFFIXED.fullmatch(name)
    if match:
        release = Version(match["release"])
        milestone = MILESTONE.fullmatch(match["suffix"])
        if milestone:
            # Maven: alpha < beta < milestone < rc, so M1 sits between b-anything and rc0.
            base = Version(f"{release}rc0")
            return VersionInfo(name, PRERELEASE, (1, base, -2, f"{int(milestone['number']):09d}"),
                               f"{release}-m{int(milestone['number'])}")
        # SNAPSHOT and other builds: a prerelease of their release, below its alphas.
        base = Version(f"{release}.dev0")
        suffix = match["suffix"].lower()
        return VersionInfo(name, PRERELEASE, (1, base, -1, suffix), f"{release}-{suffix}")
    return VersionInfo(name, DEVELOPMENT, (2, name.lower()), name.lower())


def sort_key(info):
    """Return a key that sorts newest first: development names, then versions from high to low."""
    if info.kind == DEVELOPMENT:
        return (0, info.key[1])
    version, tiebreak, suffix = info.key[1], info.key[2], info.key[3]
    return (1, _Descending((version, tiebreak, suffix)))


@total_ordering
class _Descending:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return self.value == other.value

    def __lt__(self, other):
        return self.value > other.value


def order_versions(names):
    """Return ``names`` newest first: development names (alphabetically), then by version, high to low."""
    return sorted(names, key=lambda name: sort_key(parse_version(name)))


def check_project_name(name):
    """Raise ``BadName`` unless ``name`` can name a project (one URL segment, not reserved)."""
    if not isinstance(name, str) or not PROJECT_PATTERN.fullmatch(name):
        raise BadName(
            f"project name {name!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )


def check_version_name(name, existing=(), pins=()):
    """Raise ``BadName`` unless ``name`` can be published as a new or existing version.

    ``existing`` are the project's current version names, ``pins`` its pinned alias names.
    """
    if not isinstance(name, str) or name[:1] in ("_", ".") or not NAME_PATTERN.fullmatch(name or ""):
        raise BadName(
            f"version {name!r} must be 1-100 letters, digits, '.', '_', '+' or '-', starting with a letter or digit"
        )
    if name.lower() in RESERVED_NAMES:
        raise BadName(f"version {name!r} is reserved: the portal computes it (or serves its own file)")
    if name in pins:
        raise BadName(f"version {name!r} is a pinned alias of this project; unset it first (flask docs alias --unset)")
    normal = parse_version(name).normal
    for other in existing:
        if other != name and parse_version(other).normal == normal:
            raise BadName(f"version {name!r} is ambiguous: it means the same as the existing version {other!r}")


def check_alias_name(name, existing=()):
    """Raise ``BadName`` unless ``name`` can be pinned as an alias (``stable``, ``lts``, ``default``...)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name or "") or name[:1] in ("_", "."):
        raise BadName(f"alias {name!r} must be 1-100 letters, digits, '.', '_', '+' or '-'")
    if name.lower() in ("versions.json", "switcher.json"):
        raise BadName(f"alias {name!r} is reserved for the portal's own files")
    if name in existing:
        raise BadName(f"alias {name!r} is already a version of this project")
    if parse_version(name).kind != DEVELOPMENT:
        raise BadName(f"alias {name!r} looks like a version; pick a word such as 'lts' so it cannot shadow one")


@dataclass(frozen=True)
class Resolution:
    """The aliases of a project's listed versions: ``aliases`` maps alias name to version name."""

    ordered: tuple
    aliases: dict
    default: str

    def aliases_of(self, version):
        """Return the alias names that point at ``version``, pinned and computed, sorted."""
        return sorted(name for name, target in self.aliases.items() if target == version and name != "default")


def resolve_aliases(versions, pins=None):
    """Return the ``Resolution`` of ``versions`` (names listed, not hidden) with ``pins`` applied.

    ``latest`` is the highest release or prerelease, ``stable`` the highest release; a pin overrides
    both and adds its own name, but only while its target is listed and may be an alias target.
    ``default`` is the ``default`` pin, else stable, else latest, else the newest development version.
    """
    ordered = tuple(order_versions(versions))
    infos = [parse_version(name) for name in ordered]
    targets = [info for info in infos if info.is_alias_target]
    aliases = {}
    if targets:
        aliases["latest"] = targets[0].name
    releases = [info for info in targets if info.kind == RELEASE]
    if releases:
        aliases["stable"] = releases[0].name
    listed = {info.name for info in targets}
    for name, target in (pins or {}).items():
        if target in listed:
            aliases[name] = target
    default = aliases.get("default") or aliases.get("stable") or aliases.get("latest")
    if default is None and ordered:
        development = [info.name for info in infos if info.kind in (DEVELOPMENT, LINE)]
        default = development[0] if development else ordered[0]
    return Resolution(ordered, aliases, default)


def resolve_name(name, resolution):
    """Return the version ``name`` stands for in ``resolution``: itself, an alias's target, a line's newest, or ``None``.

    A release line (``2``, ``2.3``) that is not itself a version resolves to its newest release,
    else its newest prerelease.
    """
    if name in resolution.ordered:
        return name
    if name in resolution.aliases:
        return resolution.aliases[name]
    if LINE_ALIAS.fullmatch(name):
        prefix = tuple(int(part) for part in name.lstrip("vV").split("."))
        line = [parse_version(version) for version in resolution.ordered]
        line = [info for info in line if info.is_alias_target and info.release[:len(prefix)] == prefix]
        for kind in (RELEASE, PRERELEASE):
            for info in line:
                if info.kind == kind:
                    return info.name
    return None
