"""One origin per project: the host pattern and the main host (config.py describes a ``Setting``)."""

from config import ConfigError, Setting, text

from .policy import HostError, parse_pattern

SETTINGS = (
    Setting("DOCS_PROJECT_HOSTS", None, text,
            "host pattern serving each project at its own origin, `{project}` standing for the project "
            "([docs/security.md](security.md#one-origin-per-project-docs_project_hosts)); without a port the "
            "request's port is kept; unset: every project on one origin", "{project}.docs.example.internal"),
    Setting("DOCS_MAIN_HOST", None, text,
            "host (`host` or `host:port`) of the portal, search and APIs beside `DOCS_PROJECT_HOSTS`, for links; "
            "any host that is not a project's answers as the main host; unset: the pattern without `{project}.`",
            "docs.example.internal"),
)


def check(settings):
    """Return the ``HostPattern`` the two settings describe (``None`` when unset), or raise ``ConfigError`` naming one."""
    pattern, main = settings.get("DOCS_PROJECT_HOSTS"), settings.get("DOCS_MAIN_HOST")
    if main and not pattern:
        raise ConfigError("DOCS_MAIN_HOST is set but DOCS_PROJECT_HOSTS is not; the main host is the portal's "
                          "beside per-project hosts (set both, or neither)")
    if not pattern:
        return None
    try:
        return parse_pattern(pattern, main)
    except HostError as error:
        value = main if error.setting == "DOCS_MAIN_HOST" else pattern
        raise ConfigError(f"{error.setting}={value!r}: {error}") from None
