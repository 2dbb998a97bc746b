"""Identity sources: headers from a trusted auth proxy, a signed JWT from the front door, a basic password.

Each source works on plain values (a headers mapping, the socket's peer address) so it is tested
without Flask. ``present`` says whether the request carries this source's credential; ``identify``
returns an ``Identity`` or raises: ``BadCredential`` (401) or ``SourceUnavailable`` (503). A present
but bad credential never falls back to anonymous or to the next source.
"""

import binascii
import hashlib
import hmac
import ipaddress
import logging
import threading
import time
import unicodedata

from .htpasswd import HtpasswdError
from .keys import KeysUnavailable, UnknownKey
from .rules import Identity
from .throttle import client_key

SECRET_HEADER = "X-Docs-Proxy-Secret"
# gunicorn joins a repeated header's values with ',' ("carol,bob"), which the app cannot tell from one
# value; its pre_request hook (gunicorn.conf.py, ``mark_repeated_headers``) names the repeated ones here.
REPEATED_HEADER = "X-Docs-Proxy-Repeated"
MAX_NAME = 320  # the longest email address RFC 5321 allows
MAX_GROUPS = 500
# Clocks of the front door and of this host may disagree by a few seconds; more would stretch tokens.
LEEWAY_SECONDS = 30
# Browsers send the same token with every asset of a page; a verified token is remembered this long
# (never past its expiry), so a page with 30 assets costs one signature check, not 30.
TOKEN_CACHE_SECONDS = 60.0
TOKEN_CACHE_MAX = 10_000

log = logging.getLogger("docs_proxy.access")


class BadCredential(Exception):
    """A credential is present but not valid: the request is answered 401 with this reason."""


class SourceUnavailable(Exception):
    """The credential cannot be checked right now (key URL down, password file broken): a 503."""


class TooManyFailures(Exception):
    """Too many wrong passwords for this user or from this client lately: a 429, checked without bcrypt."""

    def __init__(self, retry_after):
        super().__init__("too many failed sign-ins; try again later")
        self.retry_after = retry_after


def mark_repeated_headers(req):
    """Name in ``REPEATED_HEADER`` the headers a gunicorn request carries more than once (a client's own
    ``REPEATED_HEADER`` is dropped first, so it can only ever add a refusal)."""
    mark = REPEATED_HEADER.upper()
    req.headers = [(name, value) for name, value in req.headers if name.upper() != mark]
    seen, repeated = set(), []
    for name, _ in req.headers:
        name = name.upper()
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        req.headers.append((mark, ",".join(repeated)))


def repeated_headers(headers):
    """Return the lower-cased names ``mark_repeated_headers`` found repeated in this request."""
    return {name.strip().lower() for name in (headers.get(REPEATED_HEADER) or "").split(",") if name.strip()}


def clean_name(value, what):
    """Return ``value`` stripped, or raise ``BadCredential`` when it is too long or has control characters."""
    value = value.strip()
    if len(value) > MAX_NAME or any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in value):
        raise BadCredential(f"the {what} is too long or contains control characters")
    return value


