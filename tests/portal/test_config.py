"""The portal's setting: a bad value stops start-up with a message naming the variable."""

import pytest

import config
from app.settings import app_settings, default_settings


@pytest.mark.parametrize("raw, value", [("0", 0.0), ("2.5", 2.5), ("10", 10.0)])
def test_the_index_ttl_is_read_from_the_environment(raw, value):
    assert config.from_environ({"DOCS_PORTAL_TTL": raw}, app_settings())["DOCS_PORTAL_TTL"] == value


@pytest.mark.parametrize("raw", ["11", "-1", "soon"])
def test_an_index_ttl_outside_0_to_10_seconds_is_refused(raw):
    with pytest.raises(config.ConfigError, match="DOCS_PORTAL_TTL"):
        config.from_environ({"DOCS_PORTAL_TTL": raw}, app_settings())


def test_the_default_ttl_is_ten_seconds():
    assert default_settings()["DOCS_PORTAL_TTL"] == 10.0
