"""Signing keys from a key server on 127.0.0.1: cached, refetched once for an unknown kid, never from the token."""

import pytest

from app.access.keys import KeySet, KeysUnavailable, PemKeys, UnknownKey

from tests.servers import free_port


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_keys_are_fetched_once_and_cached(key_server, signers):
    key_server.jwks = {"keys": [signers["k1"].jwk(), signers["k2"].jwk()]}
    clock = Clock()
    keys = KeySet(key_server.url + "/jwks.json", clock)
    assert keys.get("k1").key_id == "k1"
    assert keys.get("k2").key_id == "k2"
    assert len(key_server.fetches) == 1
    clock.now += 301  # past the cache lifetime
    keys.get("k1")
    assert len(key_server.fetches) == 2


def test_a_rotated_key_is_found_with_one_refetch_and_unknown_ones_are_rate_limited(key_server, signers):
    key_server.jwks = {"keys": [signers["k1"].jwk()]}
    clock = Clock()
    keys = KeySet(key_server.url + "/jwks.json", clock)
    keys.get("k1")
    key_server.jwks = {"keys": [signers["k2"].jwk()]}  # the identity provider rotated
    assert keys.get("k2").key_id == "k2"
    assert len(key_server.fetches) == 2
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        with pytest.raises(UnknownKey):
            keys.get(kid)
    assert len(key_server.fetches) == 2, "made-up kids must not each cost a fetch"
    clock.now += 11
    with pytest.raises(UnknownKey):
        keys.get("made-up-4")
    assert len(key_server.fetches) == 3


def test_symmetric_and_encryption_keys_in_the_jwks_are_ignored(key_server, signers):
    key_server.jwks = {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, {**signers["k2"].jwk(), "use": "enc"}, signers["k1"].jwk()]}
    keys = KeySet(key_server.url + "/jwks.json", Clock())
    assert keys.get("k1")
    for kid in ("h", "k2"):
        with pytest.raises(UnknownKey):
            keys.get(kid)


@pytest.mark.parametrize("jwks", [{"nokeys": []}, {"keys": "x"}, {"keys": []}, {"keys": [{"kty": "oct", "k": "eA"}]}])
def test_a_key_url_without_usable_keys_is_unavailable(key_server, jwks):
    key_server.jwks = jwks
    with pytest.raises(KeysUnavailable):
        KeySet(key_server.url + "/jwks.json", Clock()).get("k1")


def test_an_unreachable_key_url_is_unavailable():
    with pytest.raises(KeysUnavailable, match="could not be fetched"):
        KeySet(f"http://127.0.0.1:{free_port()}/jwks.json").get("k1")


def test_a_key_url_answering_an_error_is_unavailable(key_server):
    with pytest.raises(KeysUnavailable, match="answered 404"):
        KeySet(key_server.url + "/missing.json").get("k1")


def test_alb_keys_are_fetched_per_kid_from_the_configured_url_only(key_server, signers):
    key_server.pems = {"ec1": signers["ec"].public_pem}
    clock = Clock()
    keys = PemKeys(key_server.url + "/alb/", clock)
    assert keys.get("ec1").public_numbers() == signers["ec"].private.public_key().public_numbers()
    keys.get("ec1")
    assert key_server.fetches == ["/alb/ec1"]
    for kid in ("missing", "../jwks.json", "a/b", "", None, "made-up-1", "made-up-2"):
        with pytest.raises(UnknownKey):
            keys.get(kid)
    assert key_server.fetches == ["/alb/ec1", "/alb/missing"], "made-up kids right after a miss cost no fetch"
    clock.now += 2
    with pytest.raises(UnknownKey):
        keys.get("made-up-3")
    assert key_server.fetches[-1] == "/alb/made-up-3"
