"""Fixtures for the search tests: the real Sphinx and MkDocs sites, built once per session."""

import pytest

from tests.conftest import BUCKET

import os
import subprocess
import sys

from tests.browser.test_browser import build_mkdocs, build_sphinx
from tests.servers import ROOT


@pytest.fixture(scope="session")
def built_sites(real_server, tmp_path_factory):
    """``{"sphinx": dir, "mkdocs": dir, "material": dir}``: tests/sites/ built as the browser tests build them."""
    work = tmp_path_factory.mktemp("search-sites")
    sites = {}
    for name, build in (("sphinx", build_sphinx), ("mkdocs", build_mkdocs), ("material", build_material)):
        sites[name] = work / name
        build(sites[name], work)
    return sites


def build_material(out_dir, work_dir):
    """Build the Material for MkDocs site (tests/sites/material, the portal's browser tests' site)."""
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "--strict", "-f",
         str(ROOT / "tests" / "sites" / "material" / "mkdocs.yml"), "-d", str(out_dir)],
        check=True, timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture
def app_config():
    """The test configuration, with the portal index re-read on every request and a short first-build wait."""
    return {"S3_BUCKET": BUCKET, "S3_REGION": "us-east-1", "DOCS_PORTAL_TTL": 0.0, "DOCS_SEARCH_BUILD_WAIT": 10.0}


@pytest.fixture
def publish(app):
    """Publish a folder as ``project``/``version`` with ``flask docs publish``, the command users run."""
    runner = app.test_cli_runner()

    def publish(source, project, version, *args):
        result = runner.invoke(args=["docs", "publish", str(source), "--project", project, "--version", version, *args])
        assert result.exit_code == 0, result.output
        return result

    return publish


def write_site(root, pages):
    """Write a tiny site: ``pages`` maps relative paths to (title, [(anchor, heading, text)])."""
    for path, (title, sections) in pages.items():
        body = "".join(
            f"<section id='{anchor}'><h2>{heading}</h2><p>{text}</p></section>" if heading else f"<p>{text}</p>"
            for anchor, heading, text in sections
        )
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            f"<!doctype html><html><head><title>{title} - Site</title></head><body><nav>Menu Home</nav>"
            f"<main><h1 id='top'>{title}</h1>{body}</main></body></html>"
        )
    return root
