"""The portal's ``flask docs`` commands (versions, alias, hide, show, delete, reindex) and publish's portal step."""

import click
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app
from flask.cli import with_appcontext

from .. import publishing
from ..cli import add_command
from ..publishing.cli import PublishStep
from ..publishing.run import counted, describe_error, format_bytes
from ..s3 import get_s3
from . import get_index_cache
from .catalog import BadIndex, catalog_from_index, granted_artifacts, is_web_link
from .index import (
    ERROR_DOCUMENT,
    IndexConflict,
    build_index,
    index_key,
    pin_alias,
    read_index,
    record_preview,
    record_version,
    remove_version,
    save_project_entry,
    set_hidden,
    update_index,
)
from .versions import BadName, check_project_name, check_version_name

DELETE_BATCH = 1000


def init_app(app):
    """Add the portal's commands to the ``flask docs`` group, and its step (``--project``...) to ``publish``."""
    for command in (versions_command, alias_command, hide_command, show_command, delete_command, reindex_command):
        add_command(app, command)
    publishing.add_step(app, PortalStep())


class PortalStep(PublishStep):
    """``publish --project P --version V``: publish to P/V/ after checking the names, then list it in the portal."""

    options = (
        click.Option(["--project"], help="Project name: publishes to PROJECT/VERSION/ and lists it in the portal."),
        click.Option(["--version", "version"], help="Version name, such as 2.4.0 (with --project)."),
        click.Option(["--title"], help="Project title shown in the portal."),
        click.Option(["--description"], help="One-line project description shown in the portal."),
        click.Option(["--owner"], help="Owning team or person."),
        click.Option(["--contact"], help="Where to ask questions (e-mail, chat channel)."),
        click.Option(["--repo"], help="Source repository URL."),
        click.Option(["--tag", "tags"], multiple=True, help="Tag shown in the portal (repeatable)."),
        click.Option(["--commit"], help="Commit the docs were built from."),
        click.Option(["--hidden"], is_flag=True, help="Publish the version hidden: served, but listed nowhere."),
        click.Option(["--hub"], is_flag=True,
                     help="Turn the hub on for the project: version menu, banner and search in its pages."),
        click.Option(["--preview"], help="Publish a preview NAME of --project (e.g. pr-123) instead of a version: "
                                         "unlisted, deleted by `flask docs gc` once expired."),
        click.Option(["--expires"], help="How long a --preview lives: 14d, 12h, 30m, 60s [default: 14d]."),
    )

    def target(self, values, prefix):
        """Return PROJECT/VERSION/ when the portal's options are given (checked first), else ``prefix``."""
        preview_at(values)
        project, version, metadata = self.split(values)
        if project is None and version is None and not any(metadata.values()):
            return prefix
        if prefix:
            raise click.UsageError("give either --prefix or --project/--version (which publishes to PROJECT/VERSION/), not both")
        if not project or not version:
            raise click.UsageError("--project and --version (or --preview) go together (and the metadata options need them)")
        check_publish_target(project, version, preview=values["preview"] is not None)
        if metadata.get("repo") and not is_web_link(metadata["repo"]):
            # The portal links to it: a javascript: or data: URL would run in readers' browsers.
            raise click.BadParameter("must be an http:// or https:// URL", param_hint="'--repo'")
        return f"{project}/{version}/"

    def keep(self, values, key_prefix):
        """Return the files sent straight to S3 for this version (upload API's presigned POSTs): ``--delete`` keeps them."""
        project, version, _ = self.split(values)
        config = current_app.config
        if project is None or version is None:
            # --prefix P/V/: the same version, named by its folder.
            parts = key_prefix.removeprefix(config["S3_PREFIX"]).strip("/").split("/")
            if len(parts) != 2 or not all(parts):
                return ()
            project, version = parts
        try:
            document, _ = read_index(get_s3(), config["S3_BUCKET"], config["S3_PREFIX"])
        except (BotoCoreError, ClientError, BadIndex) as error:
            # Unknown grants would be deleted as files not in SOURCE_DIR: refuse instead.
            raise click.ClickException(f"--delete needs the portal index (to keep files uploaded straight to S3): "
                                       f"{describe_error(error, config['S3_BUCKET'], 'reading the portal index')}; "
                                       "nothing was published") from None
        entry = ((document or {}).get("projects", {}).get(project) or {}).get("versions", {}).get(version) or {}
        return tuple(artifact.path for artifact in granted_artifacts(entry.get("artifacts")))

    def finish(self, values, report):
        """List the published version in the portal index."""
        project, version, metadata = self.split(values)
        if project is not None:
            record_publish(project, version, metadata, report, expires_at=values.get("expires_at"))

    @staticmethod
    def split(values):
        """Return the project, the version (or preview) and the metadata options of a publish's ``values``."""
        metadata = {name: values[name] for name in ("title", "description", "owner", "contact", "repo", "tags",
                                                     "commit", "hidden", "hub")}
        return values["project"], values["preview"] or values["version"], metadata


