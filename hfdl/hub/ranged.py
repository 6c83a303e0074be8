"""Parallel ranged transfers: one large blob fetched as several byte ranges at once.

A CDN caps each connection (issue 11: 16 MiB/s per connection, 50 ms to the first byte), so
one stream cannot fill the link. Here a file of at least ``2 * MIN_PART_BYTES`` is split into
up to ``connections_per_file`` parts; each part GETs ``Range: bytes=a-b`` and writes at its own
offset of the pre-sized ``<etag>.incomplete`` file (``pwrite``), so nothing is held in memory
but one receive buffer per connection.

Resuming: a sidecar ``<etag>.incomplete.parts`` (JSON, replaced atomically) records how far
each part got. It is rewritten every ``SIDECAR_FLUSH_BYTES`` of a part, so a SIGKILL loses at
most that much per part; the bytes past a part's recorded offset are simply fetched again.
The sidecar is written *before* the file is grown to its full size: a file without a sidecar
is always a plain prefix (what the single-stream path writes), never a sparse one.

When: a fresh file starts as one plain stream (:mod:`hfdl.hub.stream`) with a speed probe
(:class:`hfdl.hub.body.SpeedProbe`): its first ``PROBE_BYTES``, timed from the headers on,
arriving at ``FAST_CONNECTION_BYTES_PER_SECOND`` or more mean one connection is enough
(parallel parts would only cost CPU and push the hash to the end), and the stream goes on to
the end with no extra request. A slower stream, from a server that says ``Accept-Ranges:
bytes``, stops there; this module then splits the rest of the file, whose received prefix
counts as done. A file with a sidecar (split by an earlier try) goes on part by part.

Falling back: the first part's request checks the server. A ``200`` to it (the server ignored
``Range``) or a ``206`` without ``Accept-Ranges: bytes`` means one stream: the file is cut
back to the prefix that is known good, the sidecar is deleted, and the caller's single-stream
path takes over (which itself truncates to zero on a ``200``), so bytes are never appended to
a body that started elsewhere.

Politeness: every part takes a slot of its host's :class:`HostLimiter` (``max_connections``
per host, shared by all files of the process). A 429 or 503 on a part halves the host's
allowed connections (down to 1) and retries that part after ``Retry-After`` or a backoff;
each part that completes doubles the allowance back up to the cap.

Verification is unchanged: the whole file is hashed (sha256 or git blob sha1) by a background
hasher that follows the leading run of finished bytes and catches up once every part is done;
the caller checks size and digest before publishing.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx2

from hfdl.hub.body import ProgressCallback
from hfdl.hub.hashing import FileHasher, new_hasher
from hfdl.hub.part_worker import (
    CheckStatus,
    OpenStream,
    Transfer,
    probe,
    worker,
)
from hfdl.hub.parts import (
    SIDECAR_SUFFIX,
    PartTable,
    RangedSettings,
    abandon_parts,
    limiter_for,
)
from hfdl.hub.remote import RemoteFile


@dataclass(frozen=True)
class RangedOutcome:
    """What :func:`fetch_ranged` did.

    ``digest``: the whole file's hex digest, or ``None`` when the caller's single stream is to
    take over (the file is then a plain prefix). ``transferred``: bytes received over the
    network either way (a speed probe's included).
    """

    digest: str | None
    transferred: int


def fetch_ranged(
    *,
    url: str,
    headers: dict[str, str],
    incomplete: Path,
    remote_file: RemoteFile,
    where: str,
    progress: ProgressCallback,
    deadline: float | None,
    timeout: httpx2.Timeout,
    settings: RangedSettings,
    open_stream: OpenStream,
    check_status: CheckStatus,
) -> RangedOutcome:
    """Fetch the missing parts of ``remote_file`` in parallel.

    Returns:
        The digest and the bytes received. The digest is ``None`` when the server will not
        serve ranges or one connection is fast enough: the partial file is then a plain
        prefix again (sidecar gone) for the caller's single stream.

    Raises:
        The errors of ``fetch_blob``; the parts done so far stay recorded for the next try.
    """
    size = remote_file.size
    parts = PartTable.load_or_plan(incomplete, size, settings.connections_per_file)
    parts.save()  # before the file grows: a sized file always has its sidecar
    fd = os.open(incomplete, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        os.ftruncate(fd, size)
        already = parts.done_bytes()
        if already:
            progress(already)
        transfer = Transfer(
            url=url,
            headers=headers,
            parts=parts,
            fd=fd,
            where=where,
            progress=progress,
            deadline=deadline,
            timeout=timeout,
            open_stream=open_stream,
            check_status=check_status,
            limiter=limiter_for(url, settings.max_connections),
            abort=threading.Event(),
            progress_lock=threading.Lock(),
        )
        todo = [i for i, (a, b, d) in enumerate(parts.parts) if d < b - a]
        first = probe(transfer, todo[0]) if todo else None
        if todo and first is None:
            # The server does not serve ranges: the file goes back to a plain prefix that the
            # caller's single stream resumes (and reports again, hence the negative progress).
            progress(-parts.done_bytes())
            os.close(fd)
            fd = -1
            abandon_parts(incomplete)
            return RangedOutcome(None, 0)
        # The hash is sequential: it follows the file's leading run of finished bytes during
        # the transfer (part 0 as it streams, then each next part once its predecessors are
        # done), and catches up on the rest at the end.
        transfer.hashed_prefix = parts.prefix()
        transfer.hasher = FileHasher(incomplete, new_hasher(remote_file), transfer.hashed_prefix)
        try:
            threads = [
                threading.Thread(
                    target=worker,
                    args=(transfer, index, first if n == 0 else None),
                    daemon=True,
                )
                for n, index in enumerate(todo)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if todo:
                parts.save()
            if transfer.error is not None:
                raise transfer.error
            os.fsync(fd)  # durable before the rename publishes it
            digest = transfer.hasher.finish()
        finally:
            transfer.hasher.cancel()  # a no-op after finish()
    finally:
        if fd >= 0:
            os.close(fd)
    Path(f"{incomplete}{SIDECAR_SUFFIX}").unlink(missing_ok=True)
    return RangedOutcome(digest, transfer.transferred)
