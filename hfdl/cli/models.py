"""``hfdl models ...``: list, show, add, update, remove, verify and validate catalog models.

Commands are thin: parse, call :mod:`hfdl.services.models.manage` or
:mod:`hfdl.services.verify.check`, render (:mod:`hfdl.cli.models_render`). Data goes to
stdout (tables, or JSON with ``--json``), messages to stderr. Only the options that talk to
the Hub (``add --check``, ``update --check``, ``verify --repair``) load ``huggingface_hub``:
``hfdl models list`` must start fast. Option types and their help texts are in
:mod:`hfdl.cli.models_options`.

This module builds the ``models`` group (:data:`models_app`); :mod:`hfdl.cli.app` adds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from hfdl.cli.context import AppContext
from hfdl.cli.models_options import (
    AttemptsOption,
    CheckOption,
    ClearPatternsOption,
    ClearTagsOption,
    DescriptionOption,
    EnabledFilterOption,
    EnabledOption,
    ExcludeOption,
    IncludeOption,
    ListJsonOption,
    NameArgument,
    NamesArgument,
    PriorityFilterOption,
    PriorityOption,
    PurgeOption,
    RemoveJsonOption,
    RepairOption,
    ReplaceExcludeOption,
    ReplaceIncludeOption,
    ReplaceTagsOption,
    RevisionOption,
    SetEnabledOption,
    SetStatusOption,
    ShowJsonOption,
    SizeOption,
    StatusFilterOption,
    TagFilterOption,
    TagsOption,
    UpdateExistingOption,
    VerifyJsonOption,
)
from hfdl.cli.output import print_json, print_message, print_note

if TYPE_CHECKING:
    from hfdl.services.invocation import Settings
    from hfdl.services.models.manage import EditResult

models_app = typer.Typer(
    name="models",
    help="Manage the catalog (models.json): list, show, add, update, remove, verify and "
    "validate models.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _settings(context: typer.Context) -> Settings:
    app_context: AppContext = context.obj
    return app_context.settings()


def _entry(
    *,
    description: str | None = None,
    size_estimate: str | None = None,
    priority: str | None = None,
    tags: Sequence[str] | None = None,
    revision: str | None = None,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The catalog keys given on the command line, in the catalog's key order."""
    values = {
        "description": description,
        "size_estimate": size_estimate,
        "priority": priority,
        "tags": list(tags) if tags else None,
        "revision": revision,
        "allow_patterns": list(include) if include else None,
        "ignore_patterns": list(exclude) if exclude else None,
    }
    return {key: value for key, value in values.items() if value is not None}


# -- list, show, validate --------------------------------------------------------------------


@models_app.command("list")
def list_command(
    context: typer.Context,
    status: StatusFilterOption = None,
    tag: TagFilterOption = None,
    priority: PriorityFilterOption = None,
    enabled: EnabledFilterOption = None,
    json_output: ListJsonOption = False,
) -> None:
    """List the catalog's models with their download state.

    Models are listed in catalog order. Reads models.json and the state database and
    writes nothing. A model no run has seen yet shows the status it will start with. SIZE
    is what the model's cache folder holds (every blob, including files 'hfdl cleanup' has
    yet to remove), or ~estimate when the model is not downloaded.
    """
    from hfdl.cli.models_render import print_summaries, print_summaries_json
    from hfdl.services.models.queries import ModelFilters, list_models

    filters = ModelFilters(status=status, tag=tag, priority=priority, enabled=enabled)
    summaries = list_models(_settings(context), filters)
    if json_output:
        print_summaries_json(summaries)
    else:
        print_summaries(summaries)


@models_app.command("show")
def show_command(
    context: typer.Context,
    name: NameArgument,
    attempts: AttemptsOption = 20,
    json_output: ShowJsonOption = False,
) -> None:
    """Show a model's catalog entry, state, files and attempts.

    Each file recorded for the commit on disk is shown with its size, hash and when it was
    last verified, and whether its blob is in the cache with that size and linked from the
    snapshot (present, missing, wrong-size, not-linked); 'hfdl models verify' re-hashes the
    content. A model removed from the catalog is shown from its history.
    """
    from hfdl.cli.models_render import print_details
    from hfdl.services.models.queries import show_model

    details = show_model(_settings(context), name, attempts=attempts)
    if json_output:
        print_json(details.to_dict())
    else:
        print_details(details)


@models_app.command("validate")
def validate_command(context: typer.Context) -> None:
    """Check models.json against the catalog's rules.

    Every problem is listed with its location. Exit status 0 when valid, 65 when not, 66
    when the file does not exist.
    """
    from hfdl.services.models.queries import validate_catalog

    catalog = validate_catalog(_settings(context))
    print_message(f"{catalog.path} is valid: {len(catalog.models)} model(s)")


# -- add, update, remove ---------------------------------------------------------------------


