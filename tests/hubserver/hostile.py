"""Hostile-server mode of the fake Hub: make it lie about a repository's metadata.

A :class:`MetadataOverride` is set per repository with
:meth:`tests.hubserver.HubServer.override_metadata`. It can rewrite the JSON answer of
``model_info`` (``/api/models/{repo}/revision/{rev}``: ``sha``, ``siblings`` with ``rfilename``,
``size``, ``blobId``, ``lfs``) and what ``resolve`` answers to HEAD and GET (status and
headers, e.g. a ``Location`` to ``file:///etc/passwd``). Everything else about the repository
is served honestly, so a test can lie about exactly one value.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

InfoRewrite = Callable[[dict[str, Any]], dict[str, Any]]
"""Takes the honest ``model_info`` answer (a deep copy, free to change) and returns the lie."""


@dataclass(frozen=True)
class MetadataOverride:
    """What the server says instead of the truth about one repository.

    Attributes:
        info: rewrites the ``model_info`` answer (``None``: honest).
        resolve_status: answer every ``resolve`` request of the repository with this status
            (and ``resolve_headers``) and an empty body, instead of serving the file.
        resolve_headers: headers added to (or replacing those of) every ``resolve`` answer.
        serve_unknown: answer any file URL that names nothing (an unknown path, repo or
            revision, such as the ``/canary/evil`` a client makes of ``repo/resolve/sha/../..``)
            with 200 and these bytes, as a hostile server would, instead of 404.
    """

    info: InfoRewrite | None = None
    resolve_status: int | None = None
    resolve_headers: Mapping[str, str] = field(default_factory=dict)
    serve_unknown: bytes | None = None

    def rewrite_info(self, honest: dict[str, Any]) -> dict[str, Any]:
        """Return the answer to send for ``model_info``."""
        if self.info is None:
            return honest
        return self.info(copy.deepcopy(honest))
