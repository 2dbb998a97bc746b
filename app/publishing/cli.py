"""The ``flask docs`` command group."""

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from config import ConfigError

from .. import require_configuration
from . import get_indexers
from .policy import BadPrefix, normalise_prefix, suggest_redirects
from .progress import progress_for_terminal
from .run import EmptySource, PublishError, PublishOptions, format_bytes, publish_tree
from ..s3 import create_client, get_s3

docs_cli = AppGroup("docs", help="Manage the docs in the bucket.")

MAX_LISTED_FAILURES = 50


def init_app(app):
    """Register the ``docs`` command group on ``app``."""
    app.cli.add_command(docs_cli)


@docs_cli.command("publish")
@click.argument("source_dir", type=click.Path(exists=True, file_okay=False, readable=True))
@click.option("--prefix", default="", help="Folder in the bucket, below S3_PREFIX, such as project/1.0/.")
@click.option("--delete", is_flag=True, help="Delete objects under the prefix that are not in SOURCE_DIR (last, and only if every upload succeeded).")
@click.option("--dry-run", is_flag=True, help="Print what would be uploaded and deleted; change nothing.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Parallel uploads [default: DOCS_PUBLISH_JOBS].")
@click.option("--include-hidden", is_flag=True, help="Also publish files and folders whose names start with '.'.")
@click.option("--project", help="Project name: publishes to PROJECT/VERSION/ and lists it in the portal.")
@click.option("--version", "version", help="Version name, such as 2.4.0 (with --project).")
@click.option("--title", help="Project title shown in the portal.")
@click.option("--description", help="One-line project description shown in the portal.")
@click.option("--owner", help="Owning team or person.")
@click.option("--contact", help="Where to ask questions (e-mail, chat channel).")
@click.option("--repo", help="Source repository URL.")
@click.option("--tag", "tags", multiple=True, help="Tag shown in the portal (repeatable).")
@click.option("--commit", help="Commit the docs were built from.")
@click.option("--hidden", is_flag=True, help="Publish the version hidden: served, but listed nowhere.")
@click.option("--hub", is_flag=True, help="Turn the hub on for the project: version menu, banner and search in its pages.")
@click.option("--preview", help="Publish a preview NAME of --project (e.g. pr-123) instead of a version: unlisted, deleted by `flask docs gc` once expired.")
@click.option("--expires", help="How long a --preview lives: 14d, 12h, 30m, 60s [default: 14d].")
def publish_command(source_dir, prefix, delete, dry_run, jobs, include_hidden, project, version, preview, expires, **metadata):
    """Upload a built docs folder SOURCE_DIR to the bucket: right types and cache headers, changed files only."""
    try:
        require_configuration(current_app)
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None
    config = current_app.config
    expires_at = None
    if expires is not None and preview is None:
        raise click.UsageError("--expires goes with --preview")
    if preview is not None:
        from ..upload.policy import BadDuration, parse_duration
        from ..upload.tokens import utc_now

        if version is not None or metadata.get("hidden"):
            raise click.UsageError("--preview publishes a preview instead of a --version (and previews are always unlisted)")
        try:
            expires_at = (utc_now() + parse_duration(expires or "14d")).isoformat()
        except BadDuration as error:
            raise click.BadParameter(str(error), param_hint="'--expires'") from None
        version = preview
    portal_target = project is not None or version is not None or any(metadata.values())
    if portal_target:
        from ..portal.catalog import is_web_link
        from ..portal.cli import check_publish_target

        if prefix:
            raise click.UsageError("give either --prefix or --project/--version (which publishes to PROJECT/VERSION/), not both")
        if not project or not version:
            raise click.UsageError("--project and --version (or --preview) go together (and the metadata options need them)")
        check_publish_target(project, version, preview=preview is not None)
        if metadata.get("repo") and not is_web_link(metadata["repo"]):
            # The portal links to it: a javascript: or data: URL would run in readers' browsers.
            raise click.BadParameter("must be an http:// or https:// URL", param_hint="'--repo'")
        prefix = f"{project}/{version}/"
    try:
        key_prefix = config["S3_PREFIX"] + normalise_prefix(prefix)
    except BadPrefix as error:
        raise click.BadParameter(str(error), param_hint="'--prefix'") from None
    if delete and not dry_run and not key_prefix and prefix.strip() != "/":
        # One forgotten --prefix must not wipe every other site in a shared bucket.
        raise click.UsageError(
            "--delete without a prefix would delete every object in the bucket that is not in SOURCE_DIR; "
            "give --prefix, or --prefix / if the whole bucket really is this one site"
        )
    options = PublishOptions.from_config(
        config, delete=delete, dry_run=dry_run, jobs=jobs, include_hidden=include_hidden,
        indexers=get_indexers(current_app),
    )
    progress = progress_for_terminal(sys.stderr.isatty())
    try:
        report = publish_tree(publish_client(options), config["S3_BUCKET"], source_dir, key_prefix, options, progress)
    except EmptySource as error:
        raise click.BadParameter(str(error), param_hint="'SOURCE_DIR'") from None
    except PublishError as error:
        raise click.ClickException(str(error)) from None
    if report.dry_run:
        echo_plan(report)
    echo_summary(report)
    if not report.ok:
        echo_failures(report)
        deleted = " nothing was deleted;" if options.delete else ""
        raise click.ClickException(
            f"{len(report.failed) + len(report.held_back)} files were not published;{deleted} "
            "run the same command again to finish"
        )
    if portal_target and not report.dry_run:
        # A separate step after a complete upload: a half-published version is never listed.
        from ..portal.cli import record_publish

        record_publish(project, version, metadata, report, expires_at=expires_at)
    if report.deleted and not report.dry_run:
        echo_suggested_redirects(report)