@models_app.command("add")
def add_command(
    context: typer.Context,
    name: NameArgument,
    description: DescriptionOption = None,
    priority: PriorityOption = None,
    tag: TagsOption = None,
    revision: RevisionOption = None,
    include: IncludeOption = None,
    exclude: ExcludeOption = None,
    size_estimate: SizeOption = None,
    enabled: EnabledOption = None,
    check: CheckOption = False,
    update: UpdateExistingOption = False,
) -> None:
    """Add a model to the catalog and the state database.

    The next 'hfdl run' downloads it. Every value is checked with the catalog's rules before
    anything is written; a model already listed is an error (exit 65) unless --update.
    """
    from hfdl.services.invocation import prepare_hub_access
    from hfdl.services.models.manage import add_model

    settings = _settings(context)
    entry: dict[str, Any] = {"name": name}
    if enabled is not None:
        entry["enabled"] = enabled
    entry |= _entry(
        description=description,
        size_estimate=size_estimate,
        priority=priority,
        tags=tag,
        revision=revision,
        include=include,
        exclude=exclude,
    )
    token = prepare_hub_access(settings) if check else None
    result = add_model(settings, entry, update_existing=update, check=check, token=token)
    _report_edit(result)


@models_app.command("update")
def update_command(
    context: typer.Context,
    name: NameArgument,
    status: SetStatusOption = None,
    priority: PriorityOption = None,
    enabled: SetEnabledOption = None,
    description: DescriptionOption = None,
    revision: RevisionOption = None,
    tag: ReplaceTagsOption = None,
    clear_tags: ClearTagsOption = False,
    include: ReplaceIncludeOption = None,
    exclude: ReplaceExcludeOption = None,
    clear_patterns: ClearPatternsOption = False,
    size_estimate: SizeOption = None,
    check: CheckOption = False,
) -> None:
    """Change a model in the catalog and the state database.

    Only the options given change; other keys keep their values and position. Changing the
    revision or the patterns of a completed model sets it pending, so that the next run
    fetches what is now wanted.
    """
    from hfdl.errors import UsageError
    from hfdl.services.invocation import prepare_hub_access
    from hfdl.services.models.manage import update_model

    if clear_tags and tag:
        raise UsageError("--tag and --clear-tags contradict each other")
    if clear_patterns and (include or exclude):
        raise UsageError("--include/--exclude and --clear-patterns contradict each other")
    settings = _settings(context)
    changes: dict[str, Any] = {}
    if enabled is not None:
        changes["enabled"] = enabled
    changes |= _entry(
        description=description,
        size_estimate=size_estimate,
        priority=priority,
        tags=tag,
        revision=revision,
        include=include,
        exclude=exclude,
    )
    if clear_tags:
        changes["tags"] = None
    if clear_patterns:
        changes |= {"allow_patterns": None, "ignore_patterns": None}
    token = prepare_hub_access(settings) if check else None
    result = update_model(settings, name, changes, status=status, check=check, token=token)
    _report_edit(result)


def _report_edit(result: EditResult) -> None:
    hub = result.hub
    if hub is not None:
        from hfdl.sizes import format_size

        print_message(
            f"{hub.repo_id}@{hub.revision} is commit {hub.commit_sha[:12]} on the Hub:"
            f" {hub.files} of {hub.files_total} file(s) selected, {format_size(hub.bytes)}"
        )
    messages = {
        "added": f"added {result.name} to {result.catalog_path}",
        "updated": f"updated {result.name} in {result.catalog_path}",
        "unchanged": f"{result.name} in {result.catalog_path} already has these values",
    }
    print_message(messages[result.action])
    if result.status is not None:
        print_message(f"status of {result.name} set to {result.status} in the state database")
    for note in result.notes:
        print_note(note)


@models_app.command("remove")
def remove_command(
    context: typer.Context,
    name: NameArgument,
    purge: PurgeOption = False,
    json_output: RemoveJsonOption = False,
) -> None:
    """Remove a model from the catalog (with --purge, its files too).

    Its history stays in the state database. Without --purge its files stay in the cache:
    add it again and nothing is downloaded. With --purge, a folder that huggingface_hub or
    another tool put in the cache is left alone.
    """
    from hfdl.services.models.manage import remove_model
    from hfdl.sizes import format_size

    result = remove_model(_settings(context), name, purge=purge)
    print_message(f"removed {result.name} from {result.catalog_path}")
    if result.purged:
        print_message(
            f"purged {result.cache_path}: freed {format_size(result.bytes_freed)}"
            f" ({result.bytes_freed} bytes)"
        )
    for note in result.notes:
        print_note(note)
    if json_output:
        print_json(result.to_dict())


# -- verify ------------------------------------------------------------------------------------


@models_app.command("verify")
def verify_command(
    context: typer.Context,
    names: NamesArgument = None,
    repair: RepairOption = False,
    json_output: VerifyJsonOption = False,
) -> None:
    """Re-hash downloaded files; --repair fetches bad ones again.

    Each file of a model's downloaded commit is checked against the size and the sha256
    (LFS files) or git blob sha1 recorded when it was downloaded; works offline (only
    --repair talks to the Hub). Reports missing, wrong-size, corrupt and not-linked files.
    Exit status: 0 when every file is good (or was repaired), 65 when bad files remain.
    """
    from hfdl.cli.models_render import print_report
    from hfdl.errors import VerificationFailed
    from hfdl.services.invocation import use_configured_endpoint
    from hfdl.services.verify.check import LogVerifyObserver, verify

    settings = _settings(context)
    if repair:
        use_configured_endpoint(settings)  # the repair reads the token when it needs it
    report = verify(settings, names or None, repair=repair, observer=LogVerifyObserver())
    if json_output:
        print_json(report.to_dict())
    else:
        print_report(report)
    if not report.ok:
        raise VerificationFailed(
            f"{report.bad_files} file(s) failed verification",
            hint="the next 'hfdl run' fetches what could not be repaired"
            if repair
            else "run 'hfdl models verify --repair' to fetch them again",
        )
