"""Thin-mirror mode of the fake Hub: answer like a third-party Hub-compatible mirror.

Some mirrors implement only the part of the Hub API that ``hf download`` strictly needs:

* ``model_info`` (``/api/models/{repo}`` and ``.../revision/{rev}``) lists ``siblings`` with
  their ``rfilename`` only: no ``size``, no ``blobId``, no ``lfs``, whatever ``?blobs=true``
  asks for;
* the tree listing (``/api/models/{repo}/tree/{rev}``) is empty (``[]``) or missing (404);
* errors come as HTML pages without ``X-Error-Code``/``X-Error-Message``, and a missing
  repository may be a 401 or 403 even for a client that sent a token.

File URLs (``/{repo}/resolve/{rev}/{file}`` and the CDN) stay honest: ``X-Repo-Commit``,
``ETag``, ``X-Linked-Etag``, ``X-Linked-Size``, ``Content-Length`` and the LFS redirect are what
a client must then rely on. Set :attr:`tests.hubserver.HubServer.thin` to a :class:`ThinMirror`
(the ``hub`` fixture's :meth:`~tests.hubserver.HubServer.reset_faults` turns it off again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .handler import Response, Route

TreeMode = Literal["empty", "missing"]
MissingRepoStatus = Literal[401, 403, 404]

_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>{status}</title></head>"
    "<body><h1>{status}</h1><p>{reason}</p></body></html>"
)


@dataclass(frozen=True)
class ThinMirror:
    """How thin the mirror is.

    Attributes:
        tree: ``"empty"`` answers every tree listing with ``[]``; ``"missing"`` with an HTML 404
            (the endpoint does not exist).
        html_errors: send every error as an HTML page without the Hub's error headers.
        missing_repo_status: the status of "no such repository" (the Hub says 401 without a
            token and 404 with one; some mirrors say 401 or 403 always).
    """

    tree: TreeMode = "empty"
    html_errors: bool = True
    missing_repo_status: MissingRepoStatus | None = None

    def rewrite(self, route: Route, response: Response) -> Response:
        """Turn the honest answer to ``route`` into the thin mirror's answer."""
        from .handler import Response

        if response.status == 200 and route.action == "repo_info":
            return Response(response.status, dict(response.headers), _strip_siblings(response))
        if route.action == "tree" and response.status < 400:
            if self.tree == "missing":
                return self._error(404, "Not Found")
            return Response(200, {"Content-Type": "application/json; charset=utf-8"}, b"[]")
        if response.status < 400:
            return response
        status = response.status
        if self.missing_repo_status is not None and _error_code(response) == "RepoNotFound":
            status = self.missing_repo_status
        if not self.html_errors:
            return Response(status, dict(response.headers), response.body)
        return self._error(status, response.headers.get("X-Error-Message", "Error"))

    @staticmethod
    def _error(status: int, reason: str) -> Response:
        """An error page as a generic web server sends it: HTML, no Hub error headers."""
        from .handler import Response

        page = _HTML_PAGE.format(status=status, reason=reason)
        return Response(status, {"Content-Type": "text/html; charset=utf-8"}, page.encode())


def _error_code(response: Response) -> str | None:
    return response.headers.get("X-Error-Code")


def _strip_siblings(response: Response) -> bytes:
    """The ``model_info`` JSON with each sibling reduced to its ``rfilename``."""
    assert isinstance(response.body, bytes)
    info = json.loads(response.body)
    info["siblings"] = [{"rfilename": sibling["rfilename"]} for sibling in info["siblings"]]
    info.pop("usedStorage", None)  # a mirror that knows no sizes knows no total either
    return json.dumps(info, separators=(",", ":")).encode()
