"""Mapping what a Hub server answers when it says no to hfdl's error hierarchy: one table.

The Hub names its errors in an ``X-Error-Code`` header, which ``huggingface_hub`` turns into
exception classes; mirrors and proxies send their own statuses and HTML pages instead. Each
answer goes to the closest meaning (see ``docs/mirrors.md``), so that the user reads "not
found", "gated" or "unavailable" with a hint, never a traceback or a page of HTML. Used by
:mod:`hfdl.hub.client` (metadata) and :mod:`hfdl.hub.transfer` (bodies).
"""

from __future__ import annotations

import email.utils
import ssl
import time

import httpx2
from huggingface_hub import errors as hf_errors

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
from hfdl.hub.untrusted import shown

__all__ = ["MAX_RETRY_AFTER_SECONDS", "gated_error", "parse_retry_after", "translate_error"]

# The longest Retry-After we honour; a longer one is capped so a run is not parked for hours.
MAX_RETRY_AFTER_SECONDS = 300.0


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
        return gated_error(repo_id, endpoint)
    if isinstance(error, hf_errors.HfHubHTTPError) and _says_gated(error):
        # No X-Error-Code (a mirror or proxy), so the library guessed "not found" or nothing;
        # the answer's own words say gated, which is what the user can act on.
        return gated_error(repo_id, endpoint, _status_note(error))
    if isinstance(error, hf_errors.RepositoryNotFoundError):
        return RepoNotFound(
            f"repository {repo_id} was not found on {endpoint}" + _status_note(error),
            hint=_token_hint(error),
        )
    if isinstance(error, hf_errors.RevisionNotFoundError):
        return RevisionNotFound(
            f"revision {revision!r} was not found in {repo_id}",
            hint="use an existing branch, tag or commit sha",
        )
    if isinstance(error, hf_errors.RemoteEntryNotFoundError):
        return EntryNotFound(f"{where} is not on the Hub any more")
    if isinstance(error, hf_errors.HfHubHTTPError):
        return _translate_status(error, repo_id=repo_id, where=where, endpoint=endpoint, path=path)
    if isinstance(error, hf_errors.OfflineModeIsEnabled):
        return HubError(
            f"cannot reach the Hub for {where}: HF_HUB_OFFLINE is set",
            hint="unset HF_HUB_OFFLINE to let hfdl download",
        )
    if isinstance(error, httpx2.TimeoutException):
        return HubUnavailable(f"timed out talking to {endpoint} for {where}")
    if isinstance(error, httpx2.TransportError):
        return transport_error(error, f"cannot reach {endpoint} for {where}")
    if isinstance(error, KeyError | TypeError | ValueError):
        # The library could not parse the answer (a field missing or of the wrong type, not
        # JSON at all): the server sent something no Hub sends. Permanent, like bad values.
        return UntrustedMetadata(
            f"{endpoint} sent a malformed answer for {where}: "
            f"{type(error).__name__}: {shown(str(error))}",
            hint="check the endpoint setting: it must be a Hugging Face Hub or a mirror of it",
        )
    return HubError(f"unexpected error for {where}: {type(error).__name__}: {shown(str(error))}")


def _translate_status(
    error: hf_errors.HfHubHTTPError, *, repo_id: str, where: str, endpoint: str, path: str | None
) -> HfdlError:
    """Map an HTTP error the library could not name (no ``X-Error-Code``) to hfdl's errors.

    Mirrors and proxies answer in their own ways: an HTML error page, 401 or 403 for a
    repository that does not exist, 404 without saying what is missing. Each status goes to the
    closest meaning; the body is never quoted whole (it may be a page of HTML).
    """
    response = error.response
    status = response.status_code if response is not None else 0
    if status in (408, 425, 429) or status >= 500:
        retry_after = None
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return HubUnavailable(
            f"the Hub answered HTTP {status} for {where}", retry_after=retry_after
        )
    if status in (401, 403):
        # The Hub itself says 401 for a missing repository to a client without a token: it
        # will not tell "missing" from "private". Say both, and what a token would change.
        return RepoNotFound(
            f"access to {where} was refused by {endpoint} (HTTP {status}): the repository does "
            "not exist, or is private or gated",
            hint=_token_hint(error),
        )
    if status == 404 and path is not None:
        return EntryNotFound(f"{where} is not on {endpoint} (HTTP 404)")
    if status == 404:
        return RepoNotFound(
            f"repository {where} was not found on {endpoint} (HTTP 404, no reason given: the "
            "repository or the revision does not exist)",
            hint="check the name and the revision; " + _token_hint(error),
        )
    reason = "" if _is_html(error) else f": {shown(str(error))}"
    return HubError(f"the Hub answered HTTP {status} for {where}{reason}")


