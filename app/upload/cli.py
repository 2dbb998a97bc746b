"""``flask docs token create|list|revoke`` and ``flask docs gc``."""

from datetime import datetime, timezone

import click
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ..portal import get_index_cache
from ..portal.index import expired_previews, read_index, record_published, remove_version
from ..cli import add_command
from ..publishing.run import describe_error
from ..s3 import get_s3
from .policy import BadDuration, BadOption, parse_actions, parse_duration
from .staging import LOCK_STALE_AFTER, LOCKS_FOLDER, STAGING_FOLDER, delete_prefix
from .tokens import create_token, list_tokens, revoke_token, utc_now

token_cli = AppGroup("token", help="Make, list and revoke upload API tokens.")
# Staged uploads and locks older than this are left by a dead worker: gc removes them.
ABANDONED_AFTER = LOCK_STALE_AFTER


def init_app(app):
    """Add ``token`` and ``gc`` to the ``flask docs`` group."""
    add_command(app, token_cli)
    add_command(app, gc_command)


def _where():
    config = current_app.config
    return get_s3(), config["S3_BUCKET"], config["S3_PREFIX"]


def _s3_error(error, what):
    raise click.ClickException(describe_error(error, current_app.config["S3_BUCKET"], what)) from None


@token_cli.command("create")
@click.option("--project", "projects", multiple=True, required=True, help="Project name or glob (payments*); repeatable.")
@click.option("--actions", required=True, help="Comma-separated: publish, alias, hide, delete, preview.")
@click.option("--expires", required=True, help="How long the token is valid: 90d, 12h, 30m, 60s.")
@click.option("--note", default="", help="What the token is for (shown by token list).")
def token_create(projects, actions, expires, note):
    """Make an upload token; it is printed once, alone on the last line, and only its hash is kept."""
    try:
        parsed_actions = parse_actions(actions)
        lifetime = parse_duration(expires)
    except BadOption as error:
        raise click.BadParameter(str(error), param_hint="'--actions'") from None
    except BadDuration as error:
        raise click.BadParameter(str(error), param_hint="'--expires'") from None
    if any(not glob.strip() or "/" in glob for glob in projects):
        raise click.BadParameter("a project glob is a name or a pattern such as payments*, without '/'", param_hint="'--project'")
    s3, bucket, prefix = _where()
    try:
        record, token = create_token(s3, bucket, prefix, projects, parsed_actions, lifetime, note)
    except (ClientError, BotoCoreError) as error:
        _s3_error(error, "writing the token")
    click.echo(f"Token {record.id}: projects {', '.join(record.projects)}; actions {', '.join(record.actions)}; "
               f"expires {record.expires}.", err=True)
    click.echo("Store it in your CI's secrets now: it is not shown again.", err=True)
    click.echo(token)


@token_cli.command("list")
def token_list():
    """List every token: id, projects, actions, expiry (never the token itself)."""
    s3, bucket, prefix = _where()
    try:
        records = list_tokens(s3, bucket, prefix)
    except (ClientError, BotoCoreError) as error:
        _s3_error(error, "listing the tokens")
    now = utc_now()
    if not records:
        click.echo("No upload tokens: the upload API is off.")
    for record in records:
        state = "expired" if record.is_expired(now) else "valid"
        note = f"  {record.note}" if record.note else ""
        click.echo(f"{record.id}  {','.join(record.projects):24} {','.join(record.actions):32} "
                   f"expires {record.expires} ({state}){note}")


@token_cli.command("revoke")
@click.argument("token_id")
def token_revoke(token_id):
    """Revoke token TOKEN_ID (from token list): its next request gets a 401."""
    s3, bucket, prefix = _where()
    try:
        found = revoke_token(s3, bucket, prefix, token_id)
    except (ClientError, BotoCoreError) as error:
        _s3_error(error, "revoking the token")
    if not found:
        raise click.ClickException(f"no token {token_id!r} (flask docs token list shows them)")
    click.echo(f"Revoked token {token_id}.")


@click.command("gc")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
@click.option("--now", "now_text", default=None, help="Pretend it is this time (ISO 8601), to see what a later run removes.")
def gc_command(dry_run, now_text):
    """Delete expired previews with all their objects, and uploads abandoned by a dead worker; report what was removed."""
    try:
        now = datetime.fromisoformat(now_text) if now_text else utc_now()
    except ValueError:
        raise click.BadParameter(f"{now_text!r} is not an ISO 8601 time such as 2026-12-31T00:00:00+00:00", param_hint="'--now'") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    s3, bucket, prefix = _where()
    try:
        document, _ = read_index(s3, bucket, prefix)
        previews = expired_previews(document or {"projects": {}}, now)
        removed = 0
        for project, name, expires in previews:
            if dry_run:
                click.echo(f"would delete preview {project} {name} (expired {expires or 'unknown'})")
                continue
            try:
                record_published(s3, bucket, prefix, remove_version(project, name, []), project)
            except LookupError:
                pass  # removed by someone else meanwhile: delete what is left of its objects anyway
            count = delete_prefix(s3, bucket, f"{prefix}{project}/{name}/")
            removed += 1
            click.echo(f"deleted preview {project} {name} (expired {expires or 'unknown'}): {count} objects")
        abandoned = collect_abandoned(s3, bucket, prefix, now, dry_run)
    except (ClientError, BotoCoreError) as error:
        _s3_error(error, "collecting garbage")
    finally:
        get_index_cache().invalidate()
    verb = "would remove" if dry_run else "removed"
    click.echo(f"gc: {verb} {len(previews) if dry_run else removed} expired previews and {abandoned} abandoned upload objects.")


def collect_abandoned(s3, bucket, prefix, now, dry_run):
    """Delete staged files, locks and unfinished multipart uploads older than ``ABANDONED_AFTER``; return how many."""
    count = 0
    for folder in (STAGING_FOLDER, LOCKS_FOLDER):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + folder):
            old = [item["Key"] for item in page.get("Contents", ()) if now - item["LastModified"] > ABANDONED_AFTER]
            if old and not dry_run:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in old], "Quiet": True})
            count += len(old)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix + STAGING_FOLDER):
        for upload in page.get("Uploads", ()):
            if now - upload["Initiated"] > ABANDONED_AFTER:
                if not dry_run:
                    s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                count += 1
    return count
