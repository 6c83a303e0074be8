"""The files recorded for each model's commit: what was downloaded and verified, and when."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select

from hfdl.store.db import Database
from hfdl.store.models import require_model
from hfdl.store.rows import FileRecord
from hfdl.store.tables import files, utc_now

_FILE_RECORD_COLUMNS = [files.c[field] for field in FileRecord.__dataclass_fields__]


class FilesMixin(Database):
    """File records. Mixed into :class:`hfdl.store.Store`."""

    def record_file(
        self,
        model_name: str,
        commit_sha: str,
        path: str,
        size: int,
        etag: str,
        blob_name: str,
        is_lfs: bool,
    ) -> FileRecord:
        """Record that a file was downloaded and verified (now), replacing an older record.

        Args:
            model_name: the model.
            commit_sha: the resolved commit the file belongs to.
            path: the file's path relative to the repository root.
            size: its size in bytes.
            etag: SHA-256 of the content for LFS files, the git blob SHA-1 otherwise.
            blob_name: the blob's file name in the cache's ``blobs/`` directory.
            is_lfs: whether the file is stored in LFS.

        Returns:
            The stored record.

        Raises:
            ModelNotFound: the database has no such model.
        """
        record = FileRecord(
            model_name=model_name,
            commit_sha=commit_sha,
            path=path,
            size=size,
            etag=etag,
            blob_name=blob_name,
            is_lfs=is_lfs,
            verified_at=utc_now(),
        )
        values = {field: getattr(record, field) for field in FileRecord.__dataclass_fields__}
        statement = self._upsert(files).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[files.c.model_name, files.c.commit_sha, files.c.path],
            set_={
                key: statement.excluded[key]
                for key in ("size", "etag", "blob_name", "is_lfs", "verified_at")
            },
        )
        with self._write() as connection:
            require_model(connection, model_name)
            connection.execute(statement)
        return record

    def files_for(self, model_name: str, commit_sha: str) -> list[FileRecord]:
        """Return the files recorded for a model at a commit, sorted by path (may be empty)."""
        query = (
            select(*_FILE_RECORD_COLUMNS)
            .where(files.c.model_name == model_name, files.c.commit_sha == commit_sha)
            .order_by(files.c.path)
        )
        with self._read() as connection:
            return [FileRecord(**row._mapping) for row in connection.execute(query)]

    def recorded_blob_names(self, model_name: str) -> set[str]:
        """The names of every blob recorded for a model, at any commit (may be empty).

        Cleanup deletes a blob nothing links any more only when hfdl recorded it here.
        """
        query = select(files.c.blob_name).where(files.c.model_name == model_name).distinct()
        with self._read() as connection:
            return {str(name) for name in connection.scalars(query)}

    def forget_files(self, model_name: str, commit_sha: str, paths: Collection[str]) -> int:
        """Delete the records of these files of a model's commit; return how many went.

        Cleanup calls this when it unlinks snapshot entries the model's patterns no longer
        select, so that ``verify`` and ``models show`` stop expecting them.
        """
        if not paths:
            return 0
        statement = delete(files).where(
            files.c.model_name == model_name,
            files.c.commit_sha == commit_sha,
            files.c.path.in_(sorted(paths)),
        )
        with self._write() as connection:
            return int(connection.execute(statement).rowcount)
