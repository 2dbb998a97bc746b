"""Search's settings: bad values stop start-up with a message naming the variable."""

import pytest

import config
from app.settings import app_settings


@pytest.mark.parametrize(("name", "raw"), [
    ("DOCS_SEARCH_QUERY_MAX_CHARS", "5"),
    ("DOCS_SEARCH_QUERY_MAX_TERMS", "0"),
    ("DOCS_SEARCH_TIMEOUT", "fast"),
    ("DOCS_SEARCH_BUILD_WAIT", "-1"),
    ("DOCS_SEARCH_PER_PAGE", "1000"),
    ("DOCS_SEARCH_PROJECT_INDEXES", "many"),
    ("DOCS_SEARCH_PUBLISH", "yes"),
])
def test_a_bad_search_setting_is_refused_naming_the_variable(name, raw):
    with pytest.raises(config.ConfigError, match=name):
        config.from_environ({name: raw}, app_settings())


def test_search_settings_are_read_from_the_environment():
    settings = config.from_environ({"DOCS_SEARCH_TIMEOUT": "0.25", "DOCS_SEARCH_PUBLISH": "off"}, app_settings())

    assert settings["DOCS_SEARCH_TIMEOUT"] == 0.25
    assert settings["DOCS_SEARCH_PUBLISH"] == "off"


def test_publish_writes_no_search_document_when_search_publishing_is_off(s3, tmp_path):
    from app import create_app
    from tests.conftest import BUCKET
    from tests.search.conftest import write_site

    app = create_app({"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_SEARCH_PUBLISH": "off"})
    site = write_site(tmp_path / "site", {"index.html": ("A", [])})

    result = app.test_cli_runner().invoke(args=["docs", "publish", str(site), "--prefix", "a/1/"])

    assert result.exit_code == 0, result.output
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert "a/1/.docs-search.json" not in keys and "a/1/index.html" in keys
