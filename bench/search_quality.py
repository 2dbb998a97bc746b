"""Search quality: docs-proxy's search against each site's own built-in search, on real generated sites.

    .venv/bin/python bench/search_quality.py [--per-class N] [--sites django,sqlalchemy,...] [--no-peer] [--show-misses]

Sites: Sphinx sites from Debian's -doc packages, as Debian builds and installs them under
/usr/share/doc (``python-django-doc``, ``python-sqlalchemy-doc``, ``sphinx-doc``,
``python-flask-doc``: ``bench/system-deps.sh`` installs them), and a real MkDocs + mkdocstrings site:
the reference of the installed ``click`` package, built into bench/.work/ once.

Ground truth: each site's own inventory (``objects.inv``, read with ``sphinx.util.inventory``):
every documented object's page and anchor, every section label's page and title. Queries, drawn
with a fixed seed, ``--per-class`` of each class per site:

- ``full``: an object's full name (``django.http.HttpRequest.get_host``): is the right page first, in
  the top 5, and is the first hit on the object's own anchor?
- ``member``: a method's or attribute's last two parts (``HttpRequest.get_host``): right page first?
- ``title``: a section title unique in the site: right page first?
- ``typo``: a full name with one letter of its last part replaced: right page in the top 5?

docs-proxy: every page of the site extracted (``app.search.extract``), indexed (``build_index``) and
searched (``SearchIndex.search``) as the app does. The peer: the site's own search, in Debian's
Chromium (headless, Playwright), on the site served by a local HTTP server: Sphinx's
``search.html?q=`` (a fresh page per query) or MkDocs' search box; its first five result links.
Figures go to stdout and bench/results/search-quality.md. ``--show-misses`` also prints, for each
query docs-proxy missed, the page it wanted and the first hits it got.
"""

import argparse
import functools
import http.server
import os
import posixpath
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.search.document import page_entry  # noqa: E402
from app.search.engine import Source, build_index, open_index  # noqa: E402
from app.search.extract import extract_page, is_indexable  # noqa: E402
from app.search.query import parse_query  # noqa: E402
from tests.servers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

WORK = ROOT / "bench" / ".work"
RESULTS = ROOT / "bench" / "results"
SITES = {
    "django": Path("/usr/share/doc/python-django-doc/html"),
    "sqlalchemy": Path("/usr/share/doc/python-sqlalchemy-doc/html"),
    "sphinx": Path("/usr/share/doc/sphinx-doc/html"),
    "flask": Path("/usr/share/doc/python-flask-doc/html"),
    "click-mkdocstrings": WORK / "click-mkdocstrings" / "site",
}
OBJECT_TYPES = {"py:function", "py:method", "py:class", "py:attribute", "py:exception", "py:data", "py:property",
                "py:classmethod", "py:staticmethod", "py:module"}
MEMBER_TYPES = {"py:method", "py:attribute", "py:property", "py:classmethod", "py:staticmethod"}
CLICK_MODULES = ("core", "decorators", "types", "exceptions", "termui", "utils", "formatting", "parser", "testing")


def build_click_site():
    """Build (once) a MkDocs + mkdocstrings reference of the installed click package; return its folder."""
    out = SITES["click-mkdocstrings"]
    if (out / "objects.inv").exists():
        return out
    src = out.parent / "src"
    (src / "docs" / "api").mkdir(parents=True, exist_ok=True)
    nav = "\n".join(f"      - {name}: api/{name}.md" for name in CLICK_MODULES)
    (src / "mkdocs.yml").write_text(
        "site_name: click reference\nuse_directory_urls: true\ntheme:\n  name: mkdocs\n  highlightjs: false\n"
        "plugins:\n  - search\n  - mkdocstrings:\n      handlers:\n        python:\n          options:\n"
        "            docstring_style: sphinx\n            show_root_heading: true\n            show_source: false\n"
        f"nav:\n  - Home: index.md\n  - API:\n{nav}\n")
    (src / "docs" / "index.md").write_text("# click reference\n\nThe API of the click package.\n")
    for name in CLICK_MODULES:
        (src / "docs" / "api" / f"{name}.md").write_text(f"# click.{name}\n\n::: click.{name}\n")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(src / "mkdocs.yml"), "-d", str(out)],
                   check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return out


def read_inventory(root):
    """Return ``[(type, name, page, anchor, title)]`` from the site's objects.inv."""
    from sphinx.util.inventory import InventoryFile

    with open(root / "objects.inv", "rb") as file:
        inventory = InventoryFile.load(file, "", posixpath.join)
    entries = []
    for kind, items in inventory.items():
        for name, item in items.items():
            uri, title = (item[2], item[3]) if isinstance(item, tuple) else (item.uri, item.display_name)
            page, _, anchor = uri.partition("#")
            entries.append((kind, name, normal_page(page), unquote(anchor), title))
    return entries


def normal_page(path):
    """Return a page path as both sides can compare it: no index.html, no leading ./ or /."""
    path = path.lstrip("./") if path.startswith("./") else path.lstrip("/")
    return path[: -len("index.html")] if path.endswith("index.html") else path


