"""Unit tests of hfdl.engine: the pure decisions of the download pipeline."""
