"""Access control's settings, and building access control from them, refusing every configuration that would not fail closed.

``check`` (``build_access``) is this package's cross-field check: ``create_app`` runs it once, at
start-up, and hands what it returns to ``init_app``.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from config import ConfigError, Setting, choice, networks, number, text

from .htpasswd import Htpasswd, HtpasswdError
from .keys import KeySet, PemKeys
from .rules import OPEN, SIGNED_IN, Rules, RulesError, load_rules
from .sources import BasicSource, HeaderSource, JwtSource
from .throttle import FailureThrottle

SOURCES = ("header", "jwt", "basic")
# Asymmetric only: with HS* anyone holding the (public) verification key could sign tokens.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")

PRESETS = {
    "generic": {"header": "Authorization", "algorithms": "RS256,ES256", "user_claim": "email", "groups_claim": "groups"},
    # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html
    "alb": {"header": "X-Amzn-Oidc-Data", "algorithms": "ES256", "user_claim": "email", "groups_claim": ""},
    # https://cloud.google.com/iap/docs/signed-headers-howto
    "iap": {
        "header": "X-Goog-Iap-Jwt-Assertion",
        "algorithms": "ES256",
        "user_claim": "email",
        "groups_claim": "",
        "jwks_url": "https://www.gstatic.com/iap/verify/public_key-jwk",
        "issuer": "https://cloud.google.com/iap",
    },
    # https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/
    "cloudflare": {"header": "Cf-Access-Jwt-Assertion", "algorithms": "RS256", "user_claim": "email", "groups_claim": "groups"},
    # https://www.pomerium.com/docs/capabilities/getting-users-identity
    "pomerium": {"header": "X-Pomerium-Jwt-Assertion", "algorithms": "ES256", "user_claim": "email", "groups_claim": "groups"},
}


SETTINGS = (
    Setting("DOCS_AUTH", "", text,
            "identity sources in order: `header`, `jwt`, `basic` ([docs/security.md](security.md)); unset: no authentication",
            "header"),
    Setting("DOCS_AUTH_USER_HEADER", "X-Forwarded-User", text, "header naming the reader (`header` mode)", "X-Auth-User"),
    Setting("DOCS_AUTH_EMAIL_HEADER", "X-Forwarded-Email", text, "header with the reader's email (`header` mode)", "X-Auth-Email"),
    Setting("DOCS_AUTH_GROUPS_HEADER", "X-Forwarded-Groups", text,
            "header with the reader's groups, comma-separated (`header` mode)", "X-Auth-Groups"),
    Setting("DOCS_AUTH_TRUSTED_NETWORKS", (), networks,
            "comma-separated CIDRs whose direct connections may assert identity headers; unset: none", "10.0.0.0/8, ::1"),
    Setting("DOCS_AUTH_SECRET_FILE", None, text,
            "file holding the secret the front door sends in `X-Docs-Proxy-Secret` (16+ bytes); "
            "`header` needs this or the networks", "/run/secrets/docs-proxy"),
    Setting("DOCS_AUTH_JWT_PRESET", "generic", choice(*PRESETS),
            "`generic`, `alb`, `iap`, `cloudflare` or `pomerium`", "alb"),
    Setting("DOCS_AUTH_JWT_HEADER", None, text,
            "header carrying the token; unset: the preset's (`Authorization: Bearer` for `generic`)", "X-Token"),
    Setting("DOCS_AUTH_JWKS_URL", None, text,
            "the front door's JWKS URL (ALB: its key URL); unset: the preset's (IAP), else required for `jwt`",
            "https://login.example.com/jwks.json"),
    Setting("DOCS_AUTH_JWT_ISSUER", None, text, "required `iss` of tokens (IAP's is preset)", "https://login.example.com"),
    Setting("DOCS_AUTH_JWT_AUDIENCE", None, text, "required `aud` of tokens (ALB: the OIDC client id)", "docs"),
    Setting("DOCS_AUTH_JWT_ALGORITHMS", None, text,
            "pinned algorithms; `none` and `HS*` are refused; unset: the preset's", "ES256"),
    Setting("DOCS_AUTH_JWT_USER_CLAIM", None, text, "claim naming the reader; unset: the preset's (`email`)", "sub"),
    Setting("DOCS_AUTH_JWT_GROUPS_CLAIM", None, text, "claim listing the reader's groups; unset: the preset's (`groups`)", "roles"),
    Setting("DOCS_AUTH_ALB_ARN", None, text,
            "the load balancer's ARN, checked against the token's `signer` (required for `alb` only)",
            "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/docs/1"),
    Setting("DOCS_AUTH_HTPASSWD", None, text, "htpasswd file of `htpasswd -B` (bcrypt) lines (required for `basic`)",
            "/etc/docs-proxy/htpasswd"),
    # issue 19: forty connections guessing one password slowed every reader
    Setting("DOCS_AUTH_BASIC_FAILURES", 10, number(int, 1, 10_000),
            "wrong passwords per user name, and per client, in a minute before further attempts get `429` "
            "without a bcrypt check", "5"),
    Setting("DOCS_ACCESS_RULES", None, text,
            "TOML rules file: who may read which folder; unset: anyone signed in (anyone at all without `DOCS_AUTH`)",
            "/etc/docs-proxy/rules.toml"),
    Setting("DOCS_AUTH_LOGIN_URL", None, text,
            "path browsers without credentials are sent to, with `rd=` the page (e.g. `/oauth2/start`); unset: `401`",
            "/oauth2/start"),
)


class AccessConfigError(ConfigError):
    """An access-control setting (or a file it names) would not fail closed; start-up stops."""


@dataclass
class AccessControl:
    """What the request path needs: the identity sources in order, the rules, and how to ask for credentials."""

    sources: tuple = ()
    rules: Rules = OPEN
    login_url: str = None
    challenges: list = field(default_factory=list)

    @property
    def is_open(self):
        """Tell whether nothing is checked at all (no sources, everything public)."""
        return not self.sources and self.rules.is_all_public()


def parse_list(raw):
    """Return the items of a comma- or space-separated setting."""
    return [item for item in re.split(r"[,\s]+", raw or "") if item]


def parse_sources(name, raw):
    """Return the ordered identity sources named in ``DOCS_AUTH``, or raise naming the bad one."""
    sources = [item.lower() for item in parse_list(raw)]
    for source in sources:
        if source not in SOURCES:
            raise AccessConfigError(f"{name}={raw!r}: {source!r} is not an identity source; use an ordered list of {', '.join(SOURCES)}")
    if len(set(sources)) != len(sources):
        raise AccessConfigError(f"{name}={raw!r} names a source twice")
    return sources


def parse_algorithms(name, raw):
    """Return the pinned JWT algorithms; ``none`` and ``HS*`` are refused."""
    algorithms = parse_list(raw)
    if not algorithms:
        raise AccessConfigError(f"{name} is empty; name the algorithms the front door signs with, e.g. ES256")
    for algorithm in algorithms:
        if algorithm not in ALGORITHMS:
            raise AccessConfigError(
                f"{name}={raw!r}: {algorithm!r} is not accepted ('none' and HS* would let anyone mint tokens); "
                f"use some of {', '.join(ALGORITHMS)}"
            )
    return algorithms


def check_header_name(name, raw):
    """Return ``raw`` if it is a header name gunicorn and nginx pass through (letters, digits, '-')."""
    if not HEADER_NAME.match(raw or ""):
        raise AccessConfigError(f"{name}={raw!r} is not a header name (letters, digits and '-' only; '_' is dropped by proxies)")
    return raw


def check_url(name, raw):
    """Return ``raw`` if it is an http(s) URL."""
    parts = urlsplit(raw or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AccessConfigError(f"{name}={raw!r} is not an http(s) URL")
    return raw


def check_login_url(name, raw):
    """Return ``raw`` if it is a path on this site ("/oauth2/start"), so the redirect stays relative."""
    if not raw.startswith("/") or raw.startswith("//") or "\\" in raw or any(ord(char) < 0x21 or ord(char) == 0x7F for char in raw):
        raise AccessConfigError(f"{name}={raw!r} must be a path on this site such as /oauth2/start (no scheme, host or '//')")
    return raw


def read_secret(name, path):
    """Return the shared secret in the file at ``path`` (without its trailing newline)."""
    try:
        with open(path, "rb") as file:
            secret = file.read().strip()
    except OSError as error:
        raise AccessConfigError(f"{name}={path!r} cannot be read: {error.strerror or error}") from None
    if len(secret) < 16:
        raise AccessConfigError(f"{name}={path!r} holds a secret shorter than 16 bytes; use e.g. `openssl rand -hex 32`")
    return secret


def build_header_source(settings):
    """Return the ``header`` source; refuse it unless a trusted network or a shared secret is configured."""
    trusted = settings.get("DOCS_AUTH_TRUSTED_NETWORKS") or ()  # already parsed by config.networks
    secret_file = settings.get("DOCS_AUTH_SECRET_FILE")
    if not trusted and not secret_file:
        raise AccessConfigError(
            "DOCS_AUTH includes header, but neither DOCS_AUTH_TRUSTED_NETWORKS nor DOCS_AUTH_SECRET_FILE is set: "
            "anyone reaching the port could claim to be anyone"
        )
    secret = read_secret("DOCS_AUTH_SECRET_FILE", secret_file) if secret_file else None
    return HeaderSource(
        check_header_name("DOCS_AUTH_USER_HEADER", settings.get("DOCS_AUTH_USER_HEADER") or "X-Forwarded-User"),
        check_header_name("DOCS_AUTH_EMAIL_HEADER", settings.get("DOCS_AUTH_EMAIL_HEADER") or "X-Forwarded-Email"),
        check_header_name("DOCS_AUTH_GROUPS_HEADER", settings.get("DOCS_AUTH_GROUPS_HEADER") or "X-Forwarded-Groups"),
        networks=trusted,
        secret=secret,
    )


def build_jwt_source(settings):
    """Return the ``jwt`` source for the preset; issuer, audience and a key URL are required."""
    preset_name = settings.get("DOCS_AUTH_JWT_PRESET") or "generic"
    if preset_name not in PRESETS:
        raise AccessConfigError(f"DOCS_AUTH_JWT_PRESET={preset_name!r} is not one of {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]

    def setting(key, preset_key):
        value = settings.get(key)
        return value if value not in (None, "") else preset.get(preset_key)

    url = setting("DOCS_AUTH_JWKS_URL", "jwks_url")
    issuer = setting("DOCS_AUTH_JWT_ISSUER", "issuer")
    audience = settings.get("DOCS_AUTH_JWT_AUDIENCE")
    what = "ALB's key URL, e.g. https://public-keys.auth.elb.REGION.amazonaws.com" if preset_name == "alb" else "JWKS URL"
    for key, value, meaning in (
        ("DOCS_AUTH_JWKS_URL", url, f"the front door's {what}"),
        ("DOCS_AUTH_JWT_ISSUER", issuer, "the issuer (iss) tokens must carry"),
        ("DOCS_AUTH_JWT_AUDIENCE", audience, "the OIDC client id" if preset_name == "alb" else "the audience (aud) tokens must carry"),
    ):
        if not value:
            raise AccessConfigError(f"DOCS_AUTH includes jwt (preset {preset_name}) but {key} is not set; set it to {meaning}")
    check_url("DOCS_AUTH_JWKS_URL", url)
    alb_arn = None
    if preset_name == "alb":
        alb_arn = settings.get("DOCS_AUTH_ALB_ARN")
        if not alb_arn or not alb_arn.startswith("arn:"):
            raise AccessConfigError("DOCS_AUTH_JWT_PRESET=alb needs DOCS_AUTH_ALB_ARN, the load balancer's ARN (arn:aws:elasticloadbalancing:...)")
    elif settings.get("DOCS_AUTH_ALB_ARN"):
        raise AccessConfigError("DOCS_AUTH_ALB_ARN is only used with DOCS_AUTH_JWT_PRESET=alb")
    algorithms = parse_algorithms("DOCS_AUTH_JWT_ALGORITHMS", setting("DOCS_AUTH_JWT_ALGORITHMS", "algorithms"))
    keys = PemKeys(url) if preset_name == "alb" else KeySet(url)
    return JwtSource(
        header=check_header_name("DOCS_AUTH_JWT_HEADER", setting("DOCS_AUTH_JWT_HEADER", "header")),
        keys=keys,
        issuer=issuer,
        audience=audience,
        algorithms=algorithms,
        user_claim=setting("DOCS_AUTH_JWT_USER_CLAIM", "user_claim"),
        groups_claim=setting("DOCS_AUTH_JWT_GROUPS_CLAIM", "groups_claim"),
        alb_arn=alb_arn,
    )


def build_basic_source(settings):
    """Return the ``basic`` source for the htpasswd file, which must hold only bcrypt lines."""
    path = settings.get("DOCS_AUTH_HTPASSWD")
    if not path:
        raise AccessConfigError("DOCS_AUTH includes basic but DOCS_AUTH_HTPASSWD is not set; make one with `htpasswd -cB FILE USER`")
    try:
        return BasicSource(Htpasswd(path), FailureThrottle(settings.get("DOCS_AUTH_BASIC_FAILURES", 10)))
    except HtpasswdError as error:
        raise AccessConfigError(f"DOCS_AUTH_HTPASSWD: {error}") from None


BUILDERS = {"header": build_header_source, "jwt": build_jwt_source, "basic": build_basic_source}


def build_access(settings):
    """Return the ``AccessControl`` the settings describe; raise ``AccessConfigError`` naming the variable."""
    sources = tuple(BUILDERS[name](settings) for name in parse_sources("DOCS_AUTH", settings.get("DOCS_AUTH")))
    rules_path = settings.get("DOCS_ACCESS_RULES")
    if rules_path:
        try:
            rules = load_rules(rules_path)
        except RulesError as error:
            raise AccessConfigError(f"DOCS_ACCESS_RULES: {error}") from None
        if not sources and not rules.is_all_public():
            raise AccessConfigError(
                "DOCS_ACCESS_RULES restricts some paths but DOCS_AUTH is unset, so nobody could sign in; "
                "set DOCS_AUTH (header, jwt or basic) or make every rule public"
            )
    else:
        rules = SIGNED_IN if sources else OPEN
    login_url = settings.get("DOCS_AUTH_LOGIN_URL")
    if login_url:
        check_login_url("DOCS_AUTH_LOGIN_URL", login_url)
    challenges = []
    if any(source.name == "basic" for source in sources):
        challenges.append('Basic realm="docs", charset="UTF-8"')
    if any(getattr(source, "uses_authorization", False) for source in sources):
        challenges.append('Bearer realm="docs"')
    return AccessControl(sources=sources, rules=rules, login_url=login_url or None, challenges=challenges)


check = build_access
