"""The events of a run, for the CLI that shows them: what an observer receives and implements.

Re-exported from the engine (``X as X`` marks an intended re-export), so that the CLI talks
only to services. These engine modules are light (no Hub client, no SQLAlchemy): the CLI's
progress bars import this module without loading the download code.
"""

from __future__ import annotations

from hfdl.engine.events import LogObserver as LogObserver
from hfdl.engine.events import ModelOutcome as ModelOutcome
from hfdl.engine.events import RunObserver as RunObserver
from hfdl.engine.events import RunResult as RunResult
from hfdl.engine.notify import record_stop_signal as record_stop_signal
from hfdl.engine.notify import wrap_for_systemd as wrap_for_systemd