def make_queries(entries, per_class, seed=21):
    """Return ``{class: [(query, page, anchor)]}`` drawn from the inventory with a fixed seed."""
    rng = random.Random(seed)
    # Objects documented under their own name: an inventory's aliases (an inherited member listed
    # under the subclass, a class under its defining module) point at another object's anchor.
    own = lambda name, anchor: anchor.endswith(".".join(name.split(".")[-2:]))  # noqa: E731
    objects = sorted({(name, page, anchor) for kind, name, page, anchor, _ in entries
                      if kind in OBJECT_TYPES and anchor and "." in name and own(name, anchor)})
    members = sorted({(".".join(name.split(".")[-2:]), page, anchor) for kind, name, page, anchor, _ in entries
                      if kind in MEMBER_TYPES and anchor and name.count(".") >= 2 and own(name, anchor)})
    # Page titles (std:doc) and section titles (std:label), on pages that are searched (not genindex,
    # search); a title found on two pages (or twice on one) is ambiguous ground truth: left out.
    titles = {}
    for kind, name, page, anchor, title in entries:
        if kind in ("std:doc", "std:label") and title and title != "-" and len(title) > 3 and is_indexable(
                page + "index.html" if page.endswith("/") or not page else page):
            titles.setdefault(title.casefold(), []).append((title, page))
    unique_titles = sorted((found[0][0], found[0][1], "") for found in titles.values()
                           if len({page for _, page in found}) == 1 and len(found) <= 2)
    # Names that are not unique across pages (re-exports) are ambiguous ground truth: left out.
    by_name = {}
    for name, page, _ in objects:
        by_name.setdefault(name, set()).add(page)
    objects = [item for item in objects if len(by_name[item[0]]) == 1]
    by_member = {}
    for name, page, _ in members:
        by_member.setdefault(name, set()).add(page)
    members = [item for item in members if len(by_member[item[0]]) == 1]
    sample = lambda items: rng.sample(items, min(per_class, len(items)))  # noqa: E731
    full = sample(objects)
    typos = []
    for name, page, anchor in sample(objects):
        head, _, last = name.rpartition(".")
        letters = [index for index, char in enumerate(last) if char.isalpha()]
        if len(last) < 4 or not letters:
            continue
        index = rng.choice(letters[1:] or letters)
        replacement = rng.choice([char for char in "abcdefghijklmnopqrstuvwxyz" if char != last[index].lower()])
        typos.append((f"{head}.{last[:index]}{replacement}{last[index + 1:]}", page, anchor))
    return {"full": full, "member": sample(members), "title": sample(unique_titles), "typo": typos}


# --- docs-proxy --------------------------------------------------------------------------------

def docs_proxy_search(root, workdir):
    """Index every page of the site as publish and the host index do; return ``search(query) -> [(page, anchor)]``."""
    entries = []
    started = time.monotonic()
    for path in sorted(root.rglob("*.htm*")):
        relkey = path.relative_to(root).as_posix()
        if not is_indexable(relkey):
            continue
        page = extract_page(path.read_bytes())
        if page is not None and (page.sections or page.title):
            entries.append(page_entry(relkey, page))
    extracted = time.monotonic() - started
    index_path = os.path.join(workdir, f"{root.parent.name}.sqlite")
    source = Source("site", "1", "site/1/.docs-search.json", "1")
    stats = build_index(index_path, [source], lambda _: entries)
    index = open_index(index_path)

    def search(text):
        results = index.search(parse_query(text), limit=5, timeout=5)
        return [(normal_page(hit.path), hit.anchor) for hit in results.hits]

    return search, {"pages": len(entries), "records": stats.sections, "extract_s": extracted,
                    "build_s": stats.seconds}


# --- the site's own search, in Chromium ----------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the browser leaving a page mid-transfer (a new query) is no error


class SiteServer:
    """The site's folder over HTTP on 127.0.0.1 (symlinks followed: Debian links its JavaScript)."""

    def __init__(self, root):
        handler = functools.partial(QuietHandler, directory=str(root))
        self.httpd = QuietServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def own_search(page, site_url, is_mkdocs):
    """Return ``search(query) -> [(page, anchor)]`` running the site's built-in search in ``page``."""
    if is_mkdocs:
        page.goto(site_url + "index.html")
        page.wait_for_function("() => typeof doSearch === 'function' || document.querySelector('#mkdocs-search-query')")
        time.sleep(1.0)  # the search worker loads search_index.json
    else:
        # Blocked: the per-result summaries (a fetch of each page's source), which only slow the search down.
        page.route("**/_sources/**", lambda route: route.abort())

    def search(text):
        if is_mkdocs:
            page.evaluate("""q => { const box = document.querySelector('#mkdocs-search-query');
                box.value = q; box.dispatchEvent(new KeyboardEvent('keyup')); }""", text)
            time.sleep(0.3)
            links = page.eval_on_selector_all("#mkdocs-search-results a", "links => links.map(a => a.href)")
        else:
            # A fresh search.html?q= per query: a search keeps displaying its results (a timer and a
            # fetch per result) after the next one starts; only a new page stops that. Items show
            # one by one, best first: the first five, or the end of the search, are what a top 5 needs.
            page.goto(site_url + "search.html?" + urlencode({"q": text}))
            try:
                page.wait_for_function(
                    "() => document.querySelectorAll('ul.search li').length >= 5 || "
                    "/finished|did not match/i.test((document.querySelector('p.search-summary') || {}).innerText || '')",
                    timeout=30000)
            except Exception:  # noqa: BLE001 - a search that never finishes counts as what it showed
                pass
            links = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.href)")
        hits = []
        for link in links:
            parts = urlsplit(link)
            path = unquote(parts.path)[len(urlsplit(site_url).path):]
            hit = (normal_page(path), unquote(parts.fragment))
            if hit not in hits:
                hits.append(hit)
            if len(hits) == 5:
                break
        return hits

    return search


