"""``hfdl models add --check``: ask the Hub about an entry before it goes into the catalog.

This is the one part of ``hfdl models`` that talks to the Hub; it imports the Hub client
(and so ``huggingface_hub``) when :func:`check_on_hub` is called, never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hfdl.errors import InvalidModelInput, Problem

if TYPE_CHECKING:
    from hfdl.config import Settings


@dataclass(frozen=True)
class HubCheck:
    """What ``models add --check`` learnt from the Hub about a repository and revision.

    ``files``/``bytes`` count the files the entry's patterns select; ``files_total`` every
    file of the revision. ``gated`` repositories need a token of an account that accepted
    their terms before anything can be downloaded.
    """

    repo_id: str
    revision: str
    commit_sha: str
    gated: bool
    files: int
    files_total: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON types."""
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def check_on_hub(settings: Settings, entry: Mapping[str, Any], token: str | None) -> HubCheck:
    """Ask the Hub that an entry's repository and revision exist; size the files it selects.

    One API request (retried on the Hub's temporary failures, as a run would).

    Args:
        settings: endpoint, retry count and timeouts.
        entry: a valid catalog entry (``name``, optional ``revision`` and patterns).
        token: the Hub token, or ``None``.

    Returns:
        The commit, whether the repository is gated, and the selected files' count and size.

    Raises:
        RepoNotFound, RevisionNotFound, GatedRepo, HubUnavailable, HubError: in plain words.
        InvalidModelInput: the patterns select none of the revision's files.
    """
    from hfdl.engine.plan import wanted_files
    from hfdl.engine.retry import RetryPolicy, call_with_retries
    from hfdl.hub.client import HubClient, RemoteRevision

    name = str(entry["name"])
    revision = str(entry.get("revision") or "main")
    client = HubClient(
        settings.endpoint, token, request_timeout=float(settings.stall_timeout_seconds)
    )
    remote = call_with_retries(
        lambda: client.list_files(name, revision), RetryPolicy(max_retries=settings.max_retries)
    )
    assert isinstance(remote, RemoteRevision)
    selected = wanted_files(remote, entry.get("allow_patterns"), entry.get("ignore_patterns"))
    if remote.files and not selected:
        raise InvalidModelInput(
            [
                Problem(
                    "",
                    "allow_patterns/ignore_patterns",
                    f"select none of the {len(remote.files)} files of {name}@{revision}",
                )
            ],
            what=f"invalid model entry {name!r}",
            hint="compare the patterns with the repository's files at"
            f" {settings.endpoint.rstrip('/')}/{name}/tree/{revision}",
        )
    return HubCheck(
        repo_id=name,
        revision=revision,
        commit_sha=remote.commit_sha,
        gated=remote.gated,
        files=len(selected),
        files_total=len(remote.files),
        bytes=sum(remote_file.size for remote_file in selected),
    )


def hub_notes(settings: Settings, hub: HubCheck | None) -> tuple[str, ...]:
    """What the user should know after a check: that a gated repository needs a token."""
    if hub is None or not hub.gated:
        return ()
    return (
        f"{hub.repo_id} is gated: downloads need a token of an account that accepted its"
        f" terms at {settings.endpoint.rstrip('/')}/{hub.repo_id}",
    )
