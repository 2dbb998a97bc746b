"""Each identity source from tables, without Flask: what it accepts, and what it refuses (401 or 503)."""

import base64
import hashlib
import hmac
import ipaddress
import json
import time

import subprocess

import bcrypt
import jwt
import pytest

from app.access.htpasswd import Htpasswd, HtpasswdError, hash_cost, parse_htpasswd
from app.access.keys import KeySet, PemKeys
from app.access.rules import Identity
from app.access.sources import BadCredential, BasicSource, HeaderSource, JwtSource, SourceUnavailable, TooManyFailures, identify
from app.access.throttle import MAX_ENTRIES, FailureThrottle, client_key

from tests.access.conftest import AUDIENCE, ISSUER, SECRET, basic, htpasswd_line

NETWORK = [ipaddress.ip_network("10.0.0.0/24")]
SECRET_BYTES = SECRET.encode()
PROXY = {"X-Docs-Proxy-Secret": SECRET}


def header_source(networks=NETWORK, secret=SECRET_BYTES):
    return HeaderSource("X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", networks, secret)


@pytest.mark.parametrize(
    "headers, peer, identity",
    [
        ({"X-Forwarded-User": "alice", **PROXY}, "10.0.0.5", Identity("alice")),
        ({"X-Forwarded-User": " alice ", "X-Forwarded-Email": "a@corp.example", "X-Forwarded-Groups": "sre, team-payments,", **PROXY}, "10.0.0.5", Identity("alice", "a@corp.example", frozenset({"sre", "team-payments"}))),
        ({"X-Forwarded-Email": "a@corp.example", **PROXY}, "10.0.0.5", Identity("a@corp.example", "a@corp.example")),
        ({"X-Forwarded-User": "alice", **PROXY}, "::ffff:10.0.0.5", Identity("alice")),
    ],
)
def test_header_source_believes_the_proxy(headers, peer, identity):
    assert header_source().identify(headers, peer) == identity


@pytest.mark.parametrize(
    "headers, peer, networks, secret",
    [
        ({"X-Forwarded-User": "alice", **PROXY}, "10.0.1.5", NETWORK, SECRET_BYTES),  # outside the network
        ({"X-Forwarded-User": "alice"}, "10.0.0.5", NETWORK, SECRET_BYTES),  # no secret
        ({"X-Forwarded-User": "alice", "X-Docs-Proxy-Secret": SECRET[:-1]}, "10.0.0.5", NETWORK, SECRET_BYTES),
        ({"X-Forwarded-User": "alice", "X-Docs-Proxy-Secret": SECRET + "x"}, "10.0.0.5", NETWORK, SECRET_BYTES),
        ({"X-Forwarded-User": "alice"}, "10.0.1.5", NETWORK, None),  # network only
        ({"X-Forwarded-User": "alice"}, "", NETWORK, None),
        ({"X-Forwarded-User": "alice"}, "not-an-ip", NETWORK, None),
        ({"X-Forwarded-User": "alice"}, "10.0.1.5", (), SECRET_BYTES),  # secret only
        ({"X-Forwarded-Groups": "sre"}, "10.0.1.5", NETWORK, None),  # any identity header counts
        ({"X-Forwarded-User": "", **PROXY}, "10.0.0.5", NETWORK, SECRET_BYTES),  # the proxy named nobody
        ({"X-Forwarded-User": "al\nice", **PROXY}, "10.0.0.5", NETWORK, SECRET_BYTES),
        ({"X-Forwarded-User": "a" * 400, **PROXY}, "10.0.0.5", NETWORK, SECRET_BYTES),
    ],
)
def test_header_source_refuses_anyone_but_the_proxy(headers, peer, networks, secret):
    source = header_source(networks, secret)
    assert source.present(headers)
    with pytest.raises(BadCredential):
        source.identify(headers, peer)


def test_a_secret_alone_is_not_an_identity():
    assert not header_source().present(PROXY)


# --- basic -------------------------------------------------------------------------------


@pytest.fixture
def basic_source(htpasswd_file):
    return BasicSource(Htpasswd(htpasswd_file))


