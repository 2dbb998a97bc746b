"""The hub in headless Chromium, on real sites: Sphinx with alabaster and furo, MkDocs with its default
theme and Material, and a plain HTML site. Each is built from ``tests/sites/`` (the plain one here),
published in versions 1.0 and 2.0 with ``flask docs publish --hub`` and served by gunicorn against
moto's server.

On the old version the banner leads to the same page in the default version, the menu lists the
versions and switches, ``/`` opens search and a result lands on its heading, and nothing of the page
moves: every element's box is compared with the same page as S3 holds it (the hub off).

Set ``DOCS_SCREENSHOT_DIR`` to also write screenshots there; that is how ``docs/images/hub-*.png``
were made.
"""

import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from app import create_app
from app.portal.index import update_index

from tests.servers import FAKE_CREDENTIALS, ROOT, TIMEOUT_MS, Gunicorn, s3_client

pytestmark = pytest.mark.browser

BUCKET = "hub-browser"
SOURCES = ROOT / "tests" / "sites"
VERSIONS = ("1.0", "2.0")
SEARCH_WORD = "tesseract"  # on the usage page only, in every site


@dataclass(frozen=True)
class HubSite:
    """One published site: its project name, a page to read and the usage page search should land on."""

    project: str
    page: str
    usage: str
    build: tuple  # the command, with {out} for the output folder


SPHINX = [sys.executable, "-m", "sphinx", "-q", "-b", "html", "-d", "{work}/doctrees-{theme}", str(SOURCES / "sphinx"),
          "{out}"]
MKDOCS = [sys.executable, "-m", "mkdocs", "build", "-q", "--strict", "-f", "{config}", "-d", "{out}"]

SITES = [
    HubSite("alabaster", "guide/install.html", "guide/usage.html", tuple(SPHINX + ["-D", "html_theme=alabaster"])),
    HubSite("furo", "guide/install.html", "guide/usage.html", tuple(SPHINX + ["-D", "html_theme=furo"])),
    HubSite("mkdocs", "guide/install/", "guide/usage/",
            tuple(item.replace("{config}", str(SOURCES / "mkdocs" / "mkdocs.yml")) for item in MKDOCS)),
    HubSite("material", "guide/install/", "guide/usage/",
            tuple(item.replace("{config}", str(SOURCES / "material" / "mkdocs.yml")) for item in MKDOCS)),
    HubSite("plain", "guide/install.html", "guide/usage.html", ()),
]
IDS = [site.project for site in SITES]

