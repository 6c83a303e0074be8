"""Talking to the Hub's API through ``huggingface_hub``: resolve revisions, list files, map errors.

This is the only module (with ``hfdl.hub.transfer`` and ``hfdl.hub.body``) that imports
``huggingface_hub``; the CLI's fast commands (``status``, ``models list``) never import it, and
neither does a run that has nothing to ask the Hub. The data it returns (``RemoteFile``,
``RemoteRevision``) lives in the import-light ``hfdl.hub.remote``.
"""

from __future__ import annotations

import email.utils
import time
from urllib.parse import quote

import httpx2
from huggingface_hub import HfApi, ModelInfo, constants
from huggingface_hub import errors as hf_errors
from huggingface_hub.utils import build_hf_headers

from hfdl import __version__
from hfdl.errors import (
    EntryNotFound,
    GatedRepo,
    HfdlError,
    HubError,
    HubUnavailable,
    RepoNotFound,
    RevisionNotFound,
    UntrustedMetadata,
)
from hfdl.hub.remote import RemoteFile, RemoteRevision
from hfdl.hub.untrusted import MetadataValidator, shown

__all__ = [
    "HubClient",
    "RemoteFile",
    "RemoteRevision",
    "hub_default_endpoint",
    "parse_retry_after",
    "translate_error",
]

LIBRARY_NAME = "hfdl"

# The longest Retry-After we honour; a longer one is capped so a run is not parked for hours.
MAX_RETRY_AFTER_SECONDS = 300.0