@pytest.mark.parametrize(
    "authorization",
    [
        basic("alice", "wrong"),
        basic("alice", ""),
        basic("nobody", "wonderland"),
        basic("alice", "wonderland" + "x" * 80),  # over bcrypt's 72 bytes
        "Basic " + base64.b64encode(b"alicewonderland").decode(),  # no colon
        "Basic " + base64.b64encode(b":wonderland").decode(),  # no user
        "Basic not*base64!",
        "Basic YWxpY2U6d29uZGVybGFuZA",  # missing padding
        "Basic " + base64.b64encode(b"\xff\xfe:wonderland").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"ali\x00ce:wonderland").decode(),
        "Basic \u00e9\u00e9\u00e9\u00e9",  # not ASCII at all
        "Basic ",
    ],
)
def test_basic_source_refuses_bad_credentials_with_401(basic_source, authorization):
    headers = {"Authorization": authorization}
    assert basic_source.present(headers)
    with pytest.raises(BadCredential):
        basic_source.identify(headers, "127.0.0.1")


@pytest.mark.parametrize("authorization", [basic("alice", "wonderland"), "basic " + basic("bob", "builder")[6:]])
def test_basic_source_accepts_htpasswd_b_passwords(basic_source, authorization):
    assert basic_source.identify({"Authorization": authorization}, "127.0.0.1").user in ("alice", "bob")


def test_successful_checks_are_cached_until_the_file_changes(htpasswd_file, htpasswd_lines, monkeypatch):
    htpasswd = Htpasswd(htpasswd_file)
    assert htpasswd.check("alice", b"wonderland")
    checks = []
    monkeypatch.setattr("bcrypt.checkpw", lambda *args: checks.append(args) or False)
    assert htpasswd.check("alice", b"wonderland")  # from the cache
    assert not htpasswd.check("alice", b"wonderland2")  # a different password is checked
    assert len(checks) == 1
    with open(htpasswd_file, "w") as file:  # alice removed: her cached check must go too
        file.write(htpasswd_lines[1] + "\n# a comment\n")
    assert not htpasswd.check("alice", b"wonderland")


def test_unknown_users_are_checked_at_the_files_highest_cost(tmp_path, monkeypatch):
    path = tmp_path / "htpasswd"
    path.write_text(htpasswd_line("cheap", "x") + "\n" + subprocess.run(
        ["htpasswd", "-nbB", "-C", "7", "dear", "y"], capture_output=True, text=True, check=True).stdout)
    htpasswd = Htpasswd(str(path))
    costs = []
    monkeypatch.setattr("bcrypt.checkpw", lambda password, hashed: costs.append(hash_cost(hashed)) or False)
    assert not htpasswd.check("nobody", b"guess")
    assert not htpasswd.check("dear", b"guess")
    assert costs == [7, 7]


def test_failed_passwords_are_throttled_per_user_and_per_client_without_bcrypt(htpasswd_file, monkeypatch):
    source = BasicSource(Htpasswd(htpasswd_file), FailureThrottle(3))
    assert source.identify({"Authorization": basic("bob", "builder")}, "10.0.0.9").user == "bob"
    for client in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        with pytest.raises(BadCredential):
            source.identify({"Authorization": basic("alice", "guess")}, client)
    checks = []
    real = bcrypt.checkpw
    monkeypatch.setattr("bcrypt.checkpw", lambda *args: checks.append(args) or real(*args))
    with pytest.raises(TooManyFailures) as refused:  # alice's name, from a fresh client, right password
        source.identify({"Authorization": basic("alice", "wonderland")}, "10.0.0.4")
    assert 0 < refused.value.retry_after <= 60
    for _ in range(3):
        with pytest.raises(BadCredential):
            source.identify({"Authorization": basic("bob", "wrong")}, "10.0.0.5")
    with pytest.raises(TooManyFailures):  # that client, any name
        source.identify({"Authorization": basic("nobody", "x")}, "10.0.0.5")
    # bob signed in before: his remembered password still reads, even from the throttled client
    assert source.identify({"Authorization": basic("bob", "builder")}, "10.0.0.5").user == "bob"
    assert len(checks) == 3


def test_failures_from_one_ipv6_host_count_together_whatever_address_of_its_64_it_uses(htpasswd_file):
    # A host gets a whole /64: counted per address, a guesser could pick a fresh one for every try.
    source = BasicSource(Htpasswd(htpasswd_file), FailureThrottle(3))
    for number in range(1, 4):
        with pytest.raises(BadCredential):
            source.identify({"Authorization": basic(f"guess{number}", "x")}, f"2001:db8:1:2::{number}")
    with pytest.raises(TooManyFailures):
        source.identify({"Authorization": basic("guess4", "x")}, "2001:db8:1:2:ffff::9")
    # Another /64, and IPv4 clients, are counted apart.
    with pytest.raises(BadCredential):
        source.identify({"Authorization": basic("guess5", "x")}, "2001:db8:1:3::1")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("10.0.0.5", "10.0.0.5"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:10.0.0.5", "10.0.0.5"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
        (None, None),
    ],
)
def test_clients_are_counted_by_address_and_ipv6_by_its_64(address, key):
    assert client_key(address) == key