PLAIN_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ font: 16px/1.5 serif; margin: 2em auto; max-width: 40em }} footer {{ border-top: 1px solid #999 }}</style>
</head><body><header><a href="{root}index.html">Plain Docs</a></header><main>
<h1 id="top">{title}</h1>{body}</main><footer><p>Plain footer, the last thing on the page.</p></footer></body></html>
"""


def write_plain_site(out):
    """Write a hand-made HTML site (a Javadoc-like tree of plain pages, one without a <head> tag)."""
    pages = {
        "index.html": ("Plain Docs", "<p>Start with the <a href='guide/install.html'>install guide</a>.</p>"),
        "guide/install.html": ("Install", "<p>Install the tool.</p>" * 40 + "<h2 id='verify'>Verify</h2><p>Run it.</p>"),
        "guide/usage.html": ("Usage", "<p>Nothing here yet.</p>" * 20 + "<h2 id='tesseract'>Tesseract</h2>"
                                      f"<p>The word {SEARCH_WORD} appears only on this page.</p>"),
    }
    for name, (title, body) in pages.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        root = "../" * name.count("/")
        path.write_text(PLAIN_PAGE.format(title=title, body=body, root=root))
    (out / "headless.html").write_text("<!DOCTYPE html><title>No head tag</title><h1>Headless</h1><p>Still served.</p>")
    (out / "opted-out.html").write_text(
        '<!DOCTYPE html><html><head><meta name="docs-hub" content="off"><title>Opted out</title></head>'
        "<body><h1>Opted out</h1></body></html>")
    (out / "framed.html").write_text(
        "<!DOCTYPE html><html><head><title>Framed</title></head><body><h1>Frame</h1>"
        '<iframe id="inner" src="guide/install.html" width="600" height="300"></iframe></body></html>')
    (out / "placed.html").write_text(
        "<!DOCTYPE html><html><head><title>Placed</title></head><body><h1>Placed</h1>"
        "<div data-docs-hub-placement></div><p>After the hub.</p></body></html>")


def build(site, out, work):
    """Build ``site`` into ``out``."""
    if not site.build:
        write_plain_site(out)
        return
    theme = site.project
    command = [item.replace("{out}", str(out)).replace("{work}", str(work)).replace("{theme}", theme)
               for item in site.build]
    subprocess.run(command, check=True, timeout=180, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory, moto_server):
    """gunicorn serving every site in versions 1.0 and 2.0 with the hub on."""
    work = tmp_path_factory.mktemp("hub-sites")
    s3 = s3_client(moto_server)
    s3.create_bucket(Bucket=BUCKET)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        app = create_app({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": moto_server, "S3_REGION": "us-east-1",
                          "S3_ADDRESSING_STYLE": "path"})
        runner = app.test_cli_runner()
        for site in SITES:
            out = work / site.project
            build(site, out, work)
            for version in VERSIONS:
                result = runner.invoke(args=["docs", "publish", str(out), "--project", site.project, "--version",
                                             version, "--hub", "--owner", "Docs Team", "--contact",
                                             "docs@corp.example", "--repo", f"https://git.corp.example/{site.project}"])
                assert result.exit_code == 0, result.output
        # The plain site again: every kind of notice, and a portal entry written to break out of the page.
        for version in ("1.0", "2.0", "3.0rc1", "main", "0.9"):
            result = runner.invoke(args=["docs", "publish", str(work / "plain"), "--project", "notices", "--version",
                                         version, "--hub", "--owner", "<img src=x onerror=alert(1)>",
                                         "--contact", "https://chat.corp.example/docs"])
            assert result.exit_code == 0, result.output
        assert runner.invoke(args=["docs", "hide", "notices", "0.9"]).exit_code == 0
        # publish refuses a repo that is no http(s) URL; an index written by hand (or before that check) may hold one.
        update_index(s3, BUCKET, "", lambda document: document["projects"]["notices"].update(repo="javascript:alert(1)"))
    server = Gunicorn({"S3_BUCKET": BUCKET, "S3_ENDPOINT_URL": moto_server, "S3_ADDRESSING_STYLE": "path",
                       "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "8"}, log_path=work / "gunicorn.log")
    yield server
    server.stop()


@pytest.fixture
def tab(browser, hub_server):
    """A fresh page that records failed requests, 4xx/5xx answers and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, service_workers="block")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    page.on("requestfailed", lambda request: page.problems.append(f"failed {request.url}: {request.failure}"))
    page.on("response", lambda response: response.status >= 400 and page.problems.append(
        f"{response.status} {response.url}"))
    page.on("console", lambda message: message.type == "error" and page.problems.append(f"console: {message.text}"))
    yield page
    context.close()


def screenshot(page, name):
    """Save a screenshot into ``DOCS_SCREENSHOT_DIR`` when it is set."""
    target = os.environ.get("DOCS_SCREENSHOT_DIR")
    if target:
        page.screenshot(path=os.path.join(target, name))


def settle(page):
    """Wait until the page's own requests are done, before a click that leaves it.

    Leaving a page cancels what it still fetches (MkDocs' search worker loads ``search_index.json`` after the
    page), and Chromium reports each as a failed request that is no fault of the server.
    """
    page.wait_for_load_state("networkidle")


def url(server, site, version, page=None):
    return f"{server.url}/docs/{site.project}/{version}/{site.page if page is None else page}"


@pytest.mark.parametrize("site", SITES, ids=IDS)
def test_on_an_old_version_the_banner_leads_to_the_same_page_in_the_default_one(tab, hub_server, site):
    tab.goto(url(hub_server, site, "1.0"))
    banner = tab.locator('[data-docs-hub="banner"]')
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("You are reading 1.0")
    expect(banner).to_contain_text("The stable version is 2.0")
    screenshot(tab, f"hub-{site.project}.png")
    settle(tab)

    banner.get_by_role("link", name="2.0").click()

    tab.wait_for_url(url(hub_server, site, "2.0"))
    expect(tab.locator("h1").first).to_contain_text("Install")
    expect(tab.locator('[data-docs-hub="root"]')).to_be_visible()
    expect(tab.locator('[data-docs-hub="banner"]')).to_have_count(0)  # the default version has no banner
    assert tab.problems == []


@pytest.mark.parametrize("site", SITES, ids=IDS)
def test_the_menu_lists_the_versions_and_switches_to_the_same_page(tab, hub_server, site):
    tab.goto(url(hub_server, site, "2.0"))
    menu = tab.locator('[data-docs-hub="menu"]')
    button = menu.locator("button[aria-haspopup]")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(menu.locator("a").first).to_be_hidden()

    menu.click()

    expect(menu.locator("a").first).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    assert [text.strip() for text in menu.locator("a").all_inner_texts()] == ["2.0 (latest, stable)", "1.0"]
    expect(menu.locator("a[aria-current=page]")).to_have_text("2.0 (latest, stable)")
    settle(tab)
    menu.get_by_role("link", name="1.0").click()
    tab.wait_for_url(url(hub_server, site, "1.0"))
    expect(tab.locator("h1").first).to_contain_text("Install")
    assert tab.problems == []


@pytest.mark.parametrize("site", SITES, ids=IDS)
def test_slash_opens_search_and_a_result_lands_on_its_heading(tab, hub_server, site):
    tab.goto(url(hub_server, site, "1.0"))
    expect(tab.locator('[data-docs-hub="root"]')).to_be_visible()
    expect(tab.locator('[data-docs-hub="search"]')).to_have_count(0)

    tab.keyboard.press("/")

    search = tab.locator('[data-docs-hub="search"]')
    expect(search).to_be_focused()
    search.press_sequentially(SEARCH_WORD, delay=20)
    first = tab.locator("#docs-hub-results [role=option]").first
    expect(first).to_have_attribute("aria-selected", "true")
    screenshot(tab, f"hub-search-{site.project}.png")
    settle(tab)
    search.press("Enter")

    tab.wait_for_url(f"{url(hub_server, site, '1.0', site.usage)}#*")  # the version being read, at an anchor
    anchor = tab.evaluate("decodeURIComponent(location.hash.slice(1))")
    heading = tab.locator(f"[id='{anchor}']")
    expect(heading).to_be_in_viewport()
    expect(tab.locator("body")).to_contain_text(SEARCH_WORD)
    assert tab.problems == []


# Every element's box (document coordinates), skipping the hub's own; the hub off is S3's bytes of the
# same page, served to the browser in place of the page with the block.
BOXES_JS = """
() => Array.from(document.body.querySelectorAll('*'))
  .filter((element) => !element.closest('[data-docs-hub], .docs-hub-backdrop'))
  .slice(0, 400)
  .map((element) => {
    const box = element.getBoundingClientRect();
    return [element.tagName, Math.round(box.x + scrollX), Math.round(box.y + scrollY), Math.round(box.width),
            Math.round(box.height)];
  })
"""


@pytest.mark.parametrize("site", SITES, ids=IDS)
def test_the_hub_moves_nothing_of_the_page_and_covers_nothing_at_its_end(browser, hub_server, moto_server, site):
    key = f"{site.project}/1.0/{site.page}" + ("index.html" if site.page.endswith("/") else "")
    original = s3_client(moto_server).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    boxes = {}
    for hub in (False, True):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, service_workers="block")
        page = context.new_page()
        if not hub:
            # The page as it is with the hub off: S3's own bytes.
            page.route(url(hub_server, site, "1.0"),
                       lambda route: route.fulfill(status=200, body=original, content_type="text/html; charset=utf-8"))
        page.goto(url(hub_server, site, "1.0"))
        # Themes change their own layout once their scripts have fetched (Material's outdated banner).
        page.wait_for_load_state("networkidle")
        if hub:
            expect(page.locator('[data-docs-hub="root"]')).to_be_visible()
            page.evaluate("document.fonts.ready")
            page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            page.wait_for_timeout(100)
            bar_top = page.evaluate("document.querySelector('[data-docs-hub=root]').getBoundingClientRect().top")
            content_bottom = page.evaluate("""() => Math.max(...Array.from(document.body.querySelectorAll('*'))
              .filter((e) => !e.closest('[data-docs-hub]') && getComputedStyle(e).position !== 'fixed'
                             && !e.closest('[style*=fixed]') && e.getBoundingClientRect().height > 0)
              .map((e) => e.getBoundingClientRect().bottom))""")
            assert content_bottom <= bar_top + 1, "the end of the page stays above the bar"
            page.evaluate("window.scrollTo(0, 0)")
        else:
            page.evaluate("document.fonts.ready")
        page.wait_for_timeout(200)
        boxes[hub] = page.evaluate(BOXES_JS)
        context.close()

    assert len(boxes[True]) > 10
    moved = [(off, on) for off, on in zip(boxes[False], boxes[True]) if off != on]
    assert moved == [], moved[:5]