def split_groups(value):
    """Return the groups in a comma-separated header or claim value, or in a list claim."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = [item for item in value if isinstance(item, str)]
    else:
        return frozenset()
    groups = [clean_name(item, "group name") for item in items[: MAX_GROUPS + 1]]
    if len(groups) > MAX_GROUPS:
        raise BadCredential(f"more than {MAX_GROUPS} groups")
    return frozenset(group for group in groups if group)


def authorization_scheme(headers):
    """Return the lower-cased scheme of the ``Authorization`` header and its credentials, or ``(None, "")``."""
    value = headers.get("Authorization")
    if value is None:
        return None, ""
    scheme, _, credentials = value.strip().partition(" ")
    return scheme.lower(), credentials.strip()


class HeaderSource:
    """Identity asserted in headers by an auth proxy, believed only from its network and/or with its secret."""

    name = "header"

    def __init__(self, user_header, email_header, groups_header, networks=(), secret=None):
        self.user_header = user_header
        self.email_header = email_header
        self.groups_header = groups_header
        self.networks = tuple(networks)
        self.secret = secret

    def present(self, headers):
        """Tell whether any identity header is in ``headers``."""
        return any(headers.get(name) is not None for name in (self.user_header, self.email_header, self.groups_header))

    def is_trusted(self, headers, peer):
        """Tell whether the request comes straight from the auth proxy: its network, its secret, or both."""
        if self.networks:
            try:
                address = ipaddress.ip_address((peer or "").split("%", 1)[0])
            except ValueError:
                return False
            if address.version == 6 and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not any(address in network for network in self.networks):
                return False
        if self.secret is not None:
            sent = headers.get(SECRET_HEADER)
            if sent is None or not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), self.secret):
                return False
        return True

    def identify(self, headers, peer, client=None):
        """Return the identity the proxy asserted, or raise ``BadCredential`` if the sender is not the proxy."""
        if not self.is_trusted(headers, peer):
            log.warning("identity headers from %s refused: not the trusted auth proxy (network or secret)", peer)
            raise BadCredential("identity headers are accepted only from the authenticating proxy")
        repeated = repeated_headers(headers) & {
            name.lower() for name in (self.user_header, self.email_header, self.groups_header, SECRET_HEADER)
        }
        if repeated:
            log.warning("identity headers from %s refused: %s sent more than once", peer, ", ".join(sorted(repeated)))
            raise BadCredential("an identity header was sent more than once")
        user = clean_name(headers.get(self.user_header, ""), "user name")
        email = clean_name(headers.get(self.email_header, ""), "email")
        if "," in user or "," in email:
            # No user name or address is a list: two headers joined by a server without the hook.
            raise BadCredential("the user name or email holds a ',' (an identity header sent more than once?)")
        if not user and not email:
            raise BadCredential("the authenticating proxy sent no user name or email")
        return Identity(user=user or email, email=email, groups=split_groups(headers.get(self.groups_header, "")))


class BasicSource:
    """A user name and password in ``Authorization: Basic``, checked against an htpasswd file."""

    name = "basic"

    def __init__(self, htpasswd, throttle=None):
        self.htpasswd = htpasswd
        self.throttle = throttle

    def present(self, headers):
        """Tell whether ``headers`` carry ``Authorization: Basic``."""
        return authorization_scheme(headers)[0] == "basic"

    def identify(self, headers, peer, client=None):
        """Return the identity whose password was sent, or raise ``BadCredential`` (``TooManyFailures``).

        ``client`` is the address failures are counted against (the forwarded client behind a
        trusted proxy); the socket's ``peer`` by default.
        """
        encoded = authorization_scheme(headers)[1]
        try:
            decoded = binascii.a2b_base64(encoded.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise BadCredential("the Basic credentials are not valid base64") from None
        user, colon, password = decoded.partition(b":")
        if not colon:
            raise BadCredential("the Basic credentials have no ':' between user name and password")
        try:
            name = clean_name(user.decode("utf-8"), "user name")
        except UnicodeDecodeError:
            raise BadCredential("the Basic user name is not UTF-8") from None
        if not name:
            raise BadCredential("the Basic credentials have an empty user name")
        keys = (("user", name), ("client", client_key(client or peer)))
        if self.throttle is not None and not self.htpasswd.is_remembered(name, password):
            wait = self.throttle.retry_after(*keys)
            if wait:
                raise TooManyFailures(wait)
        try:
            ok = self.htpasswd.check(name, password)
        except HtpasswdError as error:
            log.error("basic authentication unavailable: %s", error)
            raise SourceUnavailable("the password file cannot be read") from None
        if not ok:
            if self.throttle is not None:
                self.throttle.failed(*keys)
            raise BadCredential("wrong user name or password")
        return Identity(user=name)


class JwtSource:
    """A JWT the front door signed, verified against keys from the configured URL only."""

    name = "jwt"

    def __init__(self, header, keys, issuer, audience, algorithms, user_claim, groups_claim, alb_arn=None):
        self.header = header
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.user_claim = user_claim
        self.groups_claim = groups_claim
        self.alb_arn = alb_arn  # set for the ALB preset: the token's header names its signer and client
        self.verified = {}  # sha256(token) -> (identity, wall-clock time it stops counting)
        self.lock = threading.Lock()

    @property
    def uses_authorization(self):
        """Tell whether the token comes as ``Authorization: Bearer``."""
        return self.header.lower() == "authorization"

    def token(self, headers):
        """Return the token in ``headers``, or ``None``."""
        if self.uses_authorization:
            scheme, credentials = authorization_scheme(headers)
            return credentials if scheme == "bearer" else None
        value = headers.get(self.header)
        return value.strip() if value is not None else None

    def present(self, headers):
        """Tell whether ``headers`` carry a token for this source."""
        return self.token(headers) is not None

    def identify(self, headers, peer, client=None):
        """Return the identity in a valid token; raise ``BadCredential`` or ``SourceUnavailable``."""
        token = self.token(headers)
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        now = time.time()
        with self.lock:
            cached = self.verified.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        identity, expires = self.verify(token)
        with self.lock:
            if len(self.verified) >= TOKEN_CACHE_MAX:
                self.verified = {key: value for key, value in self.verified.items() if value[1] > now}
                if len(self.verified) >= TOKEN_CACHE_MAX:
                    self.verified.clear()
            self.verified[digest] = (identity, min(expires, now + TOKEN_CACHE_SECONDS))
        return identity

    def verify(self, token):
        """Return the identity in ``token`` and its expiry time, or raise ``BadCredential``/``SourceUnavailable``."""
        import jwt  # PyJWT and cryptography take 0.08 s to import: only apps with a jwt source pay it

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise BadCredential("the token is not a JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise BadCredential(f"the token's algorithm {alg!r} is not accepted")
        if self.alb_arn is not None:
            # ALB's token has no audience; its header names the load balancer and the OIDC client.
            if header.get("signer") != self.alb_arn or header.get("client") != self.audience:
                raise BadCredential("the token was not signed by the configured load balancer for this client")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise BadCredential("the token's key id is not a string")
        try:
            key = self.keys.get(kid)
        except UnknownKey:
            raise BadCredential("the token names a key the key URL does not hold") from None
        except KeysUnavailable as error:
            log.error("JWT keys unavailable: %s", error)
            raise SourceUnavailable("the signing keys cannot be fetched") from None
        required = ["exp", "iss"] + ([] if self.alb_arn is not None else ["aud"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=None if self.alb_arn is not None else self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": required, "verify_aud": self.alb_arn is None},
            )
        except jwt.InvalidTokenError as error:
            raise BadCredential(f"the token is not valid: {error}") from None
        user = claims.get(self.user_claim)
        if not isinstance(user, str) or not user.strip():
            raise BadCredential(f"the token has no {self.user_claim!r} claim")
        email = claims.get("email") if isinstance(claims.get("email"), str) else ""
        if "email_verified" in claims and not is_true(claims["email_verified"]):
            # Anyone can type an address into many IdPs' sign-up forms; an unverified one is nobody's.
            if self.user_claim == "email":
                raise BadCredential("the token's email is not verified (email_verified is false)")
            email = ""
        groups = split_groups(claims.get(self.groups_claim)) if self.groups_claim else frozenset()
        identity = Identity(user=clean_name(user, "user name"), email=clean_name(email, "email"), groups=groups,
                            user_as_email=False)
        return identity, claims["exp"]


def is_true(value):
    """Tell whether a claim says true: ``true``, or the string ``"true"`` some IdPs send (Cognito)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def identify(sources, headers, peer, client=None):
    """Return the identity from the first source whose credential is present, or ``None`` for anonymous.

    ``peer`` is the socket's peer (what trust is decided on); ``client`` the reader's address as
    the trusted proxies forward it (what failed passwords are counted against).

    An ``Authorization`` header that no configured source understands is refused rather than ignored.
    """
    for source in sources:
        if source.present(headers):
            return source.identify(headers, peer, client)
    scheme, _ = authorization_scheme(headers)
    if scheme is not None and any(source.name == "basic" or getattr(source, "uses_authorization", False) for source in sources):
        raise BadCredential("the Authorization scheme is not one this server accepts")
    return None