def preview_at(values):
    """Check ``--preview``/``--expires`` and note when the preview expires in ``values["expires_at"]`` (issue 24)."""
    from ..upload.policy import BadDuration, parse_duration
    from ..upload.tokens import utc_now

    if values["expires"] is not None and values["preview"] is None:
        raise click.UsageError("--expires goes with --preview")
    if values["preview"] is None:
        return
    if values["version"] is not None or values["hidden"]:
        raise click.UsageError("--preview publishes a preview instead of a --version (and previews are always unlisted)")
    try:
        values["expires_at"] = (utc_now() + parse_duration(values["expires"] or "14d")).isoformat()
    except BadDuration as error:
        raise click.BadParameter(str(error), param_hint="'--expires'") from None


def _where():
    config = current_app.config
    return get_s3(), config["S3_BUCKET"], config["S3_PREFIX"]


def _fail(error, what):
    if isinstance(error, (ClientError, BotoCoreError)):
        raise click.ClickException(describe_error(error, current_app.config["S3_BUCKET"], what)) from None
    raise click.ClickException(str(error).strip("'\"")) from None


def _update(change, what, projects=()):
    """Apply ``change`` to the index, then save the entries of ``projects`` beside their versions."""
    s3, bucket, prefix = _where()
    try:
        document = update_index(s3, bucket, prefix, change)
    except (BadName, LookupError, IndexConflict, ClientError, BotoCoreError) as error:
        _fail(error, what)
    get_index_cache().invalidate()
    save_entries(document, projects)
    return document


def save_entries(document, projects):
    """Save the index entries of ``projects`` beside their versions, warning about any S3 refuses."""
    s3, bucket, prefix = _where()
    for project in projects:
        try:
            save_project_entry(s3, bucket, prefix, project, document)
        except (ClientError, BotoCoreError) as error:
            # Only the copy reindex falls back on; the index itself is written.
            click.echo(f"Warning: could not save {project}'s entry beside its versions: "
                       f"{describe_error(error, bucket, 'writing')}", err=True)


def _read():
    s3, bucket, prefix = _where()
    try:
        document, _ = read_index(s3, bucket, prefix)
    except (ClientError, BotoCoreError) as error:
        _fail(error, f"reading {index_key(prefix)}")
    if document is None:
        document = build_index(s3, bucket, prefix)
    return document


def check_publish_target(project, version, preview=False):
    """Refuse (``click.BadParameter``) a project, version or preview that cannot be published, before any upload."""
    try:
        check_project_name(project)
        entry = _read()["projects"].get(project, {})
        check_version_name(version, list(entry.get("versions", {})), entry.get("aliases", {}))
        existing = entry.get("versions", {}).get(version)
        if existing is not None and bool(existing.get("preview")) != preview:
            raise BadName(f"{version!r} is already {'a preview' if existing.get('preview') else 'a published version'} of {project}")
    except BadName as error:
        raise click.BadParameter(str(error), param_hint="'--project'/'--version'") from None


def record_publish(project, version, metadata, report, expires_at=None):
    """List a successfully published ``project``/``version`` (a preview with ``expires_at``) in the portal index; return its entry."""
    files = list(report.plan.uploads) + list(report.plan.unchanged)
    stats = {"size": sum(local.size for local in files), "files": len(files),
             "error_document": ERROR_DOCUMENT if any(local.relkey == ERROR_DOCUMENT for local in files) else ""}
    if expires_at is not None:
        change = record_preview(project, version, expires_at, metadata, stats)
    else:
        change = record_version(project, version, metadata, stats)
    try:
        document = _update(change, "updating the portal index", [project])
    except click.ClickException as error:
        raise click.ClickException(
            f"the files of {project} {version} were published but it is not listed in the portal: {error.message}; "
            "run the same command again (nothing is uploaded twice) or `flask docs reindex`"
        ) from None
    if expires_at is not None:
        click.echo(f"Portal: preview {project} {version} published, unlisted, until {expires_at} (flask docs gc deletes it then).")
        return document["projects"][project]["versions"][version]
    catalog = catalog_from_index(document, "")
    resolution = catalog.by_name[project].resolution
    aliases = ", ".join(f"{name} -> {target}" for name, target in sorted(resolution.aliases.items())) or "none"
    click.echo(f"Portal: {project} {version} listed ({counted(len(resolution.ordered), 'version')}; aliases: {aliases}).")
    return document["projects"][project]["versions"][version]