def test_a_page_without_a_head_tag_gets_the_hub_too(tab, hub_server):
    tab.goto(f"{hub_server.url}/docs/plain/1.0/headless.html")

    expect(tab.locator('[data-docs-hub="root"]')).to_be_visible()
    expect(tab.locator("h1")).to_have_text("Headless")
    assert tab.evaluate("document.compatMode") == "CSS1Compat"  # the block did not push the page into quirks mode


def test_a_page_that_opts_out_gets_no_hub(tab, hub_server):
    tab.goto(f"{hub_server.url}/docs/plain/1.0/opted-out.html")
    tab.wait_for_load_state("networkidle")

    expect(tab.locator("h1")).to_have_text("Opted out")
    expect(tab.locator("[data-docs-hub]")).to_have_count(0)


def test_the_hub_does_not_run_inside_a_frame(tab, hub_server):
    tab.goto(f"{hub_server.url}/docs/plain/1.0/framed.html")
    expect(tab.locator('[data-docs-hub="root"]')).to_have_count(1)
    frame = tab.frame_locator("#inner")
    expect(frame.locator("h1")).to_have_text("Install")
    tab.wait_for_load_state("networkidle")

    expect(frame.locator("[data-docs-hub]")).to_have_count(0)


def test_a_page_can_place_the_hub_in_its_own_element(tab, hub_server):
    tab.goto(f"{hub_server.url}/docs/plain/1.0/placed.html")

    placed = tab.locator("[data-docs-hub-placement] [data-docs-hub=root]")
    expect(placed).to_be_visible()
    assert placed.evaluate("element => getComputedStyle(element).position") == "static"


