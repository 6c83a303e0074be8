"""Talking to the Hub's API through ``huggingface_hub``: resolve revisions, list files.

Errors are mapped by :mod:`hfdl.hub.errormap` (re-exported here). This is the only module
(with ``hfdl.hub.errormap``, ``hfdl.hub.transfer`` and ``hfdl.hub.body``) that imports
``huggingface_hub``; the CLI's fast commands (``status``, ``models list``) never import it, and
neither does a run that has nothing to ask the Hub. The data it returns (``RemoteFile``,
``RemoteRevision``) lives in the import-light ``hfdl.hub.remote``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from huggingface_hub import HfApi, ModelInfo, constants, get_hf_file_metadata
from huggingface_hub.hf_api import RepoSibling
from huggingface_hub.utils import build_hf_headers

from hfdl import __version__
from hfdl.errors import RepoNotFound
from hfdl.hub.errormap import gated_error, parse_retry_after, translate_error
from hfdl.hub.remote import RemoteFile, RemoteRevision
from hfdl.hub.untrusted import MetadataValidator

__all__ = [
    "HubClient",
    "RemoteFile",
    "RemoteRevision",
    "hub_default_endpoint",
    "parse_retry_after",
    "translate_error",
]

LIBRARY_NAME = "hfdl"

# HEAD requests in flight at once when a thin listing makes hfdl ask each file for its size and
# ETag: enough to hide the round trips of a many-file model, few enough not to hammer a mirror.
MAX_CONCURRENT_HEADS = 8


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

    def list_files(
        self, repo_id: str, revision: str, *, wanted: Callable[[str], bool] | None = None
    ) -> RemoteRevision:
        """Resolve ``revision`` and list every file (or every ``wanted`` one) with its metadata.

        One request on a Hub. A server that lists some files by name only (a thin mirror:
        no size, blob id or LFS data) costs one ``HEAD`` per such file in addition, on its
        resolve URL at the listed commit, as ``hf download`` does (see ``docs/mirrors.md``).

        Every value is validated before it is used (see :mod:`hfdl.hub.untrusted`): paths,
        commit, blob ids, sha256s, sizes and ETags.

        Args:
            repo_id: the model.
            revision: a branch, tag or commit.
            wanted: when given, only the files whose path it accepts are returned, so that a
                thin mirror is not asked about files the model's patterns leave out.

        Raises:
            RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound: permanent errors.
            UntrustedMetadata: a value has the wrong form, or neither the listing nor a HEAD
                gives a file's size and ETag (permanent).
            HubUnavailable: the Hub failed or could not be reached (retryable).
        """
        info = self._model_info(repo_id, revision, files_metadata=True)
        check = MetadataValidator(self.endpoint, repo_id)
        commit_sha = check.commit(info.sha)
        # (path, file): the file is None while only the path is known (a thin listing).
        entries: list[tuple[str, RemoteFile | None]] = []
        for sibling in info.siblings or []:
            path = check.path(sibling.rfilename)
            entries.append(
                (path, None if _is_thin(sibling) else _listed_file(check, sibling, path))
            )
        check.unique_paths(path for path, _ in entries)
        if wanted is not None:
            entries = [(path, remote_file) for path, remote_file in entries if wanted(path)]
        thin = [path for path, remote_file in entries if remote_file is None]
        try:
            probed = self._probe_files(repo_id, commit_sha, thin, check)
        except RepoNotFound as error:
            if not info.gated:
                raise
            # A HEAD answer has no body to say why; the listing said the repo is gated.
            raise gated_error(repo_id, self.endpoint, f" ({error.message})") from error
        files = tuple(
            probed[path] if remote_file is None else remote_file for path, remote_file in entries
        )
        return RemoteRevision(
            repo_id=repo_id,
            revision=revision,
            commit_sha=commit_sha,
            files=files,
            gated=bool(info.gated),
            head_requests=len(thin),
        )

    def _probe_files(
        self, repo_id: str, commit_sha: str, paths: list[str], check: MetadataValidator
    ) -> dict[str, RemoteFile]:
        """HEAD each file's resolve URL (bounded concurrency) and build its ``RemoteFile``."""
        if not paths:
            return {}
        with ThreadPoolExecutor(
            max_workers=min(MAX_CONCURRENT_HEADS, len(paths)), thread_name_prefix="hfdl-head"
        ) as pool:
            probed = pool.map(
                lambda path: self._probe_file(repo_id, commit_sha, path, check), paths
            )
            # map() re-raises the first failure in order: the error names that file.
            return {remote_file.path: remote_file for remote_file in probed}

    def _probe_file(
        self, repo_id: str, commit_sha: str, path: str, check: MetadataValidator
    ) -> RemoteFile:
        """Size, ETag and commit of one file from a ``HEAD`` on its resolve URL.

        ``get_hf_file_metadata`` follows the Hub's header rules: ``X-Linked-Etag`` and
        ``X-Linked-Size`` ride on an LFS file's redirect (not followed across origins),
        ``ETag`` and ``Content-Length`` describe a regular file; only relative redirects are
        followed, so no other origin is asked anything here.
        """
        try:
            metadata = get_hf_file_metadata(
                self.file_url(repo_id, commit_sha, path),
                token=self._token if self._token else False,
                timeout=self.request_timeout,
                library_name=LIBRARY_NAME,
                library_version=__version__,
                endpoint=self.endpoint,
            )
        except Exception as error:
            raise translate_error(
                error, repo_id=repo_id, revision=commit_sha, endpoint=self.endpoint, path=path
            ) from error
        check.head_commit(metadata.commit_hash, path, commit_sha)
        etag = check.head_etag(metadata.etag, path)
        size = check.head_size(metadata.size, path)
        if len(etag) == 64:  # sha256: an LFS file; its git blob id is not known (nor needed)
            return RemoteFile(path=path, size=size, blob_id="", sha256=etag)
        return RemoteFile(path=path, size=size, blob_id=etag, sha256=None)

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


def _is_thin(sibling: RepoSibling) -> bool:
    """Whether the listing names ``sibling`` only: no size, no blob id, no LFS data.

    Such a file is asked for its metadata with a HEAD. A sibling described in part (a size
    without a blob id, say) is not thin but inconsistent, and is refused by validation.
    """
    return sibling.size is None and sibling.blob_id is None and sibling.lfs is None


def _listed_file(check: MetadataValidator, sibling: RepoSibling, path: str) -> RemoteFile:
    """Build the ``RemoteFile`` of a sibling the listing describes (validated)."""
    lfs = sibling.lfs
    if lfs is None:
        size = check.size(sibling.size, path)
        return RemoteFile(
            path=path, size=size, blob_id=check.blob_id(sibling.blob_id, path), sha256=None
        )
    size = check.size(lfs.size, path)
    sha256 = check.sha256(lfs.sha256, path)
    # The pointer's blob id is not used to name anything, but must be sane too.
    blob_id = "" if sibling.blob_id is None else check.blob_id(sibling.blob_id, path)
    if sibling.size is not None:
        check.size(sibling.size, path)
    return RemoteFile(path=path, size=size, blob_id=blob_id, sha256=sha256)


def hub_default_endpoint() -> str:
    """Return the endpoint ``huggingface_hub`` would use (honours ``HF_ENDPOINT``)."""
    return str(constants.ENDPOINT)