# --- scoring -------------------------------------------------------------------------------------

def score(search, queries, misses=None):
    """Return ``{figure: fraction}`` for one search function over the query classes.

    ``misses``, a list, receives ``(class, query, page, anchor, hits)`` for every query whose first
    hit is not the right page (in the top 5 for typos), or not on the object's anchor.
    """
    figures = {}
    timings = []
    for kind, items in queries.items():
        first = top5 = anchored = 0
        for text, page, anchor in items:
            started = time.monotonic()
            hits = search(text)
            timings.append(time.monotonic() - started)
            pages = [hit[0] for hit in hits]
            first += bool(pages) and pages[0] == page
            top5 += page in pages[:5]
            anchored += bool(hits) and hits[0] == (page, anchor)
            wanted = page in pages[:5] if kind == "typo" else (
                bool(hits) and (hits[0] == (page, anchor) if kind == "full" else pages[0] == page))
            if misses is not None and not wanted:
                misses.append((kind, text, page, anchor, hits[:3]))
        count = max(1, len(items))
        if kind == "full":
            figures["full: right page first"] = first / count
            figures["full: in the top 5"] = top5 / count
            figures["full: on the object's anchor"] = anchored / count
        elif kind == "member":
            figures["Class.member: right page first"] = first / count
        elif kind == "title":
            figures["section title: right page first"] = first / count
        elif kind == "typo":
            figures["one-letter typo: in the top 5"] = top5 / count
    timings.sort()
    figures["_p50_ms"] = 1000 * timings[len(timings) // 2] if timings else 0
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--sites", default=",".join(SITES))
    parser.add_argument("--no-peer", action="store_true", help="docs-proxy only (no Chromium)")
    parser.add_argument("--show-misses", action="store_true", help="print every query docs-proxy missed")
    args = parser.parse_args()

    rows = []
    workdir = tempfile.mkdtemp(prefix="search-quality-")
    browser = None
    if not args.no_peer:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    for name in args.sites.split(","):
        root = build_click_site() if name == "click-mkdocstrings" else SITES[name]
        if not (root / "objects.inv").exists():
            print(f"{name}: {root} is missing (bench/system-deps.sh installs the Debian -doc packages)")
            continue
        queries = make_queries(read_inventory(root), args.per_class)
        ours, facts = docs_proxy_search(root, workdir)
        misses = [] if args.show_misses else None
        our_figures = score(ours, queries, misses)
        peer_figures = {}
        if browser is not None:
            server = SiteServer(root)
            page = browser.new_page()
            try:
                peer_figures = score(own_search(page, server.url, name.endswith("mkdocstrings")), queries)
            finally:
                page.close()
                server.stop()
        counts = {kind: len(items) for kind, items in queries.items()}
        print(f"{name}: {facts['pages']} pages, {facts['records']} records, extraction {facts['extract_s']:.1f} s, "
              f"index {facts['build_s']:.1f} s; queries {counts}")
        for figure, value in our_figures.items():
            peer = peer_figures.get(figure)
            print(f"  {figure:36} docs-proxy {value:6.2f}   own search {'' if peer is None else f'{peer:6.2f}'}")
        for kind, text, page, anchor, hits in misses or ():
            print(f"  miss {kind:6} {text!r} wants {page}#{anchor}; got {hits}")
        rows.append((name, facts, counts, our_figures, peer_figures))
    if browser is not None:
        browser.close()
        playwright.stop()
    write_results(rows)


def write_results(rows):
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = ["| site | figure | queries | docs-proxy | the site's own search |", "|---|---|---:|---:|---:|"]
    for name, facts, counts, ours, peer in rows:
        for figure, value in ours.items():
            if figure.startswith("_"):
                continue
            kind = {"full": "full", "Class": "member", "section": "title", "one-letter": "typo"}[
                re.split(r"[ :.]", figure)[0]]
            other = peer.get(figure)
            lines.append(f"| {name} | {figure} | {counts[kind]} | {value:.2f} | {'' if other is None else f'{other:.2f}'} |")
    (RESULTS / "search-quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