def test_keyboard_only_ctrl_k_arrows_and_escape(tab, hub_server):
    site = SITES[0]
    tab.goto(url(hub_server, site, "1.0"))
    expect(tab.locator('[data-docs-hub="root"]')).to_be_visible()

    tab.keyboard.press("Control+k")
    search = tab.locator('[data-docs-hub="search"]')
    expect(search).to_be_focused()
    search.press_sequentially("install", delay=20)
    options = tab.locator("#docs-hub-results [role=option]")
    expect(options.first).to_have_attribute("aria-selected", "true")
    if options.count() > 1:
        search.press("ArrowDown")
        expect(options.nth(1)).to_have_attribute("aria-selected", "true")
        assert search.get_attribute("aria-activedescendant") == options.nth(1).get_attribute("id")
    search.press("Escape")

    expect(tab.locator('[data-docs-hub="search"]')).to_have_count(0)
    assert tab.url == url(hub_server, site, "1.0")


def test_all_projects_switch_searches_every_project(tab, hub_server):
    tab.goto(url(hub_server, SITES[0], "1.0"))
    expect(tab.locator('[data-docs-hub="root"]')).to_be_visible()
    tab.get_by_role("button", name="Search").click()

    tab.get_by_label("All projects").check()
    tab.locator('[data-docs-hub="search"]').press_sequentially(SEARCH_WORD, delay=20)

    results = tab.locator("#docs-hub-results [role=option]")
    expect(results.first).to_be_visible()
    projects = {text.split(" ")[0] for text in tab.locator("#docs-hub-results .docs-hub-where").all_inner_texts()}
    assert len(projects) > 1


def test_the_hub_follows_a_dark_color_scheme(browser, hub_server):
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    page.goto(url(hub_server, SITES[4], "1.0"))
    root = page.locator('[data-docs-hub="root"]')
    expect(root).to_be_visible()

    assert root.evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(22, 27, 34)"
    context.close()


@pytest.mark.parametrize("version, words", [
    ("1.0", "You are reading 1.0, not the latest documentation. The stable version is 2.0."),
    ("3.0rc1", "You are reading 3.0rc1, a prerelease. The stable version is 2.0."),
    ("main", "You are reading main, a development version. The stable version is 2.0."),
    ("0.9", "You are reading 0.9, a version that is no longer listed. The stable version is 2.0."),
])
def test_each_kind_of_version_gets_its_own_notice(tab, hub_server, version, words):
    tab.goto(f"{hub_server.url}/docs/notices/{version}/guide/install.html")

    expect(tab.locator('[data-docs-hub="banner"]')).to_have_text(words)
    expect(tab.locator('[data-docs-hub="banner"] a')).to_have_attribute("href", "/docs/notices/2.0/guide/install.html")


def test_the_portal_entry_cannot_inject_markup_or_script_links(tab, hub_server):
    dialogs = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.goto(f"{hub_server.url}/docs/notices/2.0/")
    links = tab.locator('[data-docs-hub="links"]')

    expect(links).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text
    expect(links.locator("img")).to_have_count(0)
    expect(links.get_by_role("link", name="Source")).to_have_count(0)  # the javascript: repo in the index is no link
    expect(links.get_by_role("link", name="Contact")).to_have_attribute("href", "https://chat.corp.example/docs")
    tab.wait_for_load_state("networkidle")
    assert dialogs == []
