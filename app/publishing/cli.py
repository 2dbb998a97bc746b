"""``flask docs publish``: the publish command, with the options of the steps other packages add."""

import copy
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from config import ConfigError

from .. import require_configuration
from ..cli import add_command
from . import get_indexers, get_steps
from .policy import BadPrefix, normalise_prefix, suggest_redirects
from .progress import progress_for_terminal
from .run import EmptySource, PublishError, PublishOptions, counted, format_bytes, publish_tree
from ..s3 import create_client, get_s3

MAX_LISTED_FAILURES = 50


class PublishStep:
    """What ``app.publishing.add_step`` takes: a package's part in ``flask docs publish``.

    ``options`` are click options added to the command; their values reach ``target`` and ``finish``
    as one dict, keyed by parameter name.
    """

    options = ()

    def target(self, values, prefix):
        """Return the folder to publish to (``prefix`` as given, or one the step's options name); raise a
        ``click.ClickException`` to refuse before any upload."""
        return prefix

    def keep(self, values, key_prefix):
        """Return the relative keys below ``key_prefix`` that ``--delete`` must leave alone (none by default)."""
        return ()

    def finish(self, values, report):
        """Run after every file was published (not on a dry run)."""


def init_app(app):
    """Add ``publish`` to ``flask docs``, with the options of the steps registered on ``app``."""
    steps = get_steps(app)
    command = copy.copy(publish_command)
    command.params = list(publish_command.params) + [option for step in steps for option in step.options]
    add_command(app, command)


@click.command("publish")
@click.argument("source_dir", type=click.Path(exists=True, file_okay=False, readable=True))
@click.option("--prefix", default="", help="Folder in the bucket, below S3_PREFIX, such as project/1.0/.")
@click.option("--delete", is_flag=True, help="Delete objects under the prefix that are not in SOURCE_DIR (last, and only if every upload succeeded).")
@click.option("--dry-run", is_flag=True, help="Print what would be uploaded and deleted; change nothing.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Parallel uploads [default: DOCS_PUBLISH_JOBS].")
@click.option("--include-hidden", is_flag=True, help="Also publish files and folders whose names start with '.'.")
@with_appcontext
def publish_command(source_dir, prefix, delete, dry_run, jobs, include_hidden, **step_values):
    """Upload a built docs folder SOURCE_DIR to the bucket: right types and cache headers, changed files only."""
    try:
        require_configuration(current_app)
    except ConfigError as error:
        raise click.ClickException(f"configuration error: {error}") from None
    config = current_app.config
    steps = get_steps(current_app)
    for step in steps:
        prefix = step.target(step_values, prefix)
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
    keep = tuple(relkey for step in steps for relkey in step.keep(step_values, key_prefix)) if delete else ()
    options = PublishOptions.from_config(
        config, delete=delete, dry_run=dry_run, jobs=jobs, include_hidden=include_hidden,
        indexers=get_indexers(current_app), keep=keep,
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
        unpublished = len(report.failed) + len(report.held_back)
        raise click.ClickException(
            f"{counted(unpublished, 'file')} {'was' if unpublished == 1 else 'were'} not published;{deleted} "
            "run the same command again to finish"
        )
    if not report.dry_run:
        # Separate steps after a complete upload: a half-published version is never listed.
        for step in steps:
            step.finish(step_values, report)
        if report.deleted:
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
        click.echo(f"Wrote {counted(len(report.redirected), 'redirect')} from _redirects.")


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
