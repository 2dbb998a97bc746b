"""Previews and "what changed" in headless Chromium: the project page marks previews and compares two versions.

Set ``DOCS_SCREENSHOT_DIR`` to also write the pages there; that is how ``docs/images/upload-previews.png``
and ``docs/images/upload-diff.png`` were made.
"""

import os

import pytest
import requests
from playwright.sync_api import expect

from tests.servers import TIMEOUT_MS
from tests.upload.conftest import make_tar, page as html_page

pytestmark = pytest.mark.browser


def screenshot(tab, name):
    """Save a screenshot into ``DOCS_SCREENSHOT_DIR`` when it is set."""
    target = os.environ.get("DOCS_SCREENSHOT_DIR")
    if target:
        tab.screenshot(path=os.path.join(target, name), full_page=True)


def test_a_reader_sees_previews_apart_and_follows_what_changed_into_a_page(browser, site):
    token = site.token(projects=("handbook",), actions=("publish", "preview"))
    old = {"index.html": html_page("Handbook", "Welcome"), "onboarding.html": html_page("Onboarding", "Day one"),
           "expenses.html": html_page("Expenses", "Claims by Friday"), "travel.html": html_page("Travel", "Book early")}
    new = {**old, "expenses.html": html_page("Expenses", "Claims by Thursday"), "remote.html": html_page("Remote work", "Anywhere")}
    del new["travel.html"]
    params = {"title": "Company Handbook", "description": "How we work"}
    assert site.put("handbook", "1.0.0", make_tar(old), token, params=params).status_code == 201
    assert site.put("handbook", "1.1.0", make_tar(new), token, params=params).status_code == 201
    assert site.put("handbook", "pr-214", make_tar(new), token, kind="previews", params={"expires": "14d"}).status_code == 201

    context = browser.new_context(viewport={"width": 1100, "height": 760}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = []
    tab.on("response", lambda response: response.status >= 400 and problems.append(f"{response.status} {response.url}"))
    try:
        tab.goto(f"{site.url}/_/projects/handbook")
        previews = tab.locator("section.previews")
        expect(previews).to_contain_text("pr-214")
        expect(previews.locator(".badge")).to_have_count(2)
        expect(tab.locator("main")).not_to_contain_text("No version")
        screenshot(tab, "upload-previews.png")

        tab.select_option("select[name=from]", "1.0.0")
        tab.select_option("select[name=to]", "1.1.0")
        tab.click("form.compare button[type=submit]")
        tab.wait_for_url("**/_/projects/handbook/diff?from=1.0.0&to=1.1.0")
        expect(tab.locator("section.diff-added")).to_contain_text("remote.html")
        expect(tab.locator("section.diff-changed")).to_contain_text("expenses.html")
        expect(tab.locator("section.diff-removed")).to_contain_text("travel.html")
        screenshot(tab, "upload-diff.png")

        tab.locator("section.diff-changed a", has_text="in 1.1.0").click()
        tab.wait_for_url(f"{site.url}/docs/handbook/1.1.0/expenses.html")
        expect(tab.locator("p")).to_have_text("Claims by Thursday")
        assert problems == []
    finally:
        context.close()


def test_a_preview_with_the_hub_on_shows_its_preview_notice(browser, site):
    token = site.token(projects=("hubbed",), actions=("publish", "preview"))
    pages = {"index.html": html_page("Hubbed", "Home"), "guide.html": html_page("Guide", "Steps")}
    assert site.put("hubbed", "1.0.0", make_tar(pages), token, params={"hub": "1"}).status_code == 201
    preview = site.put("hubbed", "pr-7", make_tar(pages), token, kind="previews", params={"expires": "3d", "hub": "1"})
    assert preview.status_code == 201, preview.text
    context_api = requests.get(f"{site.url}/_/hub/api/hubbed/pr-7", params={"page": "guide.html"}, timeout=10).json()
    assert context_api["version"]["notice"] == "preview"
    assert context_api["version"]["expires"] == preview.json()["expires"]
    assert [entry["name"] for entry in context_api["versions"]][0] == "pr-7"  # shown as the current one only

    context = browser.new_context(viewport={"width": 1100, "height": 700}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    try:
        tab.goto(f"{site.url}/docs/hubbed/pr-7/guide.html")
        banner = tab.locator('[data-docs-hub="banner"]')
        expect(banner).to_contain_text("You are reading pr-7, a preview: a temporary build, deleted after "
                                       + preview.json()["expires"][:10])
        expect(banner).to_have_class("docs-hub-banner docs-hub-preview")
        expect(banner.locator("a")).to_have_attribute("href", "/docs/hubbed/1.0.0/guide.html")
        screenshot(tab, "upload-preview-notice.png")
        tab.goto(f"{site.url}/docs/hubbed/1.0.0/guide.html")
        expect(tab.locator(".docs-hub-button[aria-controls=docs-hub-menu]")).to_have_text("hubbed 1.0.0 ▾")
        expect(tab.locator('[data-docs-hub="banner"]')).to_have_count(0)
    finally:
        context.close()
