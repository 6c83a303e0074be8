"""The :class:`Store`: hfdl's state database (SQLite, or PostgreSQL for fleets)."""

from __future__ import annotations

from hfdl.store.files import FilesMixin
from hfdl.store.leases import LeasesMixin
from hfdl.store.models import ModelsMixin
from hfdl.store.recovery import RecoveryMixin
from hfdl.store.schedules import SchedulesMixin
from hfdl.store.sessions import SessionsMixin


class Store(ModelsMixin, FilesMixin, SessionsMixin, RecoveryMixin, SchedulesMixin, LeasesMixin):
    """hfdl's state: models' download state, sessions, attempts, files and schedules.

    ``Store(db_path)`` opens (or creates, mode 0600) the SQLite file, enables WAL, sets the
    busy timeout and foreign keys, and applies pending schema migrations (Alembic,
    :mod:`hfdl.store.migrate`); ``Store(url)`` does the same on a PostgreSQL database
    (``postgresql+psycopg://...``). See :class:`hfdl.store.db.Database` for the errors it
    raises. ``Store(where, host_id=settings.host_id)`` names the host this process writes as
    (default ``socket.gethostname()``): it is recorded on every attempt and every model state
    change. One instance may be shared by several threads. Use it as a context manager, or
    call :meth:`close`.

    The store never holds a Hub token: nothing here takes one.

    Method groups:

    * catalog and model state (:class:`~hfdl.store.models.ModelsMixin`): ``sync_catalog``,
      ``get_model``, ``list_models``, ``set_model_status``, ``set_bytes_on_disk``;
    * file records (:class:`~hfdl.store.files.FilesMixin`): ``record_file``, ``files_for``,
      ``recorded_blob_names``, ``forget_files``;
    * runs (:class:`~hfdl.store.sessions.SessionsMixin`): ``start_session``,
      ``finish_session``, ``start_attempt``, ``update_attempt_progress``, ``finish_attempt``,
      ``get_session``, ``latest_session_for_schedule``, ``attempts_for_model``;
    * heartbeats and recovery (:class:`~hfdl.store.recovery.RecoveryMixin`): ``heartbeat``,
      ``database_now``, ``recover_interrupted``;
    * schedules (:class:`~hfdl.store.schedules.SchedulesMixin`): ``create_schedule``,
      ``list_schedules``, ``get_schedule``, ``update_schedule``, ``activate_only``,
      ``delete_schedule``;
    * blob leases of a shared cache (:class:`~hfdl.store.leases.LeasesMixin`):
      ``acquire_lease``, ``renew_lease``, ``release_lease``, ``get_lease``.

    The reports (``hfdl status``, ``hfdl models list``) read through the lighter
    :class:`hfdl.store.reader.StateReader` instead, which does not import SQLAlchemy.
    """
