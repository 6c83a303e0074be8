"""Blob leases: which process downloads a blob into a cache several hosts share.

On NFS and the like, file locks are unreliable, so hosts that share ``download_directory``
(``shared_cache``) coordinate through the state database instead: before fetching a blob a
process takes the blob's lease, a row of ``blob_leases`` keyed by the blob's path in the
cache. The others wait, then find the blob published and link it.

Taking a lease is one short transaction:

1. ``INSERT`` the row (``ON CONFLICT DO NOTHING``): inserted means taken.
2. Else ``SELECT ... FOR UPDATE SKIP LOCKED`` the row: a row another process is claiming at
   this instant is skipped, not waited for (that process wins; this one looks again later).
3. The row is ours if we hold it already, or if it has expired: its holder died (``kill -9``,
   a crashed host) and stopped renewing it. It is then taken over, and the partial file the
   dead holder left is resumed.

Expiry and renewal use the database's clock (:func:`hfdl.store.clock.db_epoch`), never a
host's. SQLite has no row locks (and needs none: its write transaction is exclusive, and
SQLAlchemy leaves ``FOR UPDATE`` out there); the same code serves both backends.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update

from hfdl.store.clock import db_epoch
from hfdl.store.db import Database
from hfdl.store.tables import blob_leases


@dataclass(frozen=True)
class LeaseRow:
    """A blob lease as stored: ``remaining`` is seconds to its expiry (negative: expired)."""

    blob_key: str
    holder: str
    host: str
    session_id: int | None
    remaining: float


class LeasesMixin(Database):
    """Blob leases. Mixed into :class:`hfdl.store.Store`."""

    def acquire_lease(
        self,
        blob_key: str,
        *,
        holder: str,
        host: str,
        session_id: int | None,
        seconds: float,
    ) -> bool:
        """Take the lease of ``blob_key`` for ``seconds``, unless another live holder has it.

        Args:
            blob_key: the blob's identity in the shared cache (see
                :func:`hfdl.engine.coordinate.blob_key`).
            holder: this process, unique across hosts (``<host>/<pid>/<start>``).
            host: this host's id, for reports.
            session_id: the session downloading it, for reports.
            seconds: how long the lease lasts without renewal.

        Returns:
            Whether this process now holds the lease (taken, taken over from an expired
            holder, or already its own).

        Raises:
            StoreError, DatabaseBusy: the database could not be written.
        """
        with self._write("take a blob lease") as connection:
            now = connection.execute(select(db_epoch())).scalar_one()
            insert = (
                self._upsert(blob_leases)
                .values(
                    blob_key=blob_key,
                    holder=holder,
                    host=host,
                    session_id=session_id,
                    acquired_at=now,
                    expires_at=now + seconds,
                )
                .on_conflict_do_nothing(index_elements=[blob_leases.c.blob_key])
                .returning(blob_leases.c.blob_key)
            )
            if connection.execute(insert).first() is not None:
                return True
            row = connection.execute(
                select(blob_leases.c.holder, blob_leases.c.expires_at)
                .where(blob_leases.c.blob_key == blob_key)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return False  # another process is taking it right now, or just released it
            if row.holder != holder and row.expires_at > now:
                return False
            connection.execute(
                update(blob_leases)
                .where(blob_leases.c.blob_key == blob_key)
                .values(
                    holder=holder,
                    host=host,
                    session_id=session_id,
                    acquired_at=now,
                    expires_at=now + seconds,
                )
            )
            return True

    def renew_lease(self, blob_key: str, *, holder: str, seconds: float) -> bool:
        """Push the expiry of our lease ``seconds`` from now.

        Returns:
            ``False`` if the lease is no longer ours (it expired and another took it over):
            the caller must stop writing the blob.
        """
        with self._write("renew a blob lease") as connection:
            renewed = connection.execute(
                update(blob_leases)
                .where(blob_leases.c.blob_key == blob_key, blob_leases.c.holder == holder)
                .values(expires_at=db_epoch() + seconds)
            )
            return bool(renewed.rowcount)

    def release_lease(self, blob_key: str, *, holder: str) -> None:
        """Give the lease of ``blob_key`` back (a no-op if it is not ours any more)."""
        with self._write("release a blob lease") as connection:
            connection.execute(
                delete(blob_leases).where(
                    blob_leases.c.blob_key == blob_key, blob_leases.c.holder == holder
                )
            )

    def get_lease(self, blob_key: str) -> LeaseRow | None:
        """The lease of ``blob_key``, if any (for progress messages and tests)."""
        with self._read() as connection:
            row = connection.execute(
                select(
                    blob_leases.c.blob_key,
                    blob_leases.c.holder,
                    blob_leases.c.host,
                    blob_leases.c.session_id,
                    (blob_leases.c.expires_at - db_epoch()).label("remaining"),
                ).where(blob_leases.c.blob_key == blob_key)
            ).first()
        return None if row is None else LeaseRow(*row)
