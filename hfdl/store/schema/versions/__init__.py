"""The revisions of the state database's schema, oldest first (see :mod:`hfdl.store.schema`)."""