class HubClient:
    """A small facade over ``HfApi`` bound to one endpoint and (optional) token.

    Args:
        endpoint: the Hub URL, e.g. ``https://huggingface.co``.
        token: an access token or ``None`` for anonymous access. It is only ever put in the
            ``Authorization`` header of requests to the endpoint's origin.
        request_timeout: seconds to wait for an API answer.
    """

    def __init__(self, endpoint: str, token: str | None, request_timeout: float = 30.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._token = token
        self.request_timeout = request_timeout
        self._api = HfApi(
            endpoint=self.endpoint,
            # False, not None: never fall back to a token the library finds on its own, so
            # hfdl uses exactly the token its own lookup (env, credentials, file) chose.
            token=token if token else False,
            library_name=LIBRARY_NAME,
            library_version=__version__,
        )

    def headers(self) -> dict[str, str]:
        """Return the HTTP headers for file requests: user agent with ``hfdl``, and auth."""
        return build_hf_headers(
            token=self._token if self._token else False,
            library_name=LIBRARY_NAME,
            library_version=__version__,
        )

    def file_url(self, repo_id: str, commit_sha: str, path: str) -> str:
        """Return the ``resolve`` URL of ``path`` at ``commit_sha`` (path segments quoted)."""
        return f"{self.endpoint}/{repo_id}/resolve/{commit_sha}/{quote(path, safe='/')}"

    def repo_url(self, repo_id: str) -> str:
        """Return the repository's page on the Hub (where gated terms are accepted)."""
        return f"{self.endpoint}/{repo_id}"

    def resolve(self, repo_id: str, revision: str) -> str:
        """Resolve a branch, tag or commit to a commit sha with one API request.

        Raises:
            RepoNotFound, GatedRepo, RevisionNotFound: permanent errors.
            UntrustedMetadata: the answer's commit is not 40 lowercase hex (permanent).
            HubUnavailable: the Hub failed or could not be reached (retryable).
        """
        info = self._model_info(repo_id, revision, files_metadata=False)
        return MetadataValidator(self.endpoint, repo_id).commit(info.sha)

    def list_files(self, repo_id: str, revision: str) -> RemoteRevision:
        """Resolve ``revision`` and list every file with its size and hashes (one request).

        Every value of the answer is validated before it is used (see
        :mod:`hfdl.hub.untrusted`): paths, commit, blob ids, sha256s and sizes.

        Raises:
            RepoNotFound, GatedRepo, RevisionNotFound: permanent errors.
            UntrustedMetadata: a value of the answer has the wrong form (permanent).
            HubUnavailable: the Hub failed or could not be reached (retryable).
        """
        info = self._model_info(repo_id, revision, files_metadata=True)
        check = MetadataValidator(self.endpoint, repo_id)
        commit_sha = check.commit(info.sha)
        files: list[RemoteFile] = []
        for sibling in info.siblings or []:
            path = check.path(sibling.rfilename)
            lfs = sibling.lfs
            sha256: str | None = None
            if lfs is not None:
                size = check.size(lfs.size, path)
                sha256 = check.sha256(lfs.sha256, path)
                # The pointer's blob id is not used to name anything, but must be sane too.
                blob_id = "" if sibling.blob_id is None else check.blob_id(sibling.blob_id, path)
            else:
                size = check.size(sibling.size, path)
                blob_id = check.blob_id(sibling.blob_id, path)
            if lfs is not None and sibling.size is not None:
                check.size(sibling.size, path)
            files.append(RemoteFile(path=path, size=size, blob_id=blob_id, sha256=sha256))
        check.unique_paths(remote_file.path for remote_file in files)
        return RemoteRevision(
            repo_id=repo_id,
            revision=revision,
            commit_sha=commit_sha,
            files=tuple(files),
            gated=bool(info.gated),
        )

    def _model_info(self, repo_id: str, revision: str, *, files_metadata: bool) -> ModelInfo:
        try:
            return self._api.model_info(
                repo_id,
                revision=revision,
                files_metadata=files_metadata,
                timeout=self.request_timeout,
            )
        except Exception as error:
            raise translate_error(
                error, repo_id=repo_id, revision=revision, endpoint=self.endpoint
            ) from error


def parse_retry_after(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header: delay-seconds or an HTTP date.

    Args:
        value: the header's value, or ``None``.

    Returns:
        Seconds to wait (capped at ``MAX_RETRY_AFTER_SECONDS``, never negative), or ``None``
        when the header is absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    seconds: float
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def translate_error(
    error: BaseException, *, repo_id: str, revision: str, endpoint: str, path: str | None = None
) -> HfdlError:
    """Map a ``huggingface_hub``/``httpx2``/OS error to hfdl's error hierarchy.

    Args:
        error: the exception raised while talking to the Hub.
        repo_id: the repository concerned, for the message.
        revision: the revision asked for, for the message.
        endpoint: the Hub URL, to say where gated terms are accepted.
        path: the file concerned, if any.

    Returns:
        An ``HfdlError`` whose class says whether retrying can help.
    """
    if isinstance(error, HfdlError):
        return error
    where = f"{repo_id}@{revision}" + (f" file {path}" if path else "")
    if isinstance(error, hf_errors.GatedRepoError):
        return GatedRepo(
            f"{repo_id} is a gated repository: access requires accepting its terms",
            hint=f"accept the terms at {endpoint}/{repo_id} with your account, then give hfdl a "
            "token of that account (HF_TOKEN, a systemd credential 'hf_token', or `hf auth login`)",
        )
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        return RepoNotFound(
            f"repository {repo_id} was not found on {endpoint}",
            hint="check the name; if the repository is private, give hfdl a token that can read it",
        )
    if isinstance(error, hf_errors.RevisionNotFoundError):
        return RevisionNotFound(
            f"revision {revision!r} was not found in {repo_id}",
            hint="use an existing branch, tag or commit sha",
        )
    if isinstance(error, hf_errors.RemoteEntryNotFoundError):
        return EntryNotFound(f"{where} is not on the Hub any more")
    if isinstance(error, hf_errors.HfHubHTTPError):
        status = error.response.status_code if error.response is not None else 0
        retry_after = None
        if error.response is not None:
            retry_after = parse_retry_after(error.response.headers.get("Retry-After"))
        if status in (408, 425, 429) or status >= 500:
            return HubUnavailable(
                f"the Hub answered HTTP {status} for {where}", retry_after=retry_after
            )
        if status in (401, 403):
            return RepoNotFound(
                f"access to {where} was refused (HTTP {status})",
                hint="give hfdl a token that can read this repository",
            )
        return HubError(f"the Hub answered HTTP {status} for {where}: {error}")
    if isinstance(error, hf_errors.OfflineModeIsEnabled):
        return HubError(
            f"cannot reach the Hub for {where}: HF_HUB_OFFLINE is set",
            hint="unset HF_HUB_OFFLINE to let hfdl download",
        )
    if isinstance(error, httpx2.TimeoutException):
        return HubUnavailable(f"timed out talking to {endpoint} for {where}")
    if isinstance(error, httpx2.TransportError):
        return HubUnavailable(f"cannot reach {endpoint} for {where}: {error}")
    if isinstance(error, KeyError | TypeError | ValueError):
        # The library could not parse the answer (a field missing or of the wrong type, not
        # JSON at all): the server sent something no Hub sends. Permanent, like bad values.
        return UntrustedMetadata(
            f"{endpoint} sent a malformed answer for {where}: "
            f"{type(error).__name__}: {shown(str(error))}",
            hint="check the endpoint setting: it must be a Hugging Face Hub or a mirror of it",
        )
    return HubError(f"unexpected error for {where}: {type(error).__name__}: {shown(str(error))}")


def hub_default_endpoint() -> str:
    """Return the endpoint ``huggingface_hub`` would use (honours ``HF_ENDPOINT``)."""
    return str(constants.ENDPOINT)
