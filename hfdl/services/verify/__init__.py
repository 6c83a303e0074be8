"""``hfdl models verify``: checking the cache against the records (``check``), repairing what
is bad (``repair``) and the report it returns (``report``)."""
