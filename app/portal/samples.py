"""Sample projects for ``make run``: a few small sites in several versions, published and listed like real ones.

The pages are generated (headings and real paragraphs, so the portal and search have something to
show); each goes through ``publish_tree`` and the portal index step, the path ``flask docs publish
--project P --version V`` takes.
"""

import hashlib
import tempfile
from html import escape
from pathlib import Path

SAMPLE_PROJECTS = {
    "payments": {
        "meta": {"title": "Payments API", "description": "Charge cards, refund orders and reconcile settlements.",
                 "owner": "Team Money", "contact": "#payments-help", "tags": ["api", "billing"],
                 "repo": "https://git.example.internal/money/payments", "hub": True},
        "versions": ["1.9.0", "1.10.0", "2.0.0", "2.1.0rc1", "main"],
        "pages": {
            "Getting started": "Create an API key in the console, then send a test charge of one cent to the sandbox. "
                               "Every request is idempotent when it carries an Idempotency-Key header.",
            "Refunds": "A refund returns money to the card that paid. Partial refunds are allowed until the "
                       "captured amount is used up; each refund has its own settlement line.",
            "Reconciliation": "Settlements arrive daily as CSV files. Match each line to a charge by its "
                              "reference and flag the differences for the finance team.",
        },
    },
    "ledger": {
        "meta": {"title": "General Ledger", "description": "Double-entry bookkeeping service and its reporting jobs.",
                 "owner": "Finance Platform", "contact": "ledger@example.internal", "tags": ["service", "finance"]},
        "versions": ["3.0", "3.1", "3.2.0-SNAPSHOT"],
        "pages": {
            "Accounts": "Every account belongs to one chart of accounts. Balances are derived from postings "
                        "and never stored directly, so an audit can replay them at any date.",
            "Month-end close": "Closing a period freezes its postings. Corrections after the close are posted "
                               "to the next period with a reference to the original entry.",
        },
    },
    "handbook": {
        "meta": {"title": "Engineering Handbook", "description": "How we build, review, release and run software.",
                 "owner": "Developer Experience", "contact": "#dx", "tags": ["guide"]},
        "versions": ["2025.1", "2026.1"],
        "pages": {
            "Code review": "Every change gets one reviewer who did not write it. Reviews look at behaviour first, "
                           "names second and formatting never: the formatter decides that.",
            "On call": "The on-call engineer owns the pager for one week. Hand over open incidents in writing "
                       "at the Monday meeting.",
        },
    },
}

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &mdash; {project} {version}</title>
<style>body{{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
nav a{{margin-right:1rem}}@media (prefers-color-scheme:dark){{body{{background:#111;color:#eee}}a{{color:#8ab4ff}}}}</style>
</head><body>
<nav><a href="{root}index.html">{project} {version}</a>{links}</nav>
<h1>{title}</h1>
{body}
<p><small>This is version {version} of the {project} documentation.</small></p>
</body></html>
"""


def slug(title):
    """Return a file name for a page title."""
    return title.lower().replace(" ", "-") + ".html"


def write_site(folder, project, spec, version):
    """Write one version of a sample project's site into ``folder``."""
    titles = list(spec["pages"])
    links = "".join(f'<a href="{{root}}guide/{slug(title)}">{escape(title)}</a>' for title in titles)

    def page(path, title, body, root):
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(PAGE.format(title=escape(title), project=escape(spec["meta"]["title"]), version=version,
                                      root=root, links=links.format(root=root), body=body))

    intro = f"<p>{escape(spec['meta']['description'])} This release is {escape(version)}.</p>"
    page("index.html", spec["meta"]["title"], intro + "<h2>Contents</h2><ul>" + "".join(
        f'<li><a href="guide/{slug(title)}">{escape(title)}</a></li>' for title in titles) + "</ul>", "")
    page("guide/index.html", "Guide", "<p>The guide walks through the common tasks one by one.</p>", "../")
    for title, text in spec["pages"].items():
        page(f"guide/{slug(title)}", title, f"<h2>Overview</h2><p>{escape(text)}</p>"
             f"<h2>In version {escape(version)}</h2><p>Nothing here changed in a way that breaks callers.</p>", "../")


def publish_sample_projects(s3, bucket, prefix="", indexers=()):
    """Publish every sample project in each of its versions and list them in the portal index.

    ``indexers`` run as in ``flask docs publish`` (the search step, so the demo is searchable).
    """
    from ..publishing.run import PublishOptions, publish_tree
    from .index import record_version, update_index

    with tempfile.TemporaryDirectory(prefix="docs-samples-") as scratch:
        for project, spec in SAMPLE_PROJECTS.items():
            for version in spec["versions"]:
                folder = Path(scratch) / project / version
                write_site(folder, project, spec, version)
                report = publish_tree(s3, bucket, folder, f"{prefix}{project}/{version}/", PublishOptions(indexers=indexers))
                if not report.ok:
                    raise RuntimeError(f"sample {project} {version} not published: {report.failed}")
                files = report.plan.uploads + report.plan.unchanged
                metadata = {**spec["meta"], "commit": hashlib.sha1(f"{project} {version}".encode()).hexdigest()}
                update_index(s3, bucket, prefix, record_version(
                    project, version, metadata, {"size": sum(f.size for f in files), "files": len(files)}))
