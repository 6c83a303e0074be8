"""Option and argument types of the ``hfdl models`` commands (Annotated, defined once).

Enumerated values (status, priority) are plain strings checked by the services with the
catalog's rules, as ``hfdl schedule`` does, so that every problem is reported at once (exit
65). The help texts are the commands' reference documentation.
"""

from __future__ import annotations

from typing import Annotated

import typer

NameArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        help="The model's Hub repository id, 'name' or 'org/name', as in the catalog.",
        show_default=False,
    ),
]
NamesArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="NAME",
        help="Models to verify (default: every model with a download recorded).",
        show_default=False,
    ),
]

# -- list filters ----------------------------------------------------------------------------

StatusFilterOption = Annotated[
    str | None,
    typer.Option(
        "--status",
        "-s",
        metavar="pending|downloading|completed|failed",
        help="Only models with this download status.",
        show_default=False,
    ),
]
TagFilterOption = Annotated[
    str | None,
    typer.Option(
        "--tag", "-t", metavar="TAG", help="Only models with this tag.", show_default=False
    ),
]
PriorityFilterOption = Annotated[
    str | None,
    typer.Option(
        "--priority",
        "-p",
        metavar="high|medium|low",
        help="Only models with this priority.",
        show_default=False,
    ),
]
EnabledFilterOption = Annotated[
    bool | None,
    typer.Option(
        "--enabled/--disabled", help="Only enabled (or only disabled) models.", show_default=False
    ),
]
ListJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print a JSON list of objects with the fields name, enabled, status, priority, "
        "tags, revision, commit_sha, bytes_on_disk, size_estimate, last_success_at, "
        "last_checked_at, last_error, attempts, description, allow_patterns, ignore_patterns "
        "(timestamps ISO 8601 UTC; null when unknown).",
    ),
]

# -- show ------------------------------------------------------------------------------------

AttemptsOption = Annotated[
    int,
    typer.Option("--attempts", min=0, metavar="N", help="How many of the latest attempts to show."),
]
ShowJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON object: the fields of 'models list --json', then in_catalog, "
        "removed, catalog_entry, cache_path, files (the database's file records, each with "
        "a state) and attempts (newest first).",
    ),
]

# -- catalog fields (add, update) ------------------------------------------------------------

PriorityOption = Annotated[
    str | None,
    typer.Option(
        "--priority",
        "-p",
        metavar="high|medium|low",
        help="Download priority: runs take high before medium before low (default: medium).",
        show_default=False,
    ),
]
EnabledOption = Annotated[
    bool | None,
    typer.Option(
        "--enabled/--disabled",
        help="Whether runs download the model (a new entry is enabled unless --disabled).",
        show_default=False,
    ),
]
DescriptionOption = Annotated[
    str | None,
    typer.Option(
        "--description", "-d", metavar="TEXT", help="Free text about the model.", show_default=False
    ),
]
RevisionOption = Annotated[
    str | None,
    typer.Option(
        "--revision",
        "-r",
        metavar="REV",
        help="Branch, tag or 40-hex commit sha to download (default: main). A commit pins the "
        "model: it is never checked for updates.",
        show_default=False,
    ),
]
TagsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        metavar="TAG",
        help="A tag (repeatable); schedules and 'models list --tag' select models by tag.",
        show_default=False,
    ),
]
IncludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        metavar="GLOB",
        help="Download only files matching this glob, e.g. '*.safetensors' (repeatable; the "
        "entry's allow_patterns). Default: every file.",
        show_default=False,
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="GLOB",
        help="Skip files matching this glob, e.g. 'onnx/*' (repeatable; the entry's "
        "ignore_patterns).",
        show_default=False,
    ),
]
SizeOption = Annotated[
    str | None,
    typer.Option(
        "--size-estimate",
        metavar="SIZE",
        help="Expected size, e.g. 1.6GB, 440MB or 2GiB (KB/MB/GB are powers of 1000, "
        "KiB/MiB/GiB of 1024); shown until the model is downloaded.",
        show_default=False,
    ),
]
CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Ask the Hub first that the repository and revision exist (and whether it is "
        "gated), and fill in the size estimate (unless --size-estimate is given) with the "
        "size of the files the patterns select.",
    ),
]
UpdateExistingOption = Annotated[
    bool,
    typer.Option(
        "--update",
        help="If the model is already in the catalog, change it with the options given "
        "instead of failing (exit 65).",
    ),
]

# -- update only -----------------------------------------------------------------------------

SetStatusOption = Annotated[
    str | None,
    typer.Option(
        "--status",
        "-s",
        metavar="pending|completed|failed",
        help="Set the download status in the state database (it wins over the file's). "
        "'pending' makes the next run look at a completed model again. Nothing else changes.",
        show_default=False,
    ),
]
SetEnabledOption = Annotated[
    bool | None,
    typer.Option(
        "--enabled/--disabled",
        help="Enable or disable the model: whether runs download it.",
        show_default=False,
    ),
]
ReplaceTagsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        metavar="TAG",
        help="Replace the tags with these (repeatable).",
        show_default=False,
    ),
]
ClearTagsOption = Annotated[bool, typer.Option("--clear-tags", help="Remove every tag.")]
ReplaceIncludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--include",
        metavar="GLOB",
        help="Replace the allow_patterns with these globs (repeatable).",
        show_default=False,
    ),
]
ReplaceExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        metavar="GLOB",
        help="Replace the ignore_patterns with these globs (repeatable).",
        show_default=False,
    ),
]
ClearPatternsOption = Annotated[
    bool,
    typer.Option(
        "--clear-patterns", help="Remove allow_patterns and ignore_patterns: download every file."
    ),
]

# -- remove, verify --------------------------------------------------------------------------

PurgeOption = Annotated[
    bool,
    typer.Option(
        "--purge",
        help="Also delete its downloaded files (refs, snapshots, blobs): the model's own "
        "folder in the cache, and only if hfdl downloaded it. Fails with 75 while a run is "
        "working.",
    ),
]
RemoveJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print a JSON object: name, catalog_path, purged, bytes_freed, cache_path, notes.",
    ),
]
RepairOption = Annotated[
    bool,
    typer.Option(
        "--repair",
        help="Fetch the bad files again (only those, by their recorded commit), verify and "
        "relink them. Fails with 75 while a run is working.",
    ),
]
VerifyJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print a JSON object: ok, models_checked, files_checked, bad_files, "
        "repaired_files, bytes_hashed, bytes_fetched, and models (each with result and the "
        "files that had a problem).",
    ),
]
