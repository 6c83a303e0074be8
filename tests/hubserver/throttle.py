"""A CDN-like throttle for the test server: a per-connection rate cap and a first-byte delay.

``tc netem`` is not available where the tests and benchmarks run, so the server itself plays
the CDN of issue 11: every file body (resolve and CDN answers, full or ranged) waits
``first_byte_delay`` seconds before its headers, then is paced to ``rate`` bytes per second,
each response on its own (a per-connection cap: parallel ranges add up, one stream does not).
``ignore_range`` makes the file endpoints answer every ``Range`` with a full ``200`` and no
``Accept-Ranges`` header, like a server that does not do ranges.

Use::

    hub.throttle = Throttle(rate=16 * MIB, first_byte_delay=0.05)

Only bodies without an injected fault are throttled (a fault's own pacing wins).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .handler import FileSlice, HubRequestHandler


@dataclass
class Throttle:
    """How file bodies are slowed down; see the module docstring.

    Attributes:
        rate: bytes per second of each response body (``None``: unlimited).
        first_byte_delay: seconds before a file response's headers leave.
        ignore_range: answer ``Range`` requests of files with the whole file (``200``), and
            send no ``Accept-Ranges``.
    """

    rate: float | None = None
    first_byte_delay: float = 0.0
    ignore_range: bool = False

    def send(self, handler: HubRequestHandler, head: bytes, body: FileSlice) -> None:
        """Send ``head`` after the delay, then ``body`` paced to ``rate`` (token bucket)."""
        stopping = handler.server.hub.stopping
        if self.first_byte_delay and stopping.wait(self.first_byte_delay):
            handler.close_connection = True
            return
        handler.connection.sendall(head)
        # ~50 sends a second: smooth enough at any rate, cheap at 16 MiB/s.
        step = body.length if self.rate is None else max(16 * 1024, int(self.rate / 50))
        started = time.monotonic()
        with open(body.path, "rb") as file:
            sent = 0
            while sent < body.length:
                n = min(step, body.length - sent)
                handler._write(body, file, sent, n)
                sent += n
                if self.rate is not None and sent < body.length:
                    # Pace against the start, not the last send: no drift from sleep overshoot.
                    ahead = started + sent / self.rate - time.monotonic()
                    if ahead > 0 and stopping.wait(ahead):
                        handler.close_connection = True
                        return
