"""`receive_exact` gathers small reads (TLS hands over 16 KiB records) into large writes."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from hfdl.errors import HubUnavailable, StalledTransfer
from hfdl.hub.body import FILL_BYTES, receive_exact

RECORD = 16 * 1024


def send_in_records(sock: socket.socket, total: int, pause: float = 0.0) -> None:
    """Send ``total`` bytes as 16 KiB writes (a TLS peer's records), then keep the socket."""
    sent = 0
    while sent < total:
        size = min(RECORD, total - sent)
        sock.sendall(bytes([sent // RECORD % 251]) * size)
        sent += size
        if pause:
            time.sleep(pause)


def test_small_reads_are_written_in_chunks_of_at_least_fill_bytes() -> None:
    total = 3 * FILL_BYTES + 12_345
    ours, theirs = socket.socketpair()
    # Pauses make each record arrive on its own, as a TLS socket would hand them over.
    sender = threading.Thread(target=send_in_records, args=(theirs, total, 0.0005))
    sender.start()
    chunks: list[bytes] = []
    try:
        receive_exact(
            ours,
            total,
            lambda view: chunks.append(bytes(view)),
            read_timeout=5.0,
            describe=lambda: "the test body",
        )
    finally:
        sender.join()
        ours.close()
        theirs.close()
    assert sum(len(chunk) for chunk in chunks) == total
    assert all(len(chunk) >= FILL_BYTES for chunk in chunks[:-1])
    expected = b"".join(
        bytes([index % 251]) * min(RECORD, total - index * RECORD)
        for index in range(-(-total // RECORD))
    )
    assert b"".join(chunks) == expected


def test_bytes_received_before_a_close_are_written_then_the_error_raised() -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(b"x" * 1000)
    theirs.close()
    chunks: list[bytes] = []
    with pytest.raises(HubUnavailable, match="closed it before the end"):
        receive_exact(
            ours,
            5000,
            lambda view: chunks.append(bytes(view)),
            read_timeout=5.0,
            describe=lambda: "the test body",
        )
    ours.close()
    assert b"".join(chunks) == b"x" * 1000


def test_silence_is_a_stall() -> None:
    ours, theirs = socket.socketpair()
    theirs.sendall(b"y" * 10)
    with pytest.raises(StalledTransfer, match="the test body stalled"):
        receive_exact(
            ours, 5000, lambda view: None, read_timeout=0.2, describe=lambda: "the test body"
        )
    ours.close()
    theirs.close()