def publish_client(options):
    """Return an S3 client whose pool holds every connection the publish can open at once.

    Each of ``jobs`` threads may run a multipart upload of ``multipart_concurrency`` parts; a
    smaller pool would make urllib3 discard and reopen connections (and warn) throughout.
    """
    config = current_app.config
    needed = options.jobs * options.multipart_concurrency
    if needed <= config["S3_MAX_POOL_CONNECTIONS"]:
        return get_s3()
    return create_client({**config, "S3_MAX_POOL_CONNECTIONS": needed})


def echo_plan(report):
    """Print each upload and delete a dry run would do."""
    for local in report.plan.uploads:
        click.echo(f"would upload {report.key_prefix}{local.relkey}  ({local.content_type}; {local.cache_control})")
    for relkey in report.plan.deletes:
        click.echo(f"would delete {report.key_prefix}{relkey}")
    for redirect in report.redirects:
        click.echo(f"would redirect {report.key_prefix}{redirect.relkey} -> {redirect.location}")


def echo_summary(report):
    """Print the one-line summary: uploaded, unchanged, deleted, bytes, seconds."""
    destination = f"s3://{report.bucket}/{report.key_prefix}"
    if report.dry_run:
        click.echo(
            f"Dry run for {destination}: {len(report.plan.uploads)} to upload "
            f"({format_bytes(report.plan.upload_bytes)}), {report.unchanged} unchanged, "
            f"{len(report.plan.deletes)} to delete; nothing was changed."
        )
        return
    click.echo(
        f"Published to {destination}: {len(report.uploaded)} uploaded, {report.unchanged} unchanged, "
        f"{len(report.deleted)} deleted, {format_bytes(report.bytes_uploaded)} in {report.seconds:.1f} s."
    )
    if report.redirected:
        click.echo(f"Wrote {len(report.redirected)} redirects from _redirects.")


def echo_suggested_redirects(report):
    """Print ``_redirects`` lines that would keep the links to the pages this publish deleted working."""
    current = [local.relkey for local in report.plan.uploads + report.plan.unchanged]
    lines = suggest_redirects(report.deleted, current)
    if lines:
        click.echo(f"{len(lines)} pages were removed; to keep their links working, add to _redirects:")
        for line in lines:
            click.echo(f"  {line}")


def echo_failures(report):
    """Print the files that were not published, and why."""
    click.echo("Not published:", err=True)
    lines = [f"  {relkey}: {reason}" for relkey, reason in report.failed]
    lines += [f"  {relkey}: held back because an asset failed" for relkey in report.held_back]
    for line in lines[:MAX_LISTED_FAILURES]:
        click.echo(line, err=True)
    if len(lines) > MAX_LISTED_FAILURES:
        click.echo(f"  ... and {len(lines) - MAX_LISTED_FAILURES} more", err=True)