def test_the_throttle_forgets_failures_after_its_window_and_stays_bounded():
    now = [0.0]
    throttle = FailureThrottle(2, window=60, clock=lambda: now[0])
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.retry_after("a", "b") == 60
    now[0] = 59.5
    assert throttle.retry_after("b", "a") == 0.5
    now[0] = 60.0
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    for number in range(MAX_ENTRIES + 5):  # a flood of made-up names must not free the guessed one
        throttle.failed(f"made-up-{number}")
    assert len(throttle.entries) <= MAX_ENTRIES and throttle.retry_after("a") == 60


def test_a_password_file_that_goes_bad_makes_basic_unavailable(htpasswd_file, tmp_path):
    source = BasicSource(Htpasswd(htpasswd_file))
    with open(htpasswd_file, "a") as file:
        file.write("eve:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    with pytest.raises(SourceUnavailable):
        source.identify({"Authorization": basic("alice", "wonderland")}, "127.0.0.1")


@pytest.mark.parametrize(
    "text, message",
    [
        ("alice:$apr1$abc$0123456789012345678901", "line 1 (user 'alice') is not a bcrypt hash"),
        ("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "is not a bcrypt hash"),
        ("alice:plaintext", "is not a bcrypt hash"),
        ("alice:abJnggxhB/yWI", "is not a bcrypt hash"),  # crypt
        ("# only a comment\n", "has no users"),
        ("bob:$2y$04$eTBwnXk9LYqEphz1aT0SP.UOE2EEtarsPa5iLLui5OTWruOWTSnS6\nbob:$2y$04$eTBwnXk9LYqEphz1aT0SP.UOE2EEtarsPa5iLLui5OTWruOWTSnS6", "line 2 repeats the user 'bob'"),
    ],
)
def test_htpasswd_lines_other_than_bcrypt_are_refused(text, message):
    with pytest.raises(HtpasswdError) as error:
        parse_htpasswd(text)
    assert message in str(error.value)


# --- jwt -------------------------------------------------------------------------------


@pytest.fixture
def jwt_source(key_server, signers):
    """Build a generic jwt source whose keys come from the JWKS served on 127.0.0.1 (k1 RSA, ec1 EC)."""
    key_server.jwks = {"keys": [signers["k1"].jwk(), signers["ec"].jwk()]}
    key_server.pems = {"ec1": signers["ec"].public_pem}

    def build(**overrides):
        settings = {
            "header": "Authorization",
            "keys": KeySet(key_server.url + "/jwks.json"),
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "algorithms": ["RS256", "ES256"],
            "user_claim": "email",
            "groups_claim": "groups",
        }
        settings.update(overrides)
        return JwtSource(**settings)

    return build


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_jwt_source_accepts_a_good_token(jwt_source, signers):
    identity = jwt_source().identify(bearer(signers["k1"].token()), "1.2.3.4")
    assert identity == Identity("alice@corp.example", "alice@corp.example", frozenset({"team-payments"}), user_as_email=False)
    assert jwt_source().identify(bearer(signers["ec"].token(groups="a,b")), "").groups == {"a", "b"}


def unsigned(payload):
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"k1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{header}.{body}."


def hs256_with_public_key(signer, payload):
    # The classic confusion attack: the RSA public key (which anyone may fetch) used as an HMAC secret.
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT","kid":"k1"}')
    body = jwt.utils.base64url_encode(json.dumps(payload).encode())
    signature = hmac.new(signer.public_pem, header + b"." + body, hashlib.sha256).digest()
    return (header + b"." + body + b"." + jwt.utils.base64url_encode(signature)).decode()


def good_claims():
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300, "email": "alice@corp.example"}


BAD_TOKENS = {
    "alg none": lambda s: unsigned(good_claims()),
    "HS256 signed with the public key": lambda s: hs256_with_public_key(s["k1"], good_claims()),
    "wrong issuer": lambda s: s["k1"].token(iss="https://evil.example"),
    "wrong audience": lambda s: s["k1"].token(aud="other-app"),
    "no audience": lambda s: s["k1"].token(aud=None),
    "no expiry": lambda s: s["k1"].token(exp=None),
    "expired beyond the leeway": lambda s: s["k1"].token(exp=int(time.time()) - 120),
    "future nbf": lambda s: s["k1"].token(nbf=int(time.time()) + 3600),
    "unknown kid": lambda s: s["k2"].token(),
    "right kid, wrong key": lambda s: s["rogue"].token(),
    "RS256 kid, ES256 token": lambda s: s["ec"].token(headers={"kid": "k1"}),
    "jku pointing elsewhere": lambda s: s["k2"].token(headers={"kid": "k2", "jku": "http://127.0.0.1:9/jwks.json"}),
    "embedded jwk": lambda s: s["k2"].token(headers={"kid": "k2", "jwk": s["k2"].jwk()}),
    "no user claim": lambda s: s["k1"].token(email=None),
    "not a JWT": lambda s: "garbage",
    "tampered payload": lambda s: s["k1"].token().replace(".", ".e", 1),
}


@pytest.mark.parametrize("name", BAD_TOKENS)
def test_jwt_source_refuses_bad_tokens_with_401(jwt_source, key_server, signers, name):
    with pytest.raises(BadCredential):
        jwt_source().identify(bearer(BAD_TOKENS[name](signers)), "")
    assert all(path == "/jwks.json" for path in key_server.fetches), "keys come from the configured URL only"


def test_a_token_expired_within_the_leeway_still_counts(jwt_source, signers):
    assert jwt_source().identify(bearer(signers["k1"].token(exp=int(time.time()) - 5)), "")


def test_a_rotated_key_is_accepted_after_one_refetch(jwt_source, key_server, signers):
    source = jwt_source()
    assert source.identify(bearer(signers["k1"].token()), "")
    key_server.jwks = {"keys": [signers["k2"].jwk()]}
    assert source.identify(bearer(signers["k2"].token()), "").user == "alice@corp.example"
    assert key_server.fetches == ["/jwks.json", "/jwks.json"]


def test_unreachable_keys_make_jwt_unavailable(jwt_source, key_server, signers):
    source = jwt_source()
    key_server.stop()
    with pytest.raises(SourceUnavailable):
        source.identify(bearer(signers["k1"].token()), "")


ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/docs/1"


@pytest.mark.parametrize(
    "signer_arn, client, ok",
    [
        (ALB_ARN, "client-1", True),
        ("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/other/2", "client-1", False),
        (ALB_ARN, "client-2", False),
        (None, "client-1", False),
    ],
)
def test_alb_tokens_must_name_our_load_balancer_and_client(jwt_source, key_server, signers, signer_arn, client, ok):
    headers = {"client": client, **({"signer": signer_arn} if signer_arn else {})}
    token = signers["ec"].token(aud=None, headers=headers)
    source = jwt_source(
        header="X-Amzn-Oidc-Data", keys=PemKeys(key_server.url + "/alb"), algorithms=["ES256"], audience="client-1", alb_arn=ALB_ARN, groups_claim=""
    )
    if ok:
        assert source.identify({"X-Amzn-Oidc-Data": token}, "").user == "alice@corp.example"
    else:
        with pytest.raises(BadCredential):
            source.identify({"X-Amzn-Oidc-Data": token}, "")


# --- which source decides ----------------------------------------------------------------------


def test_the_first_present_source_decides_and_never_falls_back(jwt_source, signers, basic_source):
    sources = [jwt_source(), basic_source]
    assert identify(sources, {}, "") is None
    assert identify(sources, {"Authorization": basic("bob", "builder")}, "").user == "bob"
    assert identify(sources, bearer(signers["k1"].token()), "").user == "alice@corp.example"
    with pytest.raises(BadCredential):
        identify(sources, bearer("garbage"), "")
    with pytest.raises(BadCredential):
        identify(sources, {"Authorization": "Digest username=alice"}, "")


def test_a_verified_token_is_remembered_briefly_but_never_past_its_expiry(jwt_source, signers, monkeypatch):
    source = jwt_source()
    decodes = []
    real_decode = jwt.decode
    monkeypatch.setattr("jwt.decode", lambda *a, **k: decodes.append(1) or real_decode(*a, **k))
    now = time.time()
    token = signers["k1"].token(exp=int(now) + 20)
    for _ in range(3):
        assert source.identify(bearer(token), "").user == "alice@corp.example"
    assert len(decodes) == 1
    # The cache's clock past the token's exp: it must be checked again (PyJWT keeps its own clock).
    monkeypatch.setattr("app.access.sources.time.time", lambda: now + 25)
    source.identify(bearer(token), "")
    assert len(decodes) == 2, "a token past its exp is checked again, not served from the cache"