@click.command("versions")
@with_appcontext
@click.argument("project")
def versions_command(project):
    """List PROJECT's versions newest first, with their aliases and flags."""
    document = _read()
    catalog = catalog_from_index(document, "")
    found = catalog.by_name.get(project)
    if found is None:
        known = ", ".join(sorted(catalog.by_name)) or "none"
        raise click.ClickException(f"no project {project!r} in the portal (known: {known})")
    resolution = found.resolution
    for version in found.versions:
        flags = resolution.aliases_of(version.name)
        notes = [", ".join(flags)] if flags else []
        if version.hidden:
            notes.append("hidden")
        if version.name == resolution.default:
            notes.append("default")
        notes.append(version.kind)
        size = format_bytes(version.size) if version.size is not None else "?"
        click.echo(f"{version.name:24} {version.published or '':26} {size:>10}  {version.commit[:12]:12}  {'; '.join(notes)}")
    for name, target in sorted(found.pins.items()):
        if name not in resolution.aliases:
            click.echo(f"(pin {name} -> {target} is not in effect: its version is hidden or gone)")


@click.command("alias")
@with_appcontext
@click.argument("project")
@click.argument("name")
@click.argument("version", required=False)
@click.option("--unset", is_flag=True, help="Remove the pin NAME instead of setting it.")
def alias_command(project, name, version, unset):
    """Pin alias NAME of PROJECT (e.g. stable, lts, default) to VERSION, or --unset it."""
    if unset == (version is not None):
        raise click.UsageError("give VERSION to pin the alias, or --unset without VERSION to remove it")
    _update(pin_alias(project, name, None if unset else version), "updating the portal index", [project])
    click.echo(f"{project}: alias {name} " + ("unset (computed again)" if unset else f"-> {version}"))


@click.command("hide")
@with_appcontext
@click.argument("project")
@click.argument("version")
def hide_command(project, version):
    """Hide VERSION of PROJECT: still served, but listed nowhere and never an alias target."""
    _update(set_hidden(project, version, True), "updating the portal index", [project])
    click.echo(f"{project} {version} hidden")


@click.command("show")
@with_appcontext
@click.argument("project")
@click.argument("version")
def show_command(project, version):
    """List a hidden VERSION of PROJECT again."""
    _update(set_hidden(project, version, False), "updating the portal index", [project])
    click.echo(f"{project} {version} shown")


@click.command("delete")
@with_appcontext
@click.argument("project")
@click.argument("version")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_command(project, version, yes):
    """Delete VERSION of PROJECT: first from the portal, then every object under PROJECT/VERSION/."""
    try:
        check_project_name(project)
    except BadName as error:
        raise click.BadParameter(str(error), param_hint="PROJECT") from None
    if not version or "/" in version or version[:1] in (".", "_"):
        raise click.BadParameter(f"{version!r} is not a version name", param_hint="VERSION")
    s3, bucket, prefix = _where()
    folder = f"{prefix}{project}/{version}/"
    if not yes:
        click.confirm(f"Delete s3://{bucket}/{folder} and everything in it?", abort=True)
    removed = []
    try:
        _update(remove_version(project, version, removed), "updating the portal index", [project])
    except click.ClickException as error:
        # Not in the index (copied by hand, or an earlier delete stopped half way): delete the objects anyway.
        click.echo(f"Note: {error.message}", err=True)
    if removed:
        click.echo(f"Unpinned {', '.join(removed)} (they pointed at {version})")
    count = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            for start in range(0, len(keys), DELETE_BATCH):
                response = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start:start + DELETE_BATCH], "Quiet": True})
                errors = response.get("Errors", ())
                if errors:
                    raise click.ClickException(
                        f"S3 refused to delete {counted(len(errors), 'object')} (first: {errors[0].get('Key')}: "
                        f"{errors[0].get('Code')}); run the same command again"
                    )
                count += len(keys[start:start + DELETE_BATCH])
    except (ClientError, BotoCoreError) as error:
        _fail(error, f"deleting {folder}")
    click.echo(f"Deleted {project} {version}: removed from the portal, {counted(count, 'object')} deleted")


@click.command("reindex")
@with_appcontext
def reindex_command():
    """Rebuild the portal index from a listing of the bucket, keeping metadata, pins and hidden flags."""
    s3, bucket, prefix = _where()
    index_document = current_app.config["DOCS_INDEX_DOCUMENT"]
    summary = {}

    def change(document):
        rebuilt = build_index(s3, bucket, prefix, previous=document, index_document=index_document)
        before = {(p, v) for p, entry in document["projects"].items() for v in entry["versions"]}
        after = {(p, v) for p, entry in rebuilt["projects"].items() for v in entry["versions"]}
        summary.update(added=sorted(after - before), dropped=sorted(before - after), total=len(after))
        document.clear()
        document.update(rebuilt)

    document = _update(change, "rebuilding the portal index")
    save_entries(document, list(document["projects"]))
    for project, version in summary["added"]:
        click.echo(f"added   {project} {version}")
    for project, version in summary["dropped"]:
        click.echo(f"dropped {project} {version} (no index page under it any more)")
    click.echo(f"Reindexed: {counted(summary['total'], 'version')}; {len(summary['added'])} added, {len(summary['dropped'])} dropped.")