def gated_error(repo_id: str, endpoint: str, note: str = "") -> GatedRepo:
    """The error for a gated repository, with where its terms are accepted."""
    return GatedRepo(
        f"{repo_id} is a gated repository: access requires accepting its terms{note}",
        hint=f"accept the terms at {endpoint}/{repo_id} with your account, then give hfdl a "
        "token of that account (HF_TOKEN, a systemd credential 'hf_token', or `hf auth login`)",
    )


def _sent_token(error: hf_errors.HfHubHTTPError) -> bool:
    """Whether the refused request carried an ``Authorization`` header."""
    response = error.response
    try:
        return response is not None and "authorization" in response.request.headers
    except RuntimeError:  # a response built without a request
        return False


def _token_hint(error: hf_errors.HfHubHTTPError) -> str:
    """What a token would change, depending on whether one was sent."""
    if _sent_token(error):
        return (
            "check the name; the token hfdl sent was refused or cannot read this repository: "
            "check that it is valid and that its account has access"
        )
    return (
        "check the name; if the repository is private or gated, give hfdl a token that can "
        "read it (HF_TOKEN, a systemd credential 'hf_token', or `hf auth login`)"
    )


def _status_note(error: hf_errors.HfHubHTTPError) -> str:
    """`` (HTTP 401)`` when the Hub said "not found" with another status than 404."""
    response = error.response
    if response is None or response.status_code == 404:
        return ""
    return f" (HTTP {response.status_code})"


def _is_html(error: hf_errors.HfHubHTTPError) -> bool:
    """Whether the error answer is an HTML page (a proxy's or web server's, not the Hub's)."""
    response = error.response
    return response is not None and "html" in response.headers.get("Content-Type", "").lower()


def _says_gated(error: hf_errors.HfHubHTTPError) -> bool:
    """Whether a 401/403 without ``X-Error-Code`` says the repository is gated.

    The Hub's own words ("Access to model ... is restricted", "gated") are looked for in the
    ``X-Error-Message`` header and at the start of the body; nothing else is trusted from it.
    """
    response = error.response
    if response is None or response.status_code not in (401, 403):
        return False
    if response.headers.get("X-Error-Code"):
        return False  # the server named its error: the library's class is the answer
    try:
        body = response.text[:2000]
    except Exception:  # a streamed body that was not read, or undecodable bytes
        body = ""
    text = f"{response.headers.get('X-Error-Message', '')} {body}".lower()
    return "gated" in text or "is restricted" in text


def certificate_refused(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure at the root of a connection error, if any.

    httpx wraps it twice (``ConnectError`` of httpx, then of httpcore), so the cause and
    context chain is walked.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def transport_error(error: BaseException, message: str) -> HubError:
    """What a failed connection means: a temporary outage, unless the server's certificate
    was refused, which no retry fixes.

    Args:
        error: the transport error (httpx's, or one it caused).
        message: what was being done, e.g. ``cannot reach https://hub for org/model``.

    Returns:
        ``HubUnavailable`` (retryable, exit 75 when every failure is one), or a permanent
        ``HubError`` (exit 69) for an untrusted certificate, with a hint to ``SSL_CERT_FILE``.
    """
    refused = certificate_refused(error)
    if refused is not None:
        return HubError(
            f"{message}: the server's TLS certificate is not trusted "
            f"({refused.verify_message or refused.reason})",
            hint="for a private CA, set SSL_CERT_FILE to a bundle holding it (and the public "
            "roots if the server redirects to a public CDN): docs/https.md",
        )
    return HubUnavailable(f"{message}: {error}")
