"""Standalone launcher of the test Hub server (tests/hubserver) for the .deb stage.

Run from the repository root::

    uv run python packaging/stage/hubserver.py STATE_DIR REPO_ID TOKEN

It serves one *private* repository REPO_ID (a small config.json, a README and a 2 MiB
LFS file) readable only with TOKEN, on 127.0.0.1 (random ports), and writes into STATE_DIR:

* ``url``            the Hub origin, e.g. ``http://127.0.0.1:40123`` (once listening);
* ``requests.json``  the request log, rewritten every half second: method, path, status,
                     origin and the Authorization header of every request.

It serves until SIGTERM/SIGINT. Being private, the repository proves that a download
carried the token: without ``Authorization: Bearer TOKEN`` the server answers 401/404.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.hubserver import HubServer


def main() -> int:
    state_dir, repo_id, token = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    state_dir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with HubServer(state_dir / "blobs") as server:
        server.create_repo(
            repo_id,
            {
                "config.json": b'{"model_type": "stage-test", "hidden_size": 8}\n',
                "README.md": b"# hfdl .deb stage test model\n",
                "model.safetensors": 2 << 20,
            },
            private=True,
        )
        server.grant(repo_id, token)
        tmp = state_dir / "url.tmp"
        tmp.write_text(server.url + "\n")
        os.replace(tmp, state_dir / "url")
        while True:
            records = [
                {
                    "origin": r.origin,
                    "method": r.method,
                    "path": r.path,
                    "status": r.status,
                    "authorization": r.headers.get("authorization"),
                    "user_agent": r.headers.get("user-agent"),
                }
                for r in server.requests
            ]
            tmp = state_dir / "requests.json.tmp"
            tmp.write_text(json.dumps(records, indent=1))
            os.replace(tmp, state_dir / "requests.json")
            if stop.wait(0.5):
                return 0


if __name__ == "__main__":
    raise SystemExit(main())
