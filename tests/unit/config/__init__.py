"""Unit tests of hfdl.config: schema, validation, loading, YAML reading and writing, docs."""
